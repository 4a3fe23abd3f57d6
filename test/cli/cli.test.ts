import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { LocalDurableClient } from "../../src/client/local-client.js";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { systemClock } from "../../src/runtime/clock.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin", "perdure.js");
const fixture = (name: string): string => join(root, "test", "cli", "fixtures", name);
const tmp = mkdtempSync(join(tmpdir(), "perdure-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
/** Written here rather than kept as a fixture: the type check of the tests would trip over it. */
mkdirSync(join(tmp, "esm"));
writeFileSync(join(tmp, "esm", "package.json"), JSON.stringify({ type: "module" }));
const syntaxError = join(tmp, "esm", "syntax-error.ts");
writeFileSync(syntaxError, "export const x = ;\n");

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], {
    cwd: tmp,
    env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function outcome(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

const meaningful = (s: string): string[] => s.split("\n").filter((l) => l.trim() !== "" && !l.includes("npm warn"));

describe("perdure CLI: bad input gets one clear line and a non-zero exit", () => {
  const cases: { name: string; args: string[]; code: number; pattern: RegExp }[] = [
    { name: "unknown command", args: ["launch"], code: 2, pattern: /unknown command 'launch'/ },
    { name: "missing entry file", args: ["start", "does-not-exist.ts"], code: 1, pattern: /entry file 'does-not-exist.ts' not found/ },
    { name: "entry registers nothing", args: ["start", fixture("empty.mjs"), "--store", "memory:"], code: 1, pattern: /registered no functions/ },
    { name: "two functions with one name", args: ["start", fixture("duplicate.mjs"), "--store", "memory:"], code: 1, pattern: /'SAME' is already registered/ },
    { name: "entry throws while loading", args: ["start", fixture("throws.mjs"), "--store", "memory:"], code: 1, pattern: /loading entry .* failed: Error: boom while loading \(at .*throws\.mjs:1:7\) \(ENTRY_FAILED\)$/ },
    { name: "syntax error in the entry", args: ["start", syntaxError, "--store", "memory:"], code: 1, pattern: /syntax error in .*syntax-error\.ts:1:17: Unexpected ";" \(ENTRY_SYNTAX_ERROR\)$/ },
    { name: "a top-level await that never settles", args: ["start", fixture("never-loads.mjs"), "--store", "memory:"], code: 1, pattern: /never-loads\.mjs' never finished loading: a top-level await .* \(ENTRY_NEVER_LOADED\)$/ },
    { name: "a folder without package.json", args: ["start", fixture("no-manifest")], code: 1, pattern: /'.*no-manifest' is a folder without a package\.json: name the file .* \(NO_ENTRY\)$/ },
    { name: "no entry and no package.json here", args: ["start"], code: 1, pattern: /no entry given, and this folder has no package\.json/ },
    { name: "a store that cannot be opened", args: ["start", fixture("app.ts"), "--store", `sqlite:${tmp}`, "--port", "0"], code: 1, pattern: /cannot open the SQLite database '.*perdure-cli-\w+' \(unable to open database file\).* \(STORE_UNAVAILABLE\)$/ },
    { name: "a store whose folder cannot be made", args: ["start", fixture("app.ts"), "--store", `sqlite:${fixture("app.ts")}/x.db`, "--port", "0"], code: 1, pattern: /cannot create the folder of the SQLite database '.*app\.ts\/x\.db' \((EEXIST|ENOTDIR).* \(STORE_UNAVAILABLE\)$/ },
    { name: "a flag where a value belongs", args: ["start", fixture("app.ts"), "--key", "--http-only"], code: 2, pattern: /--key.* argument is ambiguous.* \(USAGE\)$/ },
    { name: "negative port", args: ["start", fixture("app.ts"), "--port", "-1"], code: 2, pattern: /invalid port '-1': use a number from 0 to 65535\. \(USAGE\)$/ },
    { name: "unknown store URL", args: ["start", fixture("app.ts"), "--store", "mongodb://x"], code: 1, pattern: /Unknown store URL 'mongodb:\/\/x'/ },
    { name: "invalid port", args: ["start", fixture("app.ts"), "--port", "http"], code: 2, pattern: /invalid port 'http'/ },
    { name: "invalid body limit", args: ["start", fixture("app.ts"), "--max-body-bytes", "lots"], code: 2, pattern: /invalid --max-body-bytes .lots./ },
    { name: "payload limit below 1 KiB", args: ["start", fixture("app.ts"), "--max-payload-bytes", "100"], code: 2, pattern: /invalid --max-payload-bytes .100.: use a number of bytes from 1024 to 1073741824 \(1 GiB\)/ },
    { name: "negative payload limit", args: ["start", fixture("app.ts"), "--max-payload-bytes", "-1"], code: 2, pattern: /invalid --max-payload-bytes .-1.: use a number of bytes from 1024/ },
    { name: "payload limit over 1 GiB", args: ["start", fixture("app.ts"), "--max-payload-bytes", "2000000000"], code: 2, pattern: /invalid --max-payload-bytes .2000000000.: use a number of bytes from 1024 to 1073741824 \(1 GiB\)\. \(USAGE\)$/ },
    { name: "history limit below 100", args: ["start", fixture("app.ts"), "--max-history-events", "10"], code: 2, pattern: /invalid --max-history-events .10.: use a number of events >= 100/ },
    { name: "invalid headers timeout", args: ["start", fixture("app.ts"), "--headers-timeout-ms=1.5"], code: 2, pattern: /invalid --headers-timeout-ms '1.5': use a number of milliseconds/ },
    { name: "invalid connection cap", args: ["start", fixture("app.ts"), "--max-connections", "0"], code: 2, pattern: /invalid --max-connections '0'/ },
    { name: "invalid nondeterminism policy", args: ["start", fixture("app.ts"), "--on-nondeterminism", "explode"], code: 2, pattern: /invalid --on-nondeterminism 'explode': use park or fail/ },
    { name: "invalid log format", args: ["start", fixture("app.ts"), "--log-format", "xml"], code: 2, pattern: /invalid --log-format 'xml': use json or text/ },
    { name: "invalid log level", args: ["start", fixture("app.ts"), "--log-level", "loud"], code: 2, pattern: /invalid --log-level 'loud': use debug, info, warn, error/ },
    {
      name: "headers timeout longer than the request timeout",
      args: ["start", fixture("app.ts"), "--store", "memory:", "--port", "0", "--headers-timeout-ms", "5000", "--request-timeout-ms", "1000"],
      code: 1,
      pattern: /headersTimeoutMs/,
    },
    {
      name: "non-loopback address without a key",
      args: ["start", fixture("app.ts"), "--hostname", "0.0.0.0", "--port", "0", "--store", "memory:"],
      code: 1,
      pattern: /Refusing to listen on 0\.0\.0\.0 without a management key.*--key <secret> or PERDURE_KEY/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await outcome(run(c.args));
      assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
      const lines = meaningful(r.stderr);
      assert.match(lines[0] ?? "", c.pattern);
      assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
      assert.match(lines[0] ?? "", / \([A-Z][A-Z_]+\)$/, "ends with its code");
    });
  }
});

async function startHost(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; done: ReturnType<typeof outcome> }> {
  const child = run(args, env);
  const done = outcome(child);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = /running on (http:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]!);
    });
    void done.then((r) => reject(new Error(`host exited early (${String(r.code)}): ${r.stderr}`)));
  });
  return { child, url, done };
}

