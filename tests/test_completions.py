"""Shell completion: the kept scripts are typer's current ones, the app really answers bash, zsh and fish,
install writes where shells look."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from faasctl.cli.completion_cmd import FILES, detect_shell, script_for
from faasctl.errors import UsageError

COMPLETIONS = ROOT / "completions"
BIN = str(Path(sys.executable).parent)


@pytest.mark.parametrize("shell", sorted(FILES))
def test_kept_scripts_are_what_the_app_generates(shell: str) -> None:
    kept = (COMPLETIONS / FILES[shell]).read_text(encoding="utf-8")
    assert kept == script_for(shell), (
        f"completions/{FILES[shell]} is stale: regenerate with `python -m faasctl.cli.completion_cmd completions`")
    assert "_FAASCTL_COMPLETE=complete_" + shell in kept


def bash_complete(*words: str) -> list[str]:
    """COMPREPLY of the kept bash script for the command line ``words`` (last one being typed): the script
    runs the installed faasctl, which answers from the typer app."""
    line = " ".join(f"'{w}'" for w in words)
    script = (f"source {COMPLETIONS / FILES['bash']}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
              "_faasctl_completion faasctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT / "examples", env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    return [line for line in out.stdout.splitlines() if line]


def test_bash_completes_verbs_options_choices_and_files() -> None:
    assert bash_complete("faasctl", "te") == ["test"]
    assert "--junit" in bash_complete("faasctl", "test", "--j")
    assert bash_complete("faasctl", "run", "x.js", "--output-json", "") == ["true", "false", "auto"]
    assert bash_complete("faasctl", "--show-completion", "") == ["bash", "zsh", "fish"]
    assert "hello.js" in bash_complete("faasctl", "run", "hel")
    assert bash_complete("faasctl", "run", "x.js", "--timeout", "") == []
    assert bash_complete("faasctl", "cache", "") == ["ls", "prune"]
    assert "--timeout" in bash_complete("faasctl", "bench", "x.js", "--ti")


def complete(shell: str, line: str) -> str:
    """What faasctl answers the zsh or fish script for the command line ``line``."""
    env = {"_FAASCTL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": line}
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = run_cli(env=env, cwd=ROOT / "examples")
    assert result.code == 0, result.stderr
    return result.stdout


def test_zsh_and_fish_get_options_with_their_help() -> None:
    assert '"--timeout":"wall-clock limit of one run (default 30s)"' in complete("zsh", "faasctl run x.js --ti")
    assert "--timeout\twall-clock limit of one run (default 30s)" in complete("fish", "faasctl run x.js --ti")
    fish_verbs = complete("fish", "faasctl ")
    for verb in ("run", "serve", "test", "bench", "completion"):
        assert f"{verb}\t" in fish_verbs


def test_completion_verb_and_show_flag() -> None:
    shown = run_cli("completion", "fish")
    assert shown.code == 0 and shown.stdout == script_for("fish")
    flag = run_cli("--show-completion", "bash")
    assert flag.code == 0 and flag.stdout == script_for("bash")
    auto = run_cli("completion", env={"SHELL": "/usr/bin/zsh"})
    assert auto.stdout.startswith("#compdef faasctl")
    unknown = run_cli("--show-completion", "tcsh")
    assert unknown.code == 2 and unknown.stderr == "faasctl: error: unsupported shell 'tcsh' (use bash, zsh or fish)\n"
    assert run_cli("completion", "tcsh").code == 2


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
