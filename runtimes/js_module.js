// Module mode (.mjs): the user's module is inline above; import it by its own name (<cmdline>) to reach
// its default export, and call that with the input.
import * as __faasctl_module from "<cmdline>";
try {
  const $ = JSON.parse(__input);
  if (typeof __faasctl_module.default !== "function") {
    throw new TypeError(`${__filename} has no default export function`);
  }
  __emit(await __faasctl_module.default($));
} catch (e) {
  __fail(e);
}
__out.flush();
__err.flush();
