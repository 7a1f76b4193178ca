// faasctl JavaScript guest API, shared by script and module mode. Evaluated as an ES module.
// Protocol with the host: stdout is the output; each stderr line is a JSON string (one log entry)
// or a JSON object {"faasctl": "error", ...} reporting how the run failed.
// scriptArgs: source (empty in module mode, where the module is inline), input JSON, file name, and
// "start:count", the lines of the inline module within <cmdline> (0:0 in script mode).
// The host renames these built-in modules at random for every run, here and in QuickJS itself, so
// guest code cannot import them (see interpreter.HiddenModules).
import * as __std from "qjs:std";
import * as __os from "qjs:os";
const [__source, __input, __filename, __span] = scriptArgs;
const [__spanStart, __spanCount] = __span.split(":").map(Number);
const __out = __std.out, __err = __std.err, __eval = __std.evalScript;
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
const __fail = (e) => {
  let message, detail = null;
  if (e instanceof Error) {
    message = `${e.name}: ${e.message}`;
    detail = e.stack ? __fixStack(e.stack) || null : null;
  } else {
    message = "Uncaught " + __show(e);
  }
  __log(detail ? `${message}\n${detail}` : message);
  __err.puts(JSON.stringify({ faasctl: "error", type: "FunctionError", message, detail }) + "\n");
};

