/**
 * `node --import ./bench/use-compiled-engine.mjs`: the engine loads from dist/ (see
 * compiled-engine.mjs), unless PERDURE_BENCH_ENGINE=source asks for the TypeScript sources.
 * Registered after tsx, so this hook sees tsx's resolution of `../src/x.js` to `src/x.ts` and
 * replaces it.
 */
import { register } from "node:module";

if (process.env.PERDURE_BENCH_ENGINE !== "source") {
  register("./compiled-engine.mjs", import.meta.url);
  process.env.PERDURE_BENCH_ENGINE = "compiled";
}
