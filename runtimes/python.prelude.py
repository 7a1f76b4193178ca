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


class __FaasctlUsage(Exception):
    """The caller's mistake, not the function's (a --handler name that is not there): exit 2."""


def __faasctl_main():
    import posix

    posix.environ.pop(b"PYTHONPATH", None)  # the host's way to map the stdlib, not the function's environment
    filename, source, input_text = sys.argv[1], sys.argv[2], sys.argv[3]
    context_text = sys.argv[4] if len(sys.argv) > 4 else "{}"
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

    def record(message, detail=None, kind="FunctionError"):
        if kind == "FunctionError":  # the function's own failure goes to its logs too; a usage error does not
            write_log(message if not detail else detail.rstrip("\n"))
        err.write(to_json({"faasctl": "error", "type": kind, "message": message, "detail": detail}) + "\n")

    scan = _json.make_scanner(Context())
    text = input_text.strip(" \t\r\n")
    value, end = scan(text, 0)
    if end != len(text):
        raise ValueError("trailing data in input")

    context, context_end = scan(context_text, 0)
    call = __faasctl_host_calls(context.get("hostcall_fd"), to_json, scan)
    namespace = {"__name__": "__main__", "__file__": filename, "__builtins__": __builtins__,
                 "inputData": value, "log": log, "call": call, "__faasctl_return__": __FaasctlReturn}
    try:
        code = __faasctl_compile(source, filename)
        returned = False
        try:
            exec(code, namespace)
            result = None
        except __FaasctlReturn as top_level_return:
            returned, result = True, top_level_return.args[0]
        handler = __faasctl_handler(namespace, context.get("handler"), filename, returned)
        if handler is not None:
            result = handler(value, __faasctl_lambda_context(context))
            if type(result).__name__ == "coroutine" and hasattr(result, "send"):  # async def handler
                result = __faasctl_await(result)
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
    except __FaasctlUsage as exc:
        record(str(exc), kind="UsageError")
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


def __faasctl_handler(namespace, name, filename, returned):
    """The Lambda handler to call: the one --handler names, else (for a script with no top-level
    `return`) a top-level `handler` or `lambda_handler`; None for a plain script."""
    if name:
        if name not in namespace:
            names = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("_")
                           and k not in ("log", "call") and getattr(v, "__module__", None) == "__main__")
            listed = ", ".join(names) if names else "none"
            raise __FaasctlUsage(f"{filename} has no handler '{name}' (top-level functions: {listed})")
        if not callable(namespace[name]):
            raise __FaasctlUsage(f"{filename}: handler '{name}' is not a function "
                                 f"(it is {type(namespace[name]).__name__})")
        return namespace[name]
    if returned:
        return None
    for candidate in ("handler", "lambda_handler"):
        if callable(namespace.get(candidate)):
            return namespace[candidate]
    return None


def __faasctl_await(coroutine):
    """Run an async handler to its end. asyncio's own loop wants a socketpair (its self-pipe), which
    WASI lacks, so the loop here has none: timers and awaits work, signals and threads do not."""
    import asyncio

    class Loop(asyncio.SelectorEventLoop):
        def _make_self_pipe(self):
            self._ssock = self._csock = None

        def _close_self_pipe(self):
            pass

        def _write_to_self(self):
            pass

    loop = Loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coroutine)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def __faasctl_lambda_context(ctx):
    """The `context` argument of a handler, shaped as AWS Lambda's Python runtime gives it."""
    import time

    class LambdaContext:
        function_name = ctx.get("function_name") or "function"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:local:000000000000:function:" + function_name
        memory_limit_in_mb = ctx.get("memory_limit_in_mb")
        aws_request_id = ctx.get("aws_request_id")
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "faasctl"
        deadline_ms = ctx.get("deadline_ms") or 0

        def get_remaining_time_in_millis(self):
            return max(0, int(self.deadline_ms - time.time() * 1000))

        def __repr__(self):
            return f"<LambdaContext {self.function_name} {self.aws_request_id}>"

    return LambdaContext()


def __faasctl_host_calls(fd, to_json, scan):
    """`call(plugin, action, payload)`, as Lua has it: the plugin's reply, or an error the guest can
    catch. Self-contained so another runtime can reuse it: only `exchange` knows the transport (here
    the host-call fd: the request line is written to it, the reply read back with pread; see
    faasctl/wasm/hostcall.py for the framing)."""
    import posix

    class HostCallError(Exception):
        pass

    def exchange(request):
        view = memoryview(request)
        while view:
            view = view[posix.write(fd, view):]
        first = posix.pread(fd, 1 << 16, 0)
        newline = first.find(b"\n", 0, 24)
        if newline < 1:
            raise HostCallError("call: no reply from the host")
        end = newline + 1 + int(first[1:newline])
        reply = first
        while len(reply) < end:
            chunk = posix.pread(fd, end - len(reply), len(reply))
            if not chunk:
                raise HostCallError("call: reply cut short")
            reply += chunk
        return reply[:1], reply[newline + 1 : end].decode("ascii")

    def call(plugin, action, payload=None):
        if not isinstance(plugin, str) or not isinstance(action, str):
            raise TypeError("call(plugin, action, payload): plugin and action must be strings")
        if fd is None:
            raise HostCallError("call: host calls are not available in this run")
        status, body = exchange((to_json([plugin, action, payload]) + "\n").encode("utf-8", "surrogatepass"))
        value = scan(body, 0)[0]
        if status != b"0":
            raise HostCallError(value)
        return value

    HostCallError.__module__ = "builtins"
    HostCallError.__qualname__ = HostCallError.__name__ = "CallError"
    return call


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
