"""Shell completion for bash, zsh and fish, generated from the argparse parser itself.

Generating from ``build_parser()`` means a new verb or option is completed without anyone editing a
script. The generated scripts are also kept in ``completions/`` for packagers; a test checks they are
current (regenerate with ``python -m faasctl.cli.completion_cmd completions``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from faasctl.errors import UsageError

SHELLS = ("bash", "zsh", "fish")
FILES = {"bash": "faasctl.bash", "zsh": "_faasctl", "fish": "faasctl.fish"}
HEADER = "generated from faasctl's argument parser by `faasctl completion {shell}`; do not edit"

EXAMPLES = """examples:
  faasctl completion bash > ~/.local/share/bash-completion/completions/faasctl
  faasctl completion zsh > ~/.zfunc/_faasctl
  faasctl --install-completion           # the shell named by $SHELL"""


# -- what the parser offers -----------------------------------------------------------------------------


@dataclass
class Option:
    strings: list[str]
    help: str
    takes_value: bool
    choices: list[str] | None = None
    kind: str = ""  # "file", "dir" or "" (a free value)
    repeat: bool = False
    optional_value: bool = False  # nargs="?": the value may be left out


@dataclass
class Positional:
    name: str
    help: str
    many: bool
    choices: list[str] | None = None


@dataclass
class Command:
    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    positionals: list[Positional] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


def _text(value: object) -> str:
    text = "" if value in (None, argparse.SUPPRESS) else str(value)
    return " ".join(text.split())


def _kind(action: argparse.Action) -> str:
    metavar = str(action.metavar or action.dest).upper()
    if "DIR" in metavar:
        return "dir"
    if any(word in metavar for word in ("FILE", "PATH", "HOST")):
        return "file"
    return ""


def describe(parser: argparse.ArgumentParser, name: str = "faasctl", help: str = "") -> Command:
    """A plain description of ``parser``: its options, positionals and subcommands."""
    command = Command(name, help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: _text(a.help) for a in action._choices_actions}
            for verb, sub in action.choices.items():
                command.commands.append(describe(sub, verb, helps.get(verb, "")))
        elif action.option_strings:
            choices = [str(c) for c in action.choices] if action.choices else None
            if choices is None and action.metavar == "SHELL":
                choices = list(SHELLS)
            command.options.append(Option(
                strings=list(action.option_strings), help=_text(action.help), takes_value=action.nargs != 0,
                choices=choices, kind=_kind(action) if action.nargs != 0 else "",
                repeat=isinstance(action, argparse._AppendAction), optional_value=action.nargs == "?"))
        else:
            choices = [str(c) for c in action.choices] if action.choices else None
            command.positionals.append(Positional(action.dest, _text(action.help),
                                                  action.nargs in ("*", "+", argparse.REMAINDER), choices))
    return command


def positional_choices(command: Command) -> list[str] | None:
    """Words to offer for a verb's positionals: its sub-verbs (``cache list``) or a positional's choices."""
    if command.commands:
        return [c.name for c in command.commands]
    return next((p.choices for p in command.positionals if p.choices), None)


def current_command() -> Command:
    from faasctl.cli.main import build_parser

    return describe(build_parser())


# -- bash -----------------------------------------------------------------------------------------------


def bash_script(root: Command) -> str:
    verbs = [c.name for c in root.commands]
    out = [f"# bash completion for faasctl: {HEADER.format(shell='bash')}", "_faasctl() {",
           '    local cur prev cmd i opts', '    cur="${COMP_WORDS[COMP_CWORD]}"',
           '    prev="${COMP_WORDS[COMP_CWORD-1]}"', '    cmd=""', '    for ((i=1; i<COMP_CWORD; i++)); do',
           '        case "${COMP_WORDS[i]}" in',
           f'            {"|".join(verbs) or "__none__"}) cmd="${{COMP_WORDS[i]}}"; break ;;',
           '        esac', '    done', '    case "$cmd" in']
    for command in [*root.commands, root]:
        label = command.name if command is not root else '""'
        out.append(f"        {label})")
        words = [s for o in command.options for s in o.strings]
        out.append(f'            opts="{" ".join(words)}"')
        cases = _bash_value_cases(command)
        if cases:
            out.append('            case "$prev" in')
            out.extend(f"                {line}" for line in cases)
            out.append("            esac")
        out.append('            if [[ "$cur" == -* ]]; then')
        out.append('                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0')
        out.append("            fi")
        if command is root:
            out.append(f'            COMPREPLY=($(compgen -W "{" ".join(verbs)}" -- "$cur")); return 0')
        else:
            choices = positional_choices(command)
            if choices:
                out.append(f'            COMPREPLY=($(compgen -W "{" ".join(choices)}" -- "$cur")); return 0')
            elif command.positionals:
                out.append('            COMPREPLY=($(compgen -f -- "$cur")); return 0')
            else:
                out.append("            COMPREPLY=(); return 0")
        out.append("            ;;")
    out += ["    esac", "}", "complete -o bashdefault -o default -F _faasctl faasctl", ""]
    return "\n".join(out)


