/**
 * The example projects of examples/testing: perdure/testing under Vitest and under Jest
 * (docs/testing.md, "node:test, Vitest, Jest"). Each project is copied to a temporary folder and
 * installed there as a user would have it: node_modules/perdure is this repository (its built dist/,
 * made by `npm run build`, which the test script runs first) and each of the project's
 * devDependencies is the copy this repository installs. Then the project type-checks with its own
 * tsconfig, and `npm test` in it (its own script: the runner, with the flags it needs) passes every
 * test, by the runner's JSON summary; with PERDURE_EXAMPLE_BREAK=1 one test expects a wrong value,
 * and the run fails with exactly that test failed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
/** The tests in each example's test/app.test.ts. */
const EXPECTED_TESTS = 5;
/** The one test that PERDURE_EXAMPLE_BREAK=1 makes fail. */
const BROKEN_TEST = "approval times out after 72 hours";

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  bin?: string | Record<string, string>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

/** The runners, and the arguments that make each write its JSON summary to a file (after `npm test --`). */
const RUNNERS = {
  vitest: { jsonArgs: (out: string, _dir: string): string[] => ["--reporter=json", `--outputFile=${out}`] },
  // The transform cache stays in the temporary folder (Jest's default is a folder of its own under the OS's tmp).
  jest: { jsonArgs: (out: string, dir: string): string[] => ["--json", `--outputFile=${out}`, `--cacheDirectory=${join(dir, ".jest-cache")}`] },
} as const;

/** The part of the summary both runners write (Vitest's JSON reporter follows Jest's format). */
interface Summary {
  success: boolean;
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

interface Run {
  status: number | null;
  output: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Set by node --test for its own child processes; the runner's workers are none of those.
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", fail);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, output });
    });
  });
}

/**
 * examples/testing/<name> in `target`, installed: node_modules/perdure is this repository, each
 * devDependency is linked from this repository's node_modules, and its bins are in node_modules/.bin.
 */
function installExample(name: string, target: string): PackageJson {
  const source = join(ROOT, "examples", "testing", name);
  cpSync(source, target, { recursive: true, filter: (src) => !/[/\\](dist|node_modules|\.jest-cache)$/.test(src) });
  const pkg = readJson<PackageJson>(join(target, "package.json"));
  const modules = join(target, "node_modules");
  mkdirSync(join(modules, ".bin"), { recursive: true });
  symlinkSync(ROOT, join(modules, "perdure"), "dir");
  for (const dep of Object.keys(pkg.devDependencies ?? {})) {
    const installed = join(ROOT, "node_modules", dep);
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(installed, join(modules, dep), "dir");
    const { bin } = readJson<PackageJson>(join(installed, "package.json"));
    const bins = typeof bin === "string" ? { [dep.split("/").pop()!]: bin } : (bin ?? {});
    for (const [binName, file] of Object.entries(bins)) symlinkSync(resolve(installed, file), join(modules, ".bin", binName));
  }
  return pkg;
}

const dir = mkdtempSync(join(tmpdir(), "perdure-test-runners-"));

after(() => rmSync(dir, { recursive: true, force: true }));

for (const name of Object.keys(RUNNERS) as (keyof typeof RUNNERS)[]) {
  describe(`examples/testing/${name}`, () => {
    const project = join(dir, name);
    let pkg: PackageJson;

    /** `npm test` in the project, with the runner's JSON summary. */
    async function npmTest(env: NodeJS.ProcessEnv, resultFile: string): Promise<Run & { summary: Summary }> {
      const out = join(project, resultFile);
      const r = await run(NPM, ["test", "--silent", "--", ...RUNNERS[name].jsonArgs(out, project)], project, env);
      assert.ok(existsSync(out), `${name} wrote no JSON summary (exit ${r.status}):\n${r.output}`);
      return { ...r, summary: readJson<Summary>(out) };
    }

    const failedTests = (s: Summary): string[] => s.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName));

    before(() => {
      assert.ok(existsSync(join(ROOT, "dist", "src", "testing.js")), "perdure is not built: run `npm run build` first");
      pkg = installExample(name, project);
    });

    it("depends on perdure and on the runner packages this repository installs, at the same versions", () => {
      assert.deepEqual(pkg.dependencies, { perdure: "file:../../.." });
      const root = readJson<PackageJson>(join(ROOT, "package.json")).devDependencies ?? {};
      assert.ok(Object.keys(pkg.devDependencies ?? {}).includes(name));
      for (const [dep, range] of Object.entries(pkg.devDependencies ?? {})) assert.equal(range, root[dep], `${dep} in examples/testing/${name}/package.json and in the root package.json`);
    });

    it("type-checks with its own tsconfig against the built package's types", async () => {
      const r = await run(process.execPath, [TSC, "-p", "tsconfig.json"], project);
      assert.equal(r.status, 0, r.output);
    });

    it(`npm test passes all ${EXPECTED_TESTS} tests`, async () => {
      const r = await npmTest({}, "passing.json");
      assert.equal(r.status, 0, r.output);
      assert.deepEqual(failedTests(r.summary), []);
      assert.equal(r.summary.success, true);
      assert.equal(r.summary.numTotalTests, EXPECTED_TESTS);
      assert.equal(r.summary.numPassedTests, EXPECTED_TESTS, r.output);
    });

    it("a test that expects a wrong value fails the run, and only that test", async () => {
      const r = await npmTest({ PERDURE_EXAMPLE_BREAK: "1" }, "broken.json");
      assert.notEqual(r.status, 0, r.output);
      assert.equal(r.summary.success, false);
      assert.equal(r.summary.numFailedTests, 1, r.output);
      assert.equal(r.summary.numPassedTests, EXPECTED_TESTS - 1, r.output);
      assert.deepEqual(failedTests(r.summary), [BROKEN_TEST]);
      const message = r.summary.testResults.flatMap((f) => f.assertionResults).find((a) => a.status === "failed")!.failureMessages.join("\n");
      assert.match(message, /approved/);
      assert.match(message, /timed out/);
    });
  });
}
