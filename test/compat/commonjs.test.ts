/**
 * `require("perdure")` from a CommonJS app: the package's ES modules are loaded through Node's
 * require(esm) (Node 20.19+, 22.12+, 24), one copy of the module for import and require alike.
 * Runs the built package (dist/, made by `npm run build`, which the test script runs first).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "perdure-cjs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

it("a CommonJS app requires perdure, registers functions and runs an orchestration", () => {
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(root, join(dir, "node_modules", "perdure"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "cjs-app", type: "commonjs" }));
  writeFileSync(
    join(dir, "app.js"),
    `"use strict";
const df = require("perdure");
df.app.activity("hello", { handler: (name) => "Hello " + name });
df.app.orchestration("greet", function* (context) {
  return yield context.df.callActivity("hello", context.df.getInput());
});
const host = df.createHost({ store: "memory:", port: false });
host.start()
  .then(() => host.client.startNew("greet", { input: "CommonJS" }))
  .then((id) => host.client.waitForCompletion(id, { timeoutInMilliseconds: 10000 }))
  .then(async (status) => {
    console.log(JSON.stringify({ status: status.runtimeStatus, output: status.output, sameModule: require("perdure") === df }));
    await host.stop();
  });
`,
  );
  const r = spawnSync(process.execPath, ["app.js"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { status: "Completed", output: "Hello CommonJS", sameModule: true });
  assert.doesNotMatch(r.stderr, /Error/, r.stderr);
});