def _bash_value_cases(command: Command) -> list[str]:
    lines = []
    for option in command.options:
        if not option.takes_value:
            continue
        pattern = "|".join(option.strings)
        if option.choices:
            action = f'COMPREPLY=($(compgen -W "{" ".join(option.choices)}" -- "$cur"))'
        elif option.kind == "dir":
            action = 'COMPREPLY=($(compgen -d -- "$cur"))'
        elif option.kind == "file":
            action = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            action = "COMPREPLY=()"
        lines.append(f"{pattern}) {action}; return 0 ;;")
    return lines


# -- zsh ------------------------------------------------------------------------------------------------


def _zsh_desc(text: str) -> str:
    return re.sub(r"[\[\]'`$\\:]", "", text)


def _zsh_option_specs(command: Command) -> list[str]:
    specs = []
    for option in command.options:
        desc = _zsh_desc(option.help)
        names = option.strings
        exclusive = f"({' '.join(names)})" if len(names) > 1 and not option.repeat else ""
        prefix = "*" if option.repeat else ""
        value = ""
        if option.takes_value:
            if option.choices:
                value = f":{_zsh_desc(names[-1].lstrip('-'))}:({' '.join(option.choices)})"
            elif option.kind == "dir":
                value = ":directory:_files -/"
            elif option.kind == "file":
                value = ":file:_files"
            else:
                value = ":value: "
            if option.optional_value:
                value = ":" + value
        for name in names:
            specs.append(f"'{exclusive}{prefix}{name}[{desc}]{value}'")
    return specs


def zsh_script(root: Command) -> str:
    out = ["#compdef faasctl", f"# zsh completion for faasctl: {HEADER.format(shell='zsh')}", "",
           "_faasctl() {", "    local curcontext=\"$curcontext\" state line", "    typeset -A opt_args",
           "    _arguments -C \\"]
    out.extend(f"        {spec} \\" for spec in _zsh_option_specs(root))
    out += ["        '1: :->command' \\", "        '*:: :->args'", "    case $state in", "        command)",
            "            local -a commands", "            commands=("]
    out.extend(f"                '{c.name}:{_zsh_desc(c.help)}'" for c in root.commands)
    out += ["            )", "            _describe -t commands 'faasctl command' commands", "            ;;",
            "        args)", "            case $line[1] in"]
    for command in root.commands:
        specs = _zsh_option_specs(command)
        if command.commands:
            specs.append(f"':{command.name} action:({' '.join(c.name for c in command.commands)})'")
        for positional in command.positionals:
            action = f"({' '.join(positional.choices)})" if positional.choices else "_files"
            specs.append(f"'{'*' if positional.many else ''}:{_zsh_desc(positional.name)}:{action}'")
        out.append(f"                {command.name})")
        out.append("                    _arguments \\")
        out.extend(f"                        {spec} \\" for spec in specs[:-1])
        out.append(f"                        {specs[-1]}" if specs else "                        ''")
        out.append("                    ;;")
    out += ["            esac", "            ;;", "    esac", "}", "", '_faasctl "$@"', ""]
    return "\n".join(out)


