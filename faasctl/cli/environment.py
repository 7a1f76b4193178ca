"""The terminal a command runs in, as one value handed to every CLI edge (httpie's ``Environment``).

Verbs read input from ``env.stdin`` and write to ``env.stdout``/``env.stderr``, and ask ``env`` whether
a stream is a terminal or may be coloured, instead of reaching for ``sys.std*`` and ``isatty()``. The
process builds one from the real streams (``Environment.from_process``); a test builds one over
in-memory buffers (``Environment.for_test``) and calls ``faasctl.cli.main.main(argv, env)`` in process.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError):  # a closed stream
        return False


class Environment:
    """Streams and what is known about them. ``stdin`` is binary (scripts and input are bytes);
    ``stdout`` and ``stderr`` are text. A process started with stdout closed (``>&-``) gets a sink that
    keeps nothing, and ``stdout_closed`` set, so a verb whose output matters can refuse to run for nothing.
    (A plain class: a dataclass costs a few ms of start-up on every command.)"""

    def __init__(self, stdin: IO[bytes] | None, stdout: IO[str] | None, stderr: IO[str], *,
                 stdin_isatty: bool = False, stdout_isatty: bool = False, stderr_isatty: bool = False,
                 no_color: bool = False, environ: Mapping[str, str] | None = None, cwd: str = ".",
                 columns: int | None = None) -> None:
        self.stdin = stdin
        self.stdout_closed = stdout is None
        self.stdout: IO[str] = io.StringIO() if stdout is None else stdout
        self.stderr = stderr
        self.stdin_isatty = stdin_isatty
        self.stdout_isatty = stdout_isatty
        self.stderr_isatty = stderr_isatty
        self.no_color = no_color  # NO_COLOR set (https://no-color.org)
        self.environ: Mapping[str, str] = {} if environ is None else environ
        self.cwd = cwd
        self.columns = columns  # None: ask the terminal when a width is needed

    def __repr__(self) -> str:
        ttys = [name for name in ("stdin", "stdout", "stderr") if getattr(self, f"{name}_isatty")]
        return f"Environment(ttys={ttys}, no_color={self.no_color}, cwd={self.cwd!r})"

    @classmethod
    def from_process(cls) -> Environment:
        stdin = getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None
        return cls(stdin=stdin, stdout=sys.stdout, stderr=sys.stderr or io.StringIO(),
                   stdin_isatty=_isatty(sys.stdin), stdout_isatty=_isatty(sys.stdout),
                   stderr_isatty=_isatty(sys.stderr), no_color=bool(os.environ.get("NO_COLOR")),
                   environ=os.environ, cwd=os.getcwd())

    @classmethod
    def for_test(cls, stdin: bytes | None = None, *, tty: bool = False, environ: Mapping[str, str] | None = None,
                 cwd: str | None = None, columns: int = 80) -> Environment:
        """In-memory streams: ``stdin`` None means a terminal with nothing piped (as when run by hand)."""
        return cls(stdin=io.BytesIO(stdin or b""), stdout=io.StringIO(), stderr=io.StringIO(),
                   stdin_isatty=stdin is None, stdout_isatty=tty, stderr_isatty=tty,
                   environ=dict(os.environ if environ is None else environ), cwd=cwd or os.getcwd(),
                   columns=columns)

    @property
    def stdout_color(self) -> bool:
        return self.stdout_isatty and not self.no_color

    @property
    def stderr_color(self) -> bool:
        return self.stderr_isatty and not self.no_color

    @property
    def width(self) -> int:
        """Columns of the terminal (COLUMNS, then the tty, then 80)."""
        if self.columns is not None:
            return self.columns
        try:
            return int(self.environ.get("COLUMNS", ""))
        except ValueError:
            pass
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return 80

    def read_stdin(self, read: Callable[[IO[bytes]], bytes] | None = None, *,
                   terminal_too: bool = False) -> bytes | None:
        """Everything piped to standard input, through ``read`` (a capped reader) when given; None when it
        is closed, or a terminal (unless ``terminal_too``: ``-i -`` reads what is typed, up to Ctrl-D)."""
        if self.stdin is None or (self.stdin_isatty and not terminal_too):
            return None
        try:
            return read(self.stdin) if read is not None else self.stdin.read()
        except (OSError, ValueError):  # unreadable or closed
            return None

    def error_line(self, message: str) -> None:
        """faasctl's one-line error, red on a colour terminal."""
        prefix = "\033[31mfaasctl: error:\033[0m" if self.stderr_color else "faasctl: error:"
        self.stderr.write(f"{prefix} {message}\n")

    def console(self, stderr: bool = False) -> Any:
        """A rich console on stdout (or stderr) that knows this environment's terminal and colour."""
        from rich.console import Console

        tty = self.stderr_isatty if stderr else self.stdout_isatty
        return Console(file=self.stderr if stderr else self.stdout, force_terminal=tty, no_color=self.no_color,
                       width=self.width if tty or self.columns else None)
