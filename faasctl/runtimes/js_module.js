// Module mode (.mjs): import the user's module and call its default export with the input.
try {
  const $ = JSON.parse(__input);
  const mod = await import(__source);
  if (typeof mod.default !== "function") {
    throw new TypeError(`${__filename} has no default export function`);
  }
  __emit(await mod.default($));
} catch (e) {
  __fail(e);
}
__out.flush();
__err.flush();