describe("perdure start: errors in detail, and apps of many files", () => {
  it("--verbose adds the stack under the one line", async () => {
    const r = await outcome(run(["start", fixture("throws.mjs"), "--store", "memory:", "--verbose"]));
    assert.equal(r.code, 1);
    const lines = meaningful(r.stderr);
    assert.match(lines[0] ?? "", /boom while loading .*\(ENTRY_FAILED\)$/);
    assert.match(lines[1] ?? "", /^Error: boom while loading/);
    assert.ok(lines.some((l) => /^\s+at .*throws\.mjs:1:7/.test(l)), r.stderr);
  });

  it("with no entry, loads every file that package.json \"main\" matches (a glob), and lists what they registered", async () => {
    const child = spawn(process.execPath, [bin, "start", "--port", "0", "--store", "memory:"], {
      cwd: fixture("functions-app"),
      env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const done = outcome(child);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let seen = "";
        child.stdout.on("data", (d: Buffer) => {
          seen += d.toString();
          if (/dashboard: /.test(seen)) resolve(seen);
        });
        void done.then((r) => reject(new Error(`host exited early (${String(r.code)}): ${r.stderr}`)));
      });
      assert.match(url, /orchestrations: hello/);
      assert.match(url, /activities: greet/);
      assert.match(url, /entities: counter/);
      const base = /running on (http:\/\/\S+)/.exec(url)![1]!;
      const started = await fetch(`${base}/runtime/webhooks/durabletask/orchestrators/hello?timeout=10&pollingInterval=0.05`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify("Ada") });
      assert.equal(started.status, 200);
      assert.equal(await started.json(), "Hello Ada");
    } finally {
      child.kill("SIGTERM");
      await done;
    }
  });

  it("the app version: --app-version, else PERDURE_APP_VERSION, else host.json's defaultVersion; a bad host.json is one line", async () => {
    const app = join(tmp, "versioned");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module", main: "app.mjs" }));
    writeFileSync(join(app, "app.mjs"), 'import * as df from "durable-functions";\ndf.app.orchestration("v", function* (context) { return context.df.version; });\n');
    writeFileSync(join(app, "host.json"), JSON.stringify({ version: "2.0", extensions: { durableTask: { defaultVersion: "1.0" } } }));
    const versionOf = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
      const { child, url, done } = await startHost(["start", app, "--port", "0", "--store", "memory:", ...args], env);
      try {
        const r = await fetch(`${url}/runtime/webhooks/durabletask/orchestrators/v?timeout=10&pollingInterval=0.05`, { method: "POST" });
        assert.equal(r.status, 200);
        return (await r.json()) as string;
      } finally {
        child.kill("SIGTERM");
        await done;
      }
    };
    assert.equal(await versionOf([]), "1.0");
    assert.equal(await versionOf([], { PERDURE_APP_VERSION: "2.0" }), "2.0");
    assert.equal(await versionOf(["--app-version", "3.0"], { PERDURE_APP_VERSION: "2.0" }), "3.0");
    writeFileSync(join(app, "host.json"), "{ not json");
    const bad = await outcome(run(["start", app, "--store", "memory:"]));
    assert.equal(bad.code, 1);
    assert.match(meaningful(bad.stderr)[0] ?? "", /host\.json is not valid JSON .*pass --app-version to set the version without it\. \(HOST_JSON_INVALID\)$/);
    assert.equal(meaningful(bad.stderr).length, 1, bad.stderr);
  });

  it("--retention (or PERDURE_RETENTION) is the host's retention policy, shown in the banner", async () => {
    const banner = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
      const child = run(["start", fixture("app.ts"), "--port", "0", "--store", "memory:", ...args], env);
      const done = outcome(child);
      try {
        return await new Promise<string>((resolve, reject) => {
          let seen = "";
          child.stdout!.on("data", (d: Buffer) => {
            seen += d.toString();
            if (/dashboard: /.test(seen)) resolve(seen);
          });
          void done.then((r) => reject(new Error(`host exited early (${String(r.code)}): ${r.stderr}`)));
        });
      } finally {
        child.kill("SIGTERM");
        await done;
      }
    };
    assert.match(await banner(["--retention", "completed=7d,failed=30d"]), /^ {2}retention: purges Completed after 7d, Failed after 30d \(every 1m, one host at a time\)$/m);
    assert.match(await banner(["--retention", "terminated=12h"], { PERDURE_RETENTION: "completed=1d" }), /^ {2}retention: purges Terminated after 12h /m, "the flag wins");
    assert.match(await banner([], { PERDURE_RETENTION: "canceled=90m" }), /^ {2}retention: purges Canceled after 90m /m);
    assert.doesNotMatch(await banner([]), /retention:/);
  });

  it("a CommonJS app that requires durable-functions and @azure/functions runs (the CLI answers both names)", async () => {
    const app = join(tmp, "cjs-aliases");
    mkdirSync(app);
    writeFileSync(
      join(app, "app.cjs"),
      [
        'const df = require("durable-functions");',
        'const { app } = require("@azure/functions");',
        'df.app.activity("hi", { handler: (name) => "hi " + name });',
        'df.app.orchestration("greet", function* (context) { return yield context.df.callActivity("hi", context.df.getInput()); });',
        'app.get("ping", () => ({ body: "pong" }));',
      ].join("\n"),
    );
    const { child, url, done } = await startHost(["start", join(app, "app.cjs"), "--port", "0", "--store", "memory:"]);
    try {
      assert.equal(await (await fetch(`${url}/api/ping`)).text(), "pong");
      const r = await fetch(`${url}/runtime/webhooks/durabletask/orchestrators/greet?timeout=10&pollingInterval=0.05`, { method: "POST", body: JSON.stringify("cjs") });
      assert.equal(await r.json(), "hi cjs");
    } finally {
      child.kill("SIGTERM");
      await done;
    }
  });

  it("says when package.json \"main\" matches nothing", async () => {
    const app = join(tmp, "unbuilt");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ main: "dist/src/functions/*.js" }));
    const r = await outcome(run(["start", app]));
    assert.equal(r.code, 1);
    assert.match(meaningful(r.stderr)[0] ?? "", /"main" in .*package\.json is 'dist\/src\/functions\/\*\.js', which matches no \.js or \.ts file \(not built yet\? .*\(ENTRY_NOT_FOUND\)$/);
  });
});

