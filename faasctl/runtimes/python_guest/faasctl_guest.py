"""faasctl's Python guest, imported once at build time by componentize-py, which snapshots the heap.

Everything this module's top level does (the imports of the pre-imported standard library, the
compiled prelude, stdio wired to host calls) is part of the snapshot, so a run starts from it in about
a millisecond. Every run is a fresh instance of the snapshot: nothing a run does survives it.

``faasctl_guest_data`` is written by the build: the prelude's source and the modules to pre-import.
"""

import _json
import builtins
import gc
import io
import sys
import time

import faasctl_guest_data
import wit_world
from wit_world.imports import host

for _name in faasctl_guest_data.MODULES:
    try:
        __import__(_name)
    except ImportError:  # not in this build: importing it in a run fails with ModuleNotFoundError
        pass

# The shared prelude (python.prelude.py), its definitions made once here: a run calls its main.
PRELUDE = {"__name__": "__faasctl_snapshot__", "__builtins__": builtins}
exec(compile(faasctl_guest_data.PRELUDE, "<faasctl-prelude>", "exec", dont_inherit=True), PRELUDE)
FLUSH_AT = 1 << 16


class _HostText(io.TextIOBase):
    """stdout/stderr: text kept in the guest and handed to the host in chunks (one call per 64 KiB)."""

    def __init__(self, fd: int, name: str, errors: str) -> None:
        self._fd = fd
        self._name = name
        self._errors = errors
        self._parts: list = []
        self._size = 0
        self.buffer = _HostBytes(self)

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return self._errors

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text.isascii():  # a lone surrogate: an error on stdout, escaped on stderr (as CPython does)
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                if self._errors == "strict":
                    raise
                text = text.encode("utf-8", self._errors).decode("utf-8")
        self._parts.append(text)
        self._size += len(text)
        if self._size >= FLUSH_AT:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._size = 0
            host.write(self._fd, text)

    def close(self) -> None:  # the streams of a run cannot be closed by it
        self.flush()


class _HostBytes(io.RawIOBase):
    """``sys.stdout.buffer``: bytes decoded as UTF-8 (invalid bytes replaced), then written as text."""

    def __init__(self, text: _HostText) -> None:
        import codecs

        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._text.write(self._decoder.decode(data))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


def _sleep(seconds) -> None:
    """``time.sleep`` through the host, which bounds it by the run's deadline."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    if seconds:
        host.sleep(int(seconds * 1e9))


class _MissingModule:
    """The last finder: a module this build lacks fails at once, with a message saying why."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        raise ModuleNotFoundError(
            f"No module named {name!r} (not in faasctl's pre-initialised Python build; "
            "--runtime python-full has a fuller standard library)", name=name)


_STDOUT = sys.stdout = sys.__stdout__ = _HostText(1, "<stdout>", "strict")
_STDERR = sys.stderr = sys.__stderr__ = _HostText(2, "<stderr>", "backslashreplace")
time.sleep = _sleep
sys.path[:] = []  # nothing is on disk at run time: every module of the build is already imported
sys.path_importer_cache.clear()
sys.meta_path.append(_MissingModule)

# Everything above is permanent: frozen out of the garbage collector, whose passes over the old
# generation would otherwise touch (and so copy) every page of the snapshot's heap in each run.
gc.collect()
gc.freeze()


class WitWorld(wit_world.WitWorld):
    def run(self, filename: str, source: str, input: str, context: str) -> int:
        import random

        random.seed()  # the snapshot froze the generator's state: every run draws a new seed
        sys.argv = ["python", filename, source, input, context]
        status = 0
        try:
            PRELUDE["__faasctl_main"]()
        except BaseException as exc:  # the prelude itself failed (it reports the function's own failures)
            status = 1
            message = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, MemoryError):
                message = "MemoryError: out of memory"
            try:  # the failure record of the protocol (a JSON line), its traceback as the detail, not a log
                detail = "null"
                if not isinstance(exc, MemoryError):
                    import traceback

                    detail = _json.encode_basestring_ascii("".join(traceback.format_exception(exc)))
                _STDERR.write('{"faasctl": "error", "type": "FunctionError", "message": '
                              + _json.encode_basestring_ascii(message) + ', "detail": ' + detail + "}\n")
            except BaseException:
                pass
        for stream in (_STDOUT, _STDERR):  # the run's own, even if it rebound sys.stdout
            try:
                stream.flush()
            except BaseException:
                status = 1
        return status
