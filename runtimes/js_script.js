// Script mode: the user's script is the body of an async function of ($, log, console, print).
// `module`, `exports` and `require` are globals (not parameters, so a script's own `const module` still
// works). A script that returns nothing but sets exports.handler (or --handler names an export) is a
// Lambda handler: handler(event, context) is called and its awaited value is the result.
try {
  const $ = JSON.parse(__input);
  const __module = { exports: {} };
  Object.assign(globalThis, { module: __module, exports: __module.exports });
  const fn = __eval("(async function ($, log, console, print) {" + __source + "\n})", { filename: __filename });
  let value = await fn($, __log, __console, __print);
  const exported = __module.exports;
  if (__ctx.handler) {
    value = await __invoke(__named(exported, __ctx.handler), $);
  } else if (value === undefined && exported !== null && typeof exported === "object" &&
             typeof exported.handler === "function") {
    value = await __invoke(exported.handler, $);
  } else if (value === undefined && (typeof exported === "function" ||
             (exported !== null && typeof exported === "object" && Object.keys(exported).length))) {
    throw new __UsageFailure(`${__filename} exports no handler function (${__exportNames(exported)}); ` +
                             "set exports.handler or name the export with --handler");
  }
  __emit(value);
} catch (e) {
  __fail(e);
}
__out.flush();
__err.flush();