describe("perdure start runs a host", () => {
  it("loads a .ts entry, serves /healthz, runs orchestrations on the SQLite store, and stops cleanly on SIGTERM", async () => {
    const db = join(tmp, "cli.db");
    const { child, url, done } = await startHost(["start", fixture("app.ts"), "--port", "0", "--store", `sqlite:${db}`]);
    try {
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as Record<string, unknown>;
      assert.equal(body.status, "ok");
      assert.equal(body.pid, child.pid, "the host says which process it is");
      // The started host finds the package's built dashboard by itself.
      const dashboard = await fetch(`${url}/dashboard/`);
      assert.equal(dashboard.status, 200);
      assert.match(await dashboard.text(), /dashboard\.js/);
      assert.match(String(body.workerId), new RegExp(`^[^:]+:${child.pid}:[0-9a-f]{6}$`), "worker id: hostname, pid and a random suffix");
      assert.equal(body.workers, true);
      assert.equal(body.http, true);
      // A second process on the same file acts as the client: the CLI host does the work.
      const provider = new SqliteProvider({ filename: db });
      await provider.initialize();
      try {
        const client = new LocalDurableClient(provider, systemClock);
        const id = await client.startNew("greetTwice", { input: "CLI" });
        const status = await client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
        assert.equal(status.runtimeStatus, "Completed");
        assert.deepEqual(status.output, ["Hello CLI", "Hello again"]);
      } finally {
        await provider.close();
      }
    } finally {
      child.kill("SIGTERM");
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /orchestrations: greetTwice/);
    assert.match(r.stdout, /draining \(up to \d+ ms\) and stopping/);
  });

  it("takes the store and port from PERDURE_STORE / PERDURE_PORT and loads a .mjs entry", async () => {
    const { child, url, done } = await startHost(["start", fixture("app.mjs")], { PERDURE_STORE: "memory:", PERDURE_PORT: "0" });
    try {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      child.kill("SIGINT");
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /store memory:/);
    assert.match(r.stdout, /orchestrations: echoOnce/);
  });

  it("--log-format json --log-level debug writes the runtime's tracking events as JSON lines", async () => {
    const db = join(tmp, "logs.db");
    const { child, url, done } = await startHost(["start", fixture("app.ts"), "--port", "0", "--store", `sqlite:${db}`, "--log-format", "json", "--log-level", "debug"]);
    let id = "";
    try {
      const started = await fetch(`${url}/runtime/webhooks/durabletask/orchestrators/greetTwice`, { method: "POST", body: JSON.stringify("logs"), headers: { "content-type": "application/json" } });
      id = ((await started.json()) as { id: string }).id;
      for (let i = 0; i < 200; i++) {
        const s = (await (await fetch(`${url}/runtime/webhooks/durabletask/instances/${id}`)).json()) as { runtimeStatus: string };
        if (s.runtimeStatus === "Completed") break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill("SIGTERM");
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((x) => x.instanceId === id);
    const events = records.map((x) => x.event);
    for (const e of ["ExecutionStarted", "TaskScheduled", "ActivityStarting", "ActivityCompleted", "TaskCompleted", "ExecutionCompleted"]) assert.ok(events.includes(e), `tracking event ${e} in ${JSON.stringify(events)}`);
    assert.equal(events.filter((e) => e === "TaskScheduled").length, 2, "each activity scheduled once");
    for (const x of records) {
      assert.equal(x.level, "debug");
      assert.match(String(x.time), /^\d{4}-\d\d-\d\dT/);
      assert.match(String(x.workerId), new RegExp(`:${child.pid}:`));
      assert.equal(x.isReplaying, false);
      assert.ok(typeof x.msg === "string" && x.msg.length > 0);
    }
    const done1 = records.find((x) => x.event === "ExecutionCompleted")!;
    assert.deepEqual([done1.functionName, done1.functionType, done1.state], ["greetTwice", "orchestration", "Completed"]);
    assert.equal(records.find((x) => x.event === "ActivityCompleted")?.functionName, "greet");
  });

  it("refuses a port that is already taken with one line", async () => {
    const first = await startHost(["start", fixture("app.mjs"), "--port", "0", "--store", "memory:"]);
    try {
      const port = new URL(first.url).port;
      const r = await outcome(run(["start", fixture("app.mjs"), "--port", port, "--store", "memory:"]));
      assert.equal(r.code, 1);
      assert.match(meaningful(r.stderr)[0] ?? "", /address is in use/);
    } finally {
      first.child.kill("SIGTERM");
      await first.done;
    }
  });
});
