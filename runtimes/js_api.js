// faasctl JavaScript guest API, shared by script and module mode. Evaluated as an ES module.
// Protocol with the host: stdout is the output; each stderr line is a JSON string (one log entry)
// or a JSON object {"faasctl": "error", ...} reporting how the run failed.
// scriptArgs: source (empty in module mode, where the module is inline), input JSON, file name,
// "start:count", the lines of the inline module within <cmdline> (0:0 in script mode), and the run's
// context as JSON (Lambda context fields, the --handler name, the host-call descriptor).
// The host renames these built-in modules at random for every run, here and in QuickJS itself, so
// guest code cannot import them (see interpreter.HiddenModules).
import * as __std from "qjs:std";
import * as __os from "qjs:os";
const [__source, __input, __filename, __span, __contextJson] = scriptArgs;
const [__spanStart, __spanCount] = __span.split(":").map(Number);
const __out = __std.out, __err = __std.err, __eval = __std.evalScript, __fdopen = __std.fdopen, __osRead = __os.read;
const __ctx = JSON.parse(__contextJson || "{}");
const __setTimeout = __os.setTimeout, __clearTimeout = __os.clearTimeout;
for (const name of ["std", "os", "bjson", "scriptArgs"]) delete globalThis[name];

const __show = (v) => {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${__fixStack(v.stack)}`.trimEnd() : String(v);
  if (typeof v === "object" && v !== null) {
    try { const s = JSON.stringify(v); if (s !== undefined) return s; } catch (e) { /* cyclic: fall through */ }
  }
  return String(v);
};
const __log = (...args) => { __err.puts(JSON.stringify(args.map(__show).join(" ")) + "\n"); };
const __print = (...args) => { __out.puts(args.map(__show).join(" ")); };
const __console = { log: __log, info: __log, warn: __log, error: __log, debug: __log, trace: __log };
Object.assign(globalThis, {
  console: __console, log: __log, print: __print,
  setTimeout: (fn, ms, ...a) => __setTimeout(() => fn(...a), ms), clearTimeout: __clearTimeout,
});

const __emit = (v) => {
  if (v === undefined || v === null) return;
  if (typeof v === "string") { __out.puts(v); return; }
  if (typeof v === "object") { const s = JSON.stringify(v); if (s !== undefined) __out.puts(s); return; }
  __out.puts(String(v));
};
// Stack frames name the user's file and lines; frames of this prelude are dropped.
const __fixStack = (stack) => String(stack).split("\n").flatMap((line) => {
  if (line.includes("<evalScript>")) return [line.replaceAll("<evalScript>", __filename)];
  const m = line.match(/<cmdline>:(\d+)/);
  if (!m) return [line];
  const n = Number(m[1]) - __spanStart + 1;
  return n >= 1 && n <= __spanCount ? [line.replace(m[0], `${__filename}:${n}`)] : [];
}).join("\n").trimEnd();
// A bad --handler name or a module with no handler: the caller's mistake (exit 2), not the function's.
class __UsageFailure extends Error {}
const __fail = (e) => {
  let message, detail = null;
  if (e instanceof __UsageFailure) {
    __err.puts(JSON.stringify({ faasctl: "error", type: "UsageError", message: e.message, detail }) + "\n");
    return;
  }
  if (e instanceof Error) {
    message = `${e.name}: ${e.message}`;
    detail = e.stack ? __fixStack(e.stack) || null : null;
  } else {
    message = "Uncaught " + __show(e);
  }
  __log(detail ? `${message}\n${detail}` : message);
  __err.puts(JSON.stringify({ faasctl: "error", type: "FunctionError", message, detail }) + "\n");
};


// Host calls: call(plugin, action, payload). The request is one JSON line written to the host-call fd;
// the reply, read back from it, is "0" (ok) or "1" (error), the body's length, "\n", then the body:
// ASCII JSON (the result, or the error message as a JSON string), so no UTF-8 decoder is needed.
let __hcOut = null;
const __hcChunk = new Uint8Array(65536);
const __ascii = (bytes, start, end) => {
  let text = "";
  for (let i = start; i < end; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(i + 8192, end)));
  }
  return text;
};
const __call = (plugin, action, payload) => {
  if (typeof plugin !== "string" || typeof action !== "string") {
    throw new TypeError("call(plugin, action, payload): plugin and action must be strings");
  }
  const request = JSON.stringify([plugin, action, payload === undefined ? null : payload]);
  if (__hcOut === null) {
    __hcOut = __fdopen(__ctx.hostcall_fd, "w");
    if (!__hcOut) throw new Error("call: host calls are not available in this run");
  }
  __hcOut.puts(request + "\n");
  __hcOut.flush();
  const got = __osRead(__ctx.hostcall_fd, __hcChunk.buffer, 0, __hcChunk.length);
  const newline = got > 0 ? __hcChunk.subarray(0, Math.min(got, 24)).indexOf(10) : -1;
  if (newline < 1) throw new Error("call: no reply from the host");
  const length = Number(__ascii(__hcChunk, 1, newline));
  let body;
  if (newline + 1 + length <= got) {
    body = __ascii(__hcChunk, newline + 1, newline + 1 + length);
  } else {
    const rest = new Uint8Array(newline + 1 + length - got);
    if (__osRead(__ctx.hostcall_fd, rest.buffer, 0, rest.length) !== rest.length) {
      throw new Error("call: reply cut short");
    }
    body = __ascii(__hcChunk, newline + 1, got) + __ascii(rest, 0, rest.length);
  }
  const value = JSON.parse(body);
  if (__hcChunk[0] === 48) return value;  // "0"
  throw new Error(String(value));
};

// require: built-in modules only; aws-sdk is served by host calls (lambda, s3).
const __awsRequest = (run) => ({
  promise: () => new Promise((resolve) => resolve(run())),
  send: (cb) => { let value; try { value = run(); } catch (e) { cb(e); return; } cb(null, value); },
});
const __awsMethod = (run) => function (params, cb) {
  const request = __awsRequest(() => run(params || {}));
  if (typeof cb === "function") { request.send(cb); return undefined; }
  return request;
};
const __awsError = (e, code) => Object.assign(e instanceof Error ? e : new Error(String(e)), { code });
class __Lambda {
  constructor(options) { this.config = options || {}; }
}
__Lambda.prototype.invoke = __awsMethod((params) => {
  let reply;
  try { reply = __call("lambda", "invoke", params); } catch (e) { throw __awsError(e, "ResourceNotFoundException"); }
  return reply;
});
class __S3 {
  constructor(options) { this.config = options || {}; }
}
__S3.prototype.getObject = __awsMethod((params) => {
  try { return __call("s3", "get", params); } catch (e) { throw __awsError(e, "NoSuchKey"); }
});
__S3.prototype.putObject = __awsMethod((params) => {
  const body = params.Body;
  const text = typeof body === "string" ? body : body === undefined ? "" : String(body);
  return __call("s3", "put", { ...params, Body: text });
});
Object.defineProperty(__Lambda, "name", { value: "Lambda" });
Object.defineProperty(__S3, "name", { value: "S3" });
const __awsSdk = Object.freeze({
  Lambda: __Lambda, S3: __S3, config: { update() {}, region: "local" },
});
const __require = (name) => {
  if (name === "aws-sdk") return __awsSdk;
  throw new Error(`Cannot find module '${name}': faasctl offers only built-in modules (aws-sdk)`);
};

// Lambda handlers: handler(event, context[, callback]), its awaited value (or callback's) the result.
const __lambdaContext = (resolve, reject) => {
  const name = __ctx.function_name || "function";
  return {
    functionName: name, functionVersion: "$LATEST", awsRequestId: __ctx.aws_request_id,
    memoryLimitInMB: String(__ctx.memory_limit_in_mb),
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    logGroupName: `/aws/lambda/${name}`, logStreamName: "faasctl", callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.round(__ctx.deadline_ms - Date.now())),
    succeed: (value) => resolve(value), fail: (err) => reject(err),
    done: (err, value) => (err != null ? reject(err) : resolve(value)),
  };
};
const __invoke = (fn, event) => new Promise((resolve, reject) => {
  const value = fn(event, __lambdaContext(resolve, reject), (err, v) => (err != null ? reject(err) : resolve(v)));
  if (value !== null && typeof value === "object" && typeof value.then === "function") value.then(resolve, reject);
  else if (fn.length < 3) resolve(value);
});
const __exportNames = (exported) => {
  const names = exported !== null && typeof exported === "object" ? Object.keys(exported) : [];
  return names.length ? `exports: ${names.join(", ")}` : "it exports nothing";
};
// The function --handler names; an unknown or non-function name is the caller's mistake.
const __named = (exported, name) => {
  const fn = exported !== null && exported !== undefined ? exported[name] : undefined;
  if (fn === undefined) throw new __UsageFailure(`${__filename} has no handler '${name}' (${__exportNames(exported)})`);
  if (typeof fn !== "function") throw new __UsageFailure(`${__filename}: handler '${name}' is not a function (it is ${typeof fn})`);
  return fn;
};
Object.assign(globalThis, { call: __call, require: __require });
