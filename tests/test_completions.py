"""Shell completion: the kept scripts are current, bash really completes, install writes where shells look."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from faasctl.cli.completion_cmd import FILES, current_command, detect_shell, script_for
from faasctl.errors import UsageError

COMPLETIONS = ROOT / "completions"


@pytest.mark.parametrize("shell", sorted(FILES))
def test_kept_scripts_are_current(shell: str) -> None:
    kept = (COMPLETIONS / FILES[shell]).read_text(encoding="utf-8")
    assert kept == script_for(shell), (
        f"completions/{FILES[shell]} is stale: regenerate with `python -m faasctl.cli.completion_cmd completions`")


def bash_complete(*words: str) -> list[str]:
    """COMPREPLY of the generated bash function for the command line ``words`` (last one being typed)."""
    line = " ".join(f"'{w}'" for w in words)
    script = (f"source {COMPLETIONS / FILES['bash']}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
              "_faasctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT / "examples")
    return [line for line in out.stdout.splitlines() if line]


def test_bash_completes_verbs_options_choices_and_files() -> None:
    assert bash_complete("faasctl", "te") == ["test"]
    assert "--junit" in bash_complete("faasctl", "test", "--j")
    assert bash_complete("faasctl", "run", "x.js", "--output-json", "") == ["true", "false", "auto"]
    assert bash_complete("faasctl", "--show-completion", "") == ["bash", "zsh", "fish"]
    assert "hello.js" in bash_complete("faasctl", "run", "hel")
    assert bash_complete("faasctl", "run", "x.js", "--timeout", "") == []


def test_every_verb_and_option_is_in_every_script() -> None:
    root = current_command()
    scripts = {shell: script_for(shell, root) for shell in FILES}
    for command in root.commands:
        for option in command.options:
            for shell, text in scripts.items():
                name = option.strings[-1]
                shown = f"-l {name[2:]}" if shell == "fish" and name.startswith("--") else name
                if shell == "fish" and not name.startswith("--"):
                    shown = f"-s {name[1:]}"
                assert shown in text, f"{shell}: {command.name} {name}"
        assert all(command.name in text for text in scripts.values())


def test_zsh_and_fish_scripts_are_well_formed() -> None:
    zsh = script_for("zsh")
    assert zsh.startswith("#compdef faasctl\n") and zsh.rstrip().endswith('_faasctl "$@"')
    for line in zsh.splitlines():
        if line.strip().startswith("'"):
            assert line.count("'") % 2 == 0, line  # no quote left open
    fish = script_for("fish")
    for line in fish.splitlines()[1:]:
        assert line.startswith("complete -c faasctl"), line
        assert line.replace("\\'", "").count("'") % 2 == 0, line


def test_completion_verb_and_show_flag() -> None:
    shown = run_cli("completion", "fish")
    assert shown.code == 0 and shown.stdout == script_for("fish")
    flag = run_cli("--show-completion", "bash")
    assert flag.code == 0 and "complete -o bashdefault -o default -F _faasctl faasctl" in flag.stdout
    auto = run_cli("completion", env={"SHELL": "/usr/bin/zsh"})
    assert auto.stdout.startswith("#compdef faasctl")
    unknown = run_cli("--show-completion", "tcsh")
    assert unknown.code == 2 and "unsupported shell 'tcsh'" in unknown.stderr


def test_detect_shell() -> None:
    assert detect_shell(None, {"SHELL": "/bin/bash"}) == "bash"
    assert detect_shell("fish", {}) == "fish"
    with pytest.raises(UsageError, match="cannot tell your shell"):
        detect_shell("auto", {"SHELL": "/bin/sh"})
    with pytest.raises(UsageError) as info:
        detect_shell("zhs", {})
    assert info.value.hint == "did you mean zsh?"


def test_install_completion_writes_where_each_shell_looks(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": "", "ZDOTDIR": ""}
    for shell in ("bash", "zsh", "fish"):
        result = run_cli("--install-completion", shell, env=env)
        assert result.code == 0, result.stderr
    assert (tmp_path / ".local/share/bash-completion/completions/faasctl").read_text() == script_for("bash")
    assert (tmp_path / ".zfunc/_faasctl").read_text() == script_for("zsh")
    assert (tmp_path / ".config/fish/completions/faasctl.fish").read_text() == script_for("fish")
    zshrc = (tmp_path / ".zshrc").read_text()
    assert "fpath+=(~/.zfunc)" in zshrc
    run_cli("--install-completion", "zsh", env=env)
    assert (tmp_path / ".zshrc").read_text() == zshrc  # installing twice adds nothing
    auto = run_cli("--install-completion", env={**env, "SHELL": "/bin/bash"})
    assert auto.code == 0 and "wrote" in auto.stderr