# -- fish -----------------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(option: Option, condition: str) -> str:
    parts = [f"complete -c faasctl -n {_fish_quote(condition)}"]
    for name in option.strings:
        if name.startswith("--"):
            parts.append(f"-l {name[2:]}")
        else:
            parts.append(f"-s {name[1:]}")
    if option.takes_value:
        if option.choices:
            parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
        elif option.kind in ("file", "dir"):
            parts.append("-r -F")
        else:
            parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def fish_script(root: Command) -> str:
    verbs = " ".join(c.name for c in root.commands)
    top = f"not __fish_seen_subcommand_from {verbs}"
    out = [f"# fish completion for faasctl: {HEADER.format(shell='fish')}", "complete -c faasctl -f"]
    out.extend(_fish_option(o, top) for o in root.options)
    for command in root.commands:
        out.append(f"complete -c faasctl -n {_fish_quote(top)} -a {command.name} -d {_fish_quote(command.help)}")
    for command in root.commands:
        condition = f"__fish_seen_subcommand_from {command.name}"
        out.extend(_fish_option(o, condition) for o in command.options)
        choices = positional_choices(command)
        if choices:
            out.append(f"complete -c faasctl -n {_fish_quote(condition)} -a {_fish_quote(' '.join(choices))}")
        elif command.positionals:
            out.append(f"complete -c faasctl -n {_fish_quote(condition)} -F")
    return "\n".join(out) + "\n"


GENERATORS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def script_for(shell: str, root: Command | None = None) -> str:
    return GENERATORS[shell](root or current_command())


# -- choosing a shell, installing -----------------------------------------------------------------------


def detect_shell(name: str | None, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """``bash``/``zsh``/``fish``; ``auto`` or None reads ``$SHELL``."""
    env = os.environ if environ is None else environ
    if name in (None, "auto"):
        name = Path(env.get("SHELL", "")).name
        if name not in SHELLS:
            raise UsageError(f"cannot tell your shell from SHELL={env.get('SHELL', '')!r}",
                             hint="name it: bash, zsh or fish")
    if name not in SHELLS:
        import difflib

        close = difflib.get_close_matches(name, SHELLS, n=1)
        raise UsageError(f"unsupported shell {name!r}",
                         hint=f"did you mean {close[0]}?" if close else "use bash, zsh or fish")
    return name


ZSHRC_LINES = "fpath+=(~/.zfunc)\nautoload -Uz compinit && compinit\n"


def install(shell: str, environ: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """Write the script where the shell loads completions from; returns what was done, line by line."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    script = script_for(shell)
    done = []
    if shell == "bash":
        target = Path(env.get("XDG_DATA_HOME") or home / ".local/share") / "bash-completion/completions/faasctl"
    elif shell == "zsh":
        target = Path(env.get("ZDOTDIR") or home) / ".zfunc/_faasctl"
    else:
        target = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "fish/completions/faasctl.fish"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script, encoding="utf-8")
        done.append(f"wrote {target}")
        if shell == "zsh":
            rc = Path(env.get("ZDOTDIR") or home) / ".zshrc"
            current = rc.read_text(encoding="utf-8") if rc.exists() else ""
            if ".zfunc" not in current:
                with rc.open("a", encoding="utf-8") as handle:
                    handle.write(("\n" if current and not current.endswith("\n") else "") + ZSHRC_LINES)
                done.append(f"added ~/.zfunc to fpath in {rc}")
    except OSError as exc:
        raise UsageError(f"cannot install {shell} completion: {exc.strerror}: {exc.filename}") from None
    done.append("open a new shell to use it")
    return done


# -- command line ---------------------------------------------------------------------------------------


def handle_flags(args: argparse.Namespace) -> int:
    """``faasctl --install-completion [SHELL]`` / ``--show-completion [SHELL]``."""
    if args.show_completion:
        sys.stdout.write(script_for(detect_shell(args.show_completion)))
        return 0
    shell = detect_shell(args.install_completion)
    for line in install(shell):
        sys.stderr.write(f"faasctl: {line}\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("completion", help="print the shell completion script", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Print the completion script for bash, zsh or fish (default: the "
                                        "shell named by $SHELL). faasctl --install-completion installs it.")
    parser.add_argument("shell", nargs="?", choices=[*SHELLS, "auto"], default="auto", help="bash, zsh or fish")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    sys.stdout.write(script_for(detect_shell(args.shell)))
    return 0


def write_all(directory: Path) -> list[Path]:
    """Regenerate the scripts kept in the repository's ``completions/``."""
    root = current_command()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = directory / name
        path.write_text(script_for(shell, root), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(written_path)
