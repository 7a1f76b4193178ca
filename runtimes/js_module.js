// Module mode (.mjs): the user's module is inline above; import it by its own name (<cmdline>) to reach
// its exports. The export --handler names, else `handler` (called as handler(event, context)), else the
// default export (called with the input).
import * as __faasctl_module from "<cmdline>";
try {
  const $ = JSON.parse(__input);
  const m = __faasctl_module;
  if (__ctx.handler) {
    __emit(await __invoke(__named(m, __ctx.handler), $));
  } else if (typeof m.handler === "function") {
    __emit(await __invoke(m.handler, $));
  } else if (typeof m.default === "function") {
    __emit(await m.default($));
  } else {
    throw new __UsageFailure(`${__filename} has no default export function and no handler export ` +
                             `(${__exportNames(m)})`);
  }
} catch (e) {
  __fail(e);
}
__out.flush();
__err.flush();
