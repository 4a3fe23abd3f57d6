/**
 * The bench's module hook (bench/compiled-engine.mjs): an import of the engine's sources loads the
 * compiled build instead, and a build older than its source stops the run with a way out, so a
 * bench never measures code that is not the checkout's.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const BENCH = fileURLToPath(new URL("../../bench/", import.meta.url));
const TSX = fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url));

describe("bench: the compiled engine", () => {
  // A checkout in miniature: bench/ with the hook, src/ and its build in dist/src/.
  const root = mkdtempSync(join(tmpdir(), "perdure-bench-engine-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of ["bench", "src/core", "dist/src/core"]) mkdirSync(join(root, dir), { recursive: true });
  for (const f of ["compiled-engine.mjs", "use-compiled-engine.mjs"]) copyFileSync(join(BENCH, f), join(root, "bench", f));
  writeFileSync(join(root, "package.json"), '{ "type": "module" }');
  writeFileSync(join(root, "src/index.ts"), 'export { where } from "./core/where.js";\n');
  writeFileSync(join(root, "src/core/where.ts"), 'export const where: string = "source";\n');
  writeFileSync(join(root, "dist/src/index.js"), 'export { where } from "./core/where.js";\n');
  writeFileSync(join(root, "dist/src/core/where.js"), 'export const where = "build";\n');
  writeFileSync(join(root, "bench/main.ts"), 'import { where } from "../src/index.js";\nconsole.log(`${where} ${process.env.PERDURE_BENCH_ENGINE}`);\n');
  const past = new Date(Date.now() - 60_000);
  for (const f of ["src/index.ts", "src/core/where.ts"]) utimesSync(join(root, f), past, past);

  const run = (env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ["--import", TSX, "--import", "./bench/use-compiled-engine.mjs", "bench/main.ts"], { cwd: root, encoding: "utf8", env: { ...process.env, PERDURE_BENCH_ENGINE: "", ...env } });

  it("loads the engine's modules from dist/ when the build is newer than the sources", () => {
    const r = run();
    assert.equal(r.stderr, "");
    assert.equal(r.stdout.trim(), "build compiled");
  });

  it("runs the TypeScript sources with PERDURE_BENCH_ENGINE=source", () => {
    const r = run({ PERDURE_BENCH_ENGINE: "source" });
    assert.equal(r.stdout.trim(), "source source");
  });

  it("refuses a build older than a source file, also one that the build imports itself, and says what to run", () => {
    // where.ts is reached only through dist/src/index.js: the check follows the build's own imports.
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(root, "src/core/where.ts"), future, future);
    try {
      const r = run();
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /ERR_PERDURE_BENCH_STALE_BUILD/);
      assert.match(r.stderr, /dist\/src\/core\/where\.js is older than its source\. Run `npm run build` first/);
    } finally {
      utimesSync(join(root, "src/core/where.ts"), past, past);
    }
  });
});
