# faasctl Python prelude, run as `python -I -S -c <this> FILENAME SOURCE INPUT` inside CPython-on-WASI.
# Protocol with the host: stdout is the output; each stderr line is a JSON string (one log entry) or a
# JSON object {"faasctl": "error", ...} saying how the run failed.
# Start-up matters (the stdlib is a zip read through a virtual FS: `import json` costs ~90 ms because
# it pulls in `re`), so this uses builtins only: the `_json` C scanner and encoder instead of `json`,
# `compile(..., PyCF_ONLY_AST)` instead of `ast`, and `traceback` only when something failed.
import _json
import sys


class __FaasctlReturn(BaseException):
    """Raised in place of a top-level `return`; BaseException so `except Exception` cannot catch it."""


def __faasctl_main():
    import posix

    posix.environ.pop(b"PYTHONPATH", None)  # the host's way to map the stdlib, not the function's environment
    filename, source, input_text = sys.argv[1], sys.argv[2], sys.argv[3]
    err = sys.stderr
    encode_str = _json.encode_basestring

    def reject_constant(name):
        raise ValueError(name + " is not JSON")

    class Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = staticmethod(reject_constant)
        memo = {}

    def fail_default(value):
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

    encoder = _json.make_encoder(None, fail_default, encode_str, None, ": ", ", ", False, False, False)

    def to_json(value):
        return "".join(encoder(value, 0))

    def write_log(text):
        err.write(encode_str(text) + "\n")

    def log(*args, sep=" ", end="\n", **_ignored):
        text = ("" if sep is None else sep).join(map(str, args)) + ("\n" if end is None else end)
        write_log(text[:-1] if text.endswith("\n") else text)

    def record(message, detail=None):
        write_log(message if not detail else detail.rstrip("\n"))
        err.write(to_json({"faasctl": "error", "type": "FunctionError", "message": message, "detail": detail}) + "\n")

    scan = _json.make_scanner(Context())
    text = input_text.strip(" \t\r\n")
    value, end = scan(text, 0)
    if end != len(text):
        raise ValueError("trailing data in input")

    namespace = {"__name__": "__main__", "__file__": filename, "__builtins__": __builtins__,
                 "inputData": value, "log": log, "__faasctl_return__": __FaasctlReturn}
    try:
        code = __faasctl_compile(source, filename)
        try:
            exec(code, namespace)
            result = None
        except __FaasctlReturn as returned:
            result = returned.args[0]
        if result is not None:
            sys.stdout.write(result if isinstance(result, str) else to_json(result))
        sys.stdout.flush()
    except SystemExit as exc:
        sys.stdout.flush()
        code = exc.code
        if code is None or code == 0:
            return
        if not isinstance(code, int):
            log(str(code))
            code = 1
        record(f"exited with code {code}")
    except MemoryError:
        record("MemoryError: out of memory")
    except BaseException as exc:  # everything the function did wrong becomes the failure record
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        import linecache
        import traceback

        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip().split("\n")[-1]
        if isinstance(exc, SyntaxError):
            message = f"{type(exc).__name__}: {exc.msg} ({filename}, line {exc.lineno})"
        detail = "".join(traceback.format_exception(type(exc), exc, tb))
        record(message, detail)


def __faasctl_compile(source, filename):
    """Compile the script as a module; a top-level `return` becomes `raise __faasctl_return__(value)`.

    The text is never re-indented: a script indented as a whole is parsed inside `if True:` and its
    line numbers moved back by one, so triple-quoted strings keep their exact content.
    """
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        if exc.msg not in ("'return' outside function", "unexpected indent"):
            raise
        original = exc
    import _ast

    try:
        tree = compile(source, filename, "exec", _ast.PyCF_ONLY_AST, dont_inherit=True)
        shift = 0
    except SyntaxError:
        try:
            tree = compile("if True:\n" + source, filename, "exec", _ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError:
            raise original from None
        tree.body = tree.body[0].body
        shift = -1
    __faasctl_rewrite(_ast, tree, shift)
    return compile(tree, filename, "exec", dont_inherit=True)


def __faasctl_rewrite(_ast, node, shift):
    """Replace top-level Return statements (not inside def/class) and shift line numbers."""
    if shift:
        stack = [node]
        while stack:
            item = stack.pop()
            for attr in ("lineno", "end_lineno"):
                if getattr(item, attr, None) is not None:
                    setattr(item, attr, getattr(item, attr) + shift)
            for field in item._fields:
                value = getattr(item, field, None)
                if isinstance(value, list):
                    stack.extend(v for v in value if isinstance(v, _ast.AST))
                elif isinstance(value, _ast.AST):
                    stack.append(value)
    skip = (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)
    stack = [node]
    while stack:
        item = stack.pop()
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            statements = getattr(item, field, None)
            if not isinstance(statements, list):
                continue
            for index, statement in enumerate(statements):
                if isinstance(statement, _ast.Return):
                    statements[index] = __faasctl_raise(_ast, statement)
                elif isinstance(statement, _ast.AST) and not isinstance(statement, skip):
                    stack.append(statement)


def __faasctl_raise(_ast, ret):
    where = {"lineno": ret.lineno, "col_offset": ret.col_offset,
             "end_lineno": ret.end_lineno, "end_col_offset": ret.end_col_offset}
    value = ret.value if ret.value is not None else _ast.Constant(value=None, **where)
    call = _ast.Call(func=_ast.Name(id="__faasctl_return__", ctx=_ast.Load(), **where),
                     args=[value], keywords=[], **where)
    return _ast.Raise(exc=call, cause=None, **where)


if __name__ != "__faasctl_snapshot__":  # the Python component defines all this once, in its snapshot
    __faasctl_main()
