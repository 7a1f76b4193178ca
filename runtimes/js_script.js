// Script mode: the user's script is the body of an async function of ($, log, console, print).
try {
  const $ = JSON.parse(__input);
  const fn = __eval("(async function ($, log, console, print) {" + __source + "\n})", { filename: __filename });
  __emit(await fn($, __log, __console, __print));
} catch (e) {
  __fail(e);
}
__out.flush();
__err.flush();
