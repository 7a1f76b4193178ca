// faasctl JavaScript guest API, shared by script and module mode. Evaluated as an ES module.
// Protocol with the host: stdout is the output; each stderr line is a JSON string (one log entry)
// or a JSON object {"faasctl": "error", ...} reporting how the run failed.
const [__source, __input, __filename] = scriptArgs;  // __source is a path in module mode
const __out = std.out, __err = std.err, __eval = std.evalScript;
const __setTimeout = os.setTimeout, __clearTimeout = os.clearTimeout;
for (const name of ["std", "os", "bjson", "scriptArgs"]) delete globalThis[name];

const __show = (v) => {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}`.trimEnd() : String(v);
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
const __fail = (e) => {
  let message, detail = null;
  if (e instanceof Error) {
    message = `${e.name}: ${e.message}`;
    detail = e.stack ? String(e.stack).trimEnd() : null;
  } else {
    message = "Uncaught " + __show(e);
  }
  __log(detail ? `${message}\n${detail}` : message);
  __err.puts(JSON.stringify({ faasctl: "error", type: "FunctionError", message, detail }) + "\n");
};

