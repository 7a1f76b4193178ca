"""Shell completion for bash, zsh and fish: typer's scripts, which ask ``faasctl`` itself for the words.

Each script is a few lines that run ``_FAASCTL_COMPLETE=complete_<shell> faasctl`` with the words typed so
far; the typer app answers (``faasctl.cli.main._complete``), so a new verb or option is completed the moment
it is declared. The scripts are kept in ``completions/`` for packagers; a test checks they are current
(regenerate with ``python -m faasctl.cli.completion_cmd completions``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from faasctl.cli.main import COMPLETE_VAR
from faasctl.cli.options import Command, choice, namespace, verb_app
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

SHELLS = ("bash", "zsh", "fish")
FILES = {"bash": "faasctl.bash", "zsh": "_faasctl", "fish": "faasctl.fish"}
PROG = "faasctl"

EXAMPLES = """examples:
  faasctl completion bash > ~/.local/share/bash-completion/completions/faasctl
  faasctl completion zsh > ~/.zfunc/_faasctl
  faasctl --install-completion           # the shell named by $SHELL"""

app = verb_app()


@app.command("completion", cls=Command, epilog=EXAMPLES, short_help="print the shell completion script",
             help="Print the completion script for bash, zsh or fish (default: the shell named by $SHELL). "
                  "faasctl --install-completion installs it.")
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(click_type=choice(*SHELLS, "auto"), help="bash, zsh or fish")] = "auto",
) -> int:
    args = namespace(locals())
    return install_or_show(args.shell, show=True, env=ctx.obj)


def script_for(shell: str) -> str:
    """The completion script typer generates for ``faasctl`` in ``shell``."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def detect_shell(name: str | None, environ: Mapping[str, str]) -> str:
    """``bash``/``zsh``/``fish``; ``auto`` or None reads ``$SHELL``."""
    if name in (None, "auto"):
        name = Path(environ.get("SHELL", "")).name
        if name not in SHELLS:
            raise UsageError(f"cannot tell your shell from SHELL={environ.get('SHELL', '')!r}",
                             hint="name it: bash, zsh or fish")
    if name not in SHELLS:
        import difflib

        close = difflib.get_close_matches(name, SHELLS, n=1)
        raise UsageError(f"unsupported shell {name!r}",
                         hint=f"did you mean {close[0]}?" if close else "use bash, zsh or fish")
    return name


ZSHRC_LINES = "fpath+=(~/.zfunc)\nautoload -Uz compinit && compinit\n"


def install(shell: str, environ: Mapping[str, str]) -> list[str]:
    """Write the script where the shell loads completions from by itself (bash-completion's user
    directory, a zsh fpath directory, fish's completions directory); returns what was done, line by line."""
    home = Path(environ.get("HOME") or Path.home())
    script = script_for(shell)
    done = []
    if shell == "bash":
        target = Path(environ.get("XDG_DATA_HOME") or home / ".local/share") / "bash-completion/completions/faasctl"
    elif shell == "zsh":
        target = Path(environ.get("ZDOTDIR") or home) / ".zfunc/_faasctl"
    else:
        target = Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "fish/completions/faasctl.fish"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script, encoding="utf-8")
        done.append(f"wrote {target}")
        if shell == "zsh":
            rc = Path(environ.get("ZDOTDIR") or home) / ".zshrc"
            current = rc.read_text(encoding="utf-8") if rc.exists() else ""
            if ".zfunc" not in current:
                with rc.open("a", encoding="utf-8") as handle:
                    handle.write(("\n" if current and not current.endswith("\n") else "") + ZSHRC_LINES)
                done.append(f"added ~/.zfunc to fpath in {rc}")
    except OSError as exc:
        raise UsageError(f"cannot install {shell} completion: {exc.strerror}: {exc.filename}") from None
    done.append("open a new shell to use it")
    return done


def install_or_show(shell: str, *, show: bool, env: Environment) -> int:
    """``faasctl completion [SHELL]``, ``--show-completion [SHELL]`` and ``--install-completion [SHELL]``."""
    name = detect_shell(shell, env.environ)
    if show:
        env.stdout.write(script_for(name))
        return 0
    for line in install(name, env.environ):
        env.stderr.write(f"faasctl: {line}\n")
    return 0


def write_all(directory: Path) -> list[Path]:
    """Regenerate the scripts kept in the repository's ``completions/``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = directory / name
        path.write_text(script_for(shell), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(written_path)
