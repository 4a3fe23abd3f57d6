/**
 * Module resolution hook of the bench: the engine's modules (`src/**`) load from the compiled build
 * (`dist/src/**`), which is what `import "perdure"` gives an application, while the bench's own
 * TypeScript still runs through tsx.
 *
 * Why: tsx compiles with esbuild's keepNames, which wraps every named function expression in a call
 * that defines its `name` when the expression is evaluated. The engine creates closures per step,
 * so the sources run through tsx carry a cost that no installed copy of Perdure has: hello5 on the
 * memory store ran at 6,370–9,412 orch/s from the sources and 9,148–12,539 from the build, in
 * alternating child processes (bench/README.md).
 *
 * Plain JavaScript (not TypeScript) because it runs on the loader thread, before tsx could help.
 */
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SRC = new URL("../src/", import.meta.url).href;
const DIST = new URL("../dist/src/", import.meta.url).href;
/** The browser dashboard is built separately and never imported by the engine. */
const NOT_ENGINE = `${SRC}dashboard/`;
const checked = new Set();

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const url = resolved.url;
  // The bench imports `src/x`; the build's own modules then import each other inside dist/.
  let built;
  if (url.startsWith(SRC) && !url.startsWith(NOT_ENGINE) && /\.(ts|js)$/.test(url)) built = `${DIST}${url.slice(SRC.length).replace(/\.ts$/, ".js")}`;
  else if (url.startsWith(DIST) && url.endsWith(".js")) built = url;
  else return resolved;
  if (!checked.has(built)) {
    assertFresh(fileURLToPath(`${SRC}${built.slice(DIST.length).replace(/\.js$/, ".ts")}`), fileURLToPath(built));
    checked.add(built);
  }
  return { ...resolved, url: built, format: "module" };
}

/** A build older than its source would measure code that is not the checkout's. */
function assertFresh(source, built) {
  const sourceTime = statSync(source, { throwIfNoEntry: false })?.mtimeMs;
  if (sourceTime === undefined) return; // a module of the build only (none today)
  let builtTime;
  try {
    builtTime = statSync(built).mtimeMs;
  } catch {
    builtTime = -Infinity;
  }
  if (builtTime < sourceTime) {
    const err = new Error(
      `The bench runs the compiled engine, and ${built.slice(built.indexOf("dist/"))} is ${builtTime === -Infinity ? "missing" : "older than its source"}. ` +
        "Run `npm run build` first (`npm run bench` does), or set PERDURE_BENCH_ENGINE=source to run the TypeScript sources through tsx.",
    );
    err.code = "ERR_PERDURE_BENCH_STALE_BUILD";
    throw err;
  }
}
