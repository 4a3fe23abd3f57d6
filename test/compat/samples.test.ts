/**
 * The official durable-functions TypeScript samples (their shapes, in compat/samples), ported by
 * changing imports only: they compile with `tsc --strict` against the built package's types, and run
 * under `perdure start` in their app folder (package.json `main`: dist/src/functions/*.js) with their
 * documented output. Local stand-ins replace the cloud services: a weather service, Azure Resource
 * Manager and a managed identity endpoint; blob storage is a folder. Runs the built package (dist/,
 * made by `npm run build`, which the test script runs first).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const dir = mkdtempSync(join(tmpdir(), "perdure-samples-"));
const appDir = join(dir, "app");
const blobDir = join(dir, "blobs");
const SECRET = "identity-header-secret";

/** An app folder as a user has it: the samples, with perdure (and Node's types) installed. */
function makeAppFolder(target: string): void {
  cpSync(join(ROOT, "compat", "samples"), target, { recursive: true, filter: (src) => !/[/\\](dist|node_modules)$/.test(src) });
  mkdirSync(join(target, "node_modules"));
  symlinkSync(ROOT, join(target, "node_modules", "perdure"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@types"), join(target, "node_modules", "@types"), "dir");
}

function tsc(project: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [TSC, "-p", project], { cwd: project, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// ---- stand-ins for the cloud services ----

interface Seen {
  url: string;
  authorization: string | undefined;
  identityHeader: string | undefined;
}
const seen: Seen[] = [];
let stubServer: Server;
let stubUrl = "";

function startStub(): Promise<void> {
  stubServer = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    seen.push({ url: req.url ?? "", authorization: req.headers.authorization, identityHeader: req.headers["x-identity-header"] as string | undefined });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/msi/token") {
      if (req.headers["x-identity-header"] !== SECRET) return json(401, { error: "bad identity header" });
      return json(200, { access_token: `token:${url.searchParams.get("resource")}`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), token_type: "Bearer" });
    }
    if (url.pathname === "/subscriptions") {
      if (req.headers.authorization !== "Bearer token:https://management.core.windows.net") return json(401, { error: "no token" });
      return json(200, { value: [{ subscriptionId: "00000000-0000-0000-0000-000000000001", displayName: "Stand-in subscription" }] });
    }
    if (url.pathname === "/data/2.5/weather") {
      const q = url.searchParams.get("q") ?? "";
      return json(200, { weather: [{ description: q.startsWith("Seattle") ? "clear sky" : "light rain" }] });
    }
    json(404, { error: "unknown path" });
  });
  return new Promise((resolve) => stubServer.listen(0, "127.0.0.1", () => {
    stubUrl = `http://127.0.0.1:${(stubServer.address() as AddressInfo).port}`;
    resolve();
  }));
}

// ---- the host ----

interface RunningHost {
  url: string;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * `perdure start` in `cwd`, in a process group of its own: its URL once the start-up lines are all
 * out (they may come in several chunks: the dashboard's line is the last), and a stop that ends it.
 */
async function spawnHost(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningHost> {
  const proc = spawn(process.execPath, [join(ROOT, "bin", "perdure.js"), "start", ...args, "--port", "0"], { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(-proc.pid!, "SIGTERM");
    await new Promise((res) => proc.once("exit", res));
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /running on (http:\/\/\S+)/.exec(out)?.[1];
    if (url && /dashboard: /.test(out)) return { url, output: () => out, stop };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`perdure start did not come up:\n${out}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

let host: RunningHost | undefined;
let base = "";
const hostOut = (): string => host?.output() ?? "";
const compiled: { status: number | null; output: string } = { status: null, output: "" };

async function startHost(): Promise<void> {
  host = await spawnHost(appDir, ["--store", `sqlite:${join(dir, "store.db")}`], {
    PERDURE_LOG_FORMAT: "json",
    StorageConnString: `file:${blobDir}`,
    OpenWeatherMapApiUrl: stubUrl,
    OpenWeatherMapApiKey: "test-key",
    ArmEndpoint: stubUrl,
    IDENTITY_ENDPOINT: `${stubUrl}/msi/token`,
    IDENTITY_HEADER: SECRET,
  });
  base = host.url;
}

// ---- talking to it over HTTP, as a user would ----

interface Status {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  historyEvents?: { EventType: string; Name?: string; Result?: unknown; FunctionName?: string }[];
}

async function startSample(name: string, input: unknown): Promise<{ id: string; response: Response; body: Record<string, string> }> {
  const response = await fetch(`${base}/api/orchestrators/${name}`, { method: "POST", body: JSON.stringify(input ?? null), headers: { "Content-Type": "application/json" } });
  const body = (await response.json()) as Record<string, string>;
  assert.equal(response.status, 202, JSON.stringify(body));
  return { id: body.id!, response, body };
}

async function status(id: string, history = false): Promise<Status> {
  const query = history ? "?showHistory=true&showHistoryOutput=true" : "";
  const r = await fetch(`${base}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}${query}`);
  return (await r.json()) as Status;
}

async function until(id: string, done: (s: Status) => boolean, what: string, timeoutMs = 30_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(id);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(s)}\n${hostOut().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const finished = (id: string, timeoutMs?: number): Promise<Status> =>
  until(id, (s) => ["Completed", "Failed", "Terminated"].includes(s.runtimeStatus), `instance ${id} to finish`, timeoutMs);

async function raise(id: string, event: string, data: unknown): Promise<void> {
  const r = await fetch(`${base}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}/raiseEvent/${event}`, { method: "POST", body: JSON.stringify(data), headers: { "Content-Type": "application/json" } });
  assert.equal(r.status, 202);
}

async function entityState(name: string, key: string): Promise<unknown> {
  const r = await fetch(`${base}/runtime/webhooks/durabletask/entities/${name}/${key}`);
  return r.status === 200 ? r.json() : undefined;
}

async function signalEntity(name: string, key: string, op: string, input: unknown): Promise<void> {
  const r = await fetch(`${base}/runtime/webhooks/durabletask/entities/${name}/${key}?op=${op}`, { method: "POST", body: JSON.stringify(input), headers: { "Content-Type": "application/json" } });
  assert.equal(r.status, 202);
}

/** The host's JSON log records whose message matches. */
function logLines(pattern: RegExp): { level?: string; msg?: string; message?: string }[] {
  return hostOut()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level?: string; msg?: string; message?: string })
    .filter((r) => pattern.test(r.msg ?? r.message ?? ""));
}

before(async () => {
  makeAppFolder(appDir);
  Object.assign(compiled, tsc(appDir));
  if (compiled.status !== 0) return; // the first test reports it
  await startStub();
  await startHost();
});

after(async () => {
  await host?.stop();
  stubServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the official samples, ported by changing imports", () => {
  it("compile with tsc --strict against Perdure's types; a wrong call does not", () => {
    assert.equal(compiled.status, 0, compiled.output);
    assert.equal(compiled.output.trim(), "");
    assert.match(readFileSync(join(appDir, "tsconfig.json"), "utf8"), /"strict": true/);
    // The check is real: the same project with one ill-typed call fails, naming it.
    const broken = join(dir, "broken");
    makeAppFolder(broken);
    writeFileSync(
      join(broken, "src", "functions", "illTyped.ts"),
      `import * as df from "perdure";\nimport { app } from "perdure/azure-functions";\ndf.app.orchestration("illTyped", function* (context) {\n  yield context.df.callActivity(42);\n});\napp.http("illTypedHttp", { route: 7, handler: async () => ({}) });\n`,
    );
    const r = tsc(broken);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /illTyped\.ts\(4,33\): error TS(2345|2769)/);
    assert.match(r.output, /illTyped\.ts\(6,28\): error TS2322/);
  });

  it("perdure start finds every function through package.json main (dist/src/functions/*.js)", () => {
    assert.match(hostOut(), /orchestrations: .*helloSequence.*weatherMonitor/);
    assert.match(hostOut(), /entities: counterEntity, transferAccount/);
    assert.match(hostOut(), /http: httpStart GET,POST \/api\/orchestrators\/\{orchestratorName\}/);
    assert.match(hostOut(), /app version: 1\.0 /, "host.json's defaultVersion");
  });

  it("sayHello: a chain, an activity, a custom status and a sub-orchestration", async () => {
    const { id, response, body } = await startSample("helloSequence", null);
    assert.equal(response.headers.get("location"), body.statusQueryGetUri);
    assert.deepEqual((await finished(id)).output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);
    const activity = await startSample("sayHelloWithActivity", "Amsterdam");
    assert.equal((await finished(activity.id)).output, "Hello Amsterdam");
    const custom = await finished((await startSample("sayHelloWithCustomStatus", "Berlin")).id);
    assert.equal(custom.customStatus, "Hello Berlin");
    assert.equal((await finished((await startSample("sayHelloWithSubOrchestrator", "Cairo")).id)).output, "Hello Cairo");
  });

  it("httpSyncStart: answers with the output when the orchestration finishes within the timeout", async () => {
    const r = await fetch(`${base}/api/orchestrators/wait/sayHelloWithActivity?timeout=20&retryInterval=1`, { method: "POST", body: JSON.stringify("sync") });
    assert.equal(r.status, 200);
    assert.equal(await r.json(), "Hello sync");
  });

  it("callActivityWithRetry: two attempts fail, the orchestrator catches the failure and completes", async () => {
    const { id } = await startSample("callActivityWithRetry", null);
    const s = await finished(id);
    assert.equal(s.runtimeStatus, "Completed");
    assert.equal(s.output, null);
    const events = (await status(id, true)).historyEvents ?? [];
    assert.equal(events.filter((e) => e.EventType === "TaskFailed").length, 2);
    assert.equal(logLines(/^Flaky Function Flaking!$/).length, 2);
    assert.equal(logLines(/Orchestrator caught exception\. Flaky function is extremely flaky\./).length, 1, "an orchestration's log line is written once, not on every replay");
  });

  it("callSubOrchestratorWithRetry: two child attempts fail, the parent catches the failure", async () => {
    const { id } = await startSample("callSubOrchestratorWithRetry", null);
    const s = await finished(id);
    assert.equal(s.runtimeStatus, "Completed");
    assert.equal(s.output, null);
    const events = (await status(id, true)).historyEvents ?? [];
    assert.equal(events.filter((e) => e.EventType === "SubOrchestrationInstanceFailed").length, 2);
    assert.equal(logLines(/Sub-orchestrator failed\./).length, 1);
  });

  it("cancelTimer: the work finishes first and the two-minute timer is cancelled", async () => {
    const started = Date.now();
    const s = await finished((await startSample("cancelTimer", null)).id);
    assert.equal(s.output, "Hello from the other side");
    assert.ok(Date.now() - started < 60_000, "did not wait for the timer");
  });

  it("continueAsNewCounter: counts to 10 in ten executions of one instance", async () => {
    const { id } = await startSample("continueAsNewCounter", null);
    const s = await finished(id);
    assert.equal(s.instanceId, id);
    assert.equal(s.output, 10);
    assert.equal(s.input, 9, "the last execution started from 9");
  });

  it("counter: the orchestration reads the entity and adds one, up to 10", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await finished((await startSample("counterOrchestration", null)).id)).output, null);
    assert.equal(await entityState("counterEntity", "myCounter"), 3);
    // Signals take it to 10; an orchestration then reads 10 and leaves it there.
    await signalEntity("counterEntity", "myCounter", "add", 7);
    await until((await startSample("counterOrchestration", null)).id, (s) => s.runtimeStatus === "Completed", "a run at 10");
    assert.equal(await entityState("counterEntity", "myCounter"), 10, "no increment past 10");
  });

  it("backupSiteContent: fans out a copy per file to blob storage (a folder here) and sums the bytes", async () => {
    const site = join(dir, "site");
    mkdirSync(join(site, "css", "deep"), { recursive: true });
    const files: Record<string, string> = { "index.html": "<h1>hello</h1>", "css/site.css": "body { color: red }", "css/deep/x.bin": "\u0000\u0001binary\u00ff" };
    for (const [p, content] of Object.entries(files)) writeFileSync(join(site, p), content, "latin1");
    const s = await finished((await startSample("backupSiteContent", site)).id);
    assert.equal(s.runtimeStatus, "Completed", JSON.stringify(s.output));
    assert.equal(s.output, Object.values(files).reduce((n, c) => n + Buffer.byteLength(c, "latin1"), 0));
    for (const [p, content] of Object.entries(files)) assert.deepEqual(readFileSync(join(blobDir, "backups", p)), Buffer.from(content, "latin1"), p);
    const noInput = await finished((await startSample("backupSiteContent", "")).id);
    assert.equal(noInput.runtimeStatus, "Failed");
    assert.match(String(noInput.output), /A directory path is required as an input\./);
  });

  it("smsPhoneVerification: the right code authorizes; four wrong ones do not; the SMS binding is reported once", async () => {
    const { id } = await startSample("smsPhoneVerification", "+15555550100");
    const code = await until(id, () => true, "x").then(async () => {
      for (;;) {
        const events = (await status(id, true)).historyEvents ?? [];
        const sent = events.find((e) => e.EventType === "TaskCompleted");
        if (sent) return sent.Result as number;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    await raise(id, "SmsChallengeResponse", (code + 1) % 10000);
    await raise(id, "SmsChallengeResponse", code);
    const ok = await finished(id);
    assert.equal(ok.output, true);

    const wrong = (await startSample("smsPhoneVerification", "+15555550101")).id;
    await until(wrong, (s) => s.runtimeStatus === "Running", "the second verification to run");
    for (let i = 0; i < 4; i++) await raise(wrong, "SmsChallengeResponse", -1 - i);
    const denied = await finished(wrong);
    assert.equal(denied.output, false);

    const missingInput = await finished((await startSample("smsPhoneVerification", null)).id);
    assert.match(String(missingInput.output), /A phone number input is required\./);

    const warnings = logLines(/twilioSms/);
    assert.equal(warnings.filter((w) => /sendSmsChallenge/.test(w.msg ?? w.message ?? "")).length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.msg ?? warnings[0]!.message ?? "", /setBindingHandler/);
  });

  it("weatherMonitor: checks the weather, texts on clear sky, and validates its input", async () => {
    const clear = await finished((await startSample("weatherMonitor", { location: { city: "Seattle", state: "WA", country: "US" }, phone: "+15555550102" })).id);
    assert.equal(clear.runtimeStatus, "Completed");
    assert.equal(clear.output, null);
    assert.ok(seen.some((s) => s.url === "/data/2.5/weather?q=Seattle%2CWA%2CUS&appid=test-key"), JSON.stringify(seen));
    const alerted = (await status(clear.instanceId, true)).historyEvents ?? [];
    assert.ok(alerted.some((e) => e.EventType === "TaskCompleted" && e.FunctionName === "sendGoodWeatherAlert"), `the alert was sent: ${JSON.stringify(alerted)}`);
    const twilio = logLines(/twilioSms/).filter((w) => /sendGoodWeatherAlert/.test(w.msg ?? w.message ?? ""));
    assert.equal(twilio.length, 1, "the text message's binding is reported once, naming the activity");

    const rainy = (await startSample("weatherMonitor", { location: { city: "Amsterdam", country: "NL" }, phone: "+15555550103" })).id;
    const waiting = await until(rainy, () => true, "x").then(async () => {
      for (;;) {
        const events = (await status(rainy, true)).historyEvents ?? [];
        if (events.some((e) => e.EventType === "TimerCreated")) return events;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    assert.ok(waiting.some((e) => e.EventType === "TaskCompleted" && e.Result === false), "not clear: a 30-second timer is next");
    await fetch(`${base}/runtime/webhooks/durabletask/instances/${rainy}/terminate?reason=done`, { method: "POST" });

    const cases: [unknown, string][] = [
      [{ phone: "1" }, "A location input is required."],
      [{ location: { country: "US" }, phone: "1" }, "A city is required on the location input."],
      [{ location: { city: "Redmond" }, phone: "1" }, "A country code is required on location input."],
      [{ location: { city: "Redmond", country: "USA" }, phone: "1" }, "A state code is required on location input for US locations."],
      [{ location: { city: "Redmond", state: "WA", country: "US" } }, "A phone number input is required."],
    ];
    for (const [input, message] of cases) {
      const s = await finished((await startSample("weatherMonitor", input)).id);
      assert.equal(s.runtimeStatus, "Failed");
      assert.ok(String(s.output).includes(message), `${JSON.stringify(input)} → ${String(s.output)}`);
    }
  });

  it("listAzureSubscriptions: a durable HTTP call with the managed identity's token", async () => {
    const s = await finished((await startSample("listAzureSubscriptions", null)).id);
    assert.equal(s.runtimeStatus, "Completed", JSON.stringify(s.output));
    const response = s.output as { statusCode: number; content: string; headers: Record<string, string> };
    assert.equal(response.statusCode, 200);
    assert.deepEqual(JSON.parse(response.content), { value: [{ subscriptionId: "00000000-0000-0000-0000-000000000001", displayName: "Stand-in subscription" }] });
    assert.equal(response.headers["content-type"], "application/json");
    assert.ok(seen.some((r) => r.url.startsWith("/msi/token?resource=https%3A%2F%2Fmanagement.core.windows.net") && r.identityHeader === SECRET));
    const history = JSON.stringify((await status(s.instanceId, true)).historyEvents);
    assert.doesNotMatch(history, /token:https/, "the token is not recorded");
  });

  it("orchestrationVersion: the instance has host.json's defaultVersion; a child gets the one passed, or the host's", async () => {
    const { id } = await startSample("versionedOrchestrator", null);
    await until(id, (s) => s.customStatus === "Waiting for Continue event...", "the Continue wait");
    await raise(id, "Continue", null);
    const s = await finished(id);
    assert.equal(s.customStatus, "Continue event received");
    assert.deepEqual(s.output, [
      "Orchestration version: 1.0",
      "Suborchestration version (explicit): 0.9",
      "Suborchestration version (default): 1.0",
      "Activity result: Hello from A",
    ]);
  });

  it("transferEntities: moves money between two locked accounts, or refuses without funds", async () => {
    await signalEntity("transferAccount", "alice", "add", 100);
    const done = await finished((await startSample("transferEntities", { fromKey: "alice", toKey: "bob", amount: 30 })).id);
    assert.deepEqual(done.output, { transferred: true, locks: 2 });
    assert.equal(await entityState("transferAccount", "alice"), 70);
    assert.equal(await entityState("transferAccount", "bob"), 30);
    const refused = await finished((await startSample("transferEntities", { fromKey: "bob", toKey: "alice", amount: 1000 })).id);
    assert.deepEqual(refused.output, { transferred: false, reason: "insufficient funds" });
    assert.equal(await entityState("transferAccount", "bob"), 30);
  });
});


/** The status at `statusUrl` once Completed (30 s at most). */
async function completedAt(statusUrl: string): Promise<Status> {
  for (let i = 0; ; i++) {
    const st = (await (await fetch(statusUrl)).json()) as Status;
    if (st.runtimeStatus === "Completed") return st;
    assert.ok(i < 300, JSON.stringify(st));
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("the same app with its imports unchanged", () => {
  it("every sample type-checks through a tsconfig paths mapping and runs under perdure start, which answers durable-functions and @azure/functions", async () => {
    const unchanged = join(dir, "unchanged");
    makeAppFolder(unchanged);
    rmSync(join(unchanged, "src", "functions"), { recursive: true });
    mkdirSync(join(unchanged, "src", "functions"));
    const samples = join(ROOT, "compat", "samples", "src", "functions");
    const files = readdirSync(samples).filter((f) => f.endsWith(".ts"));
    assert.equal(files.length, 14);
    for (const file of files) {
      const ported = readFileSync(join(samples, file), "utf8");
      const original = ported.replaceAll('"perdure/azure-functions"', '"@azure/functions"').replaceAll('"perdure"', '"durable-functions"');
      assert.doesNotMatch(original, /perdure/);
      writeFileSync(join(unchanged, "src", "functions", file), original);
    }
    const tsconfig = JSON.parse(readFileSync(join(unchanged, "tsconfig.json"), "utf8")) as { compilerOptions: Record<string, unknown> };
    tsconfig.compilerOptions.paths = {
      "durable-functions": ["./node_modules/perdure/dist/src/index.d.ts"],
      "@azure/functions": ["./node_modules/perdure/dist/src/azure-functions.d.ts"],
    };
    writeFileSync(join(unchanged, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    const r = tsc(unchanged);
    assert.equal(r.status, 0, r.output);
    assert.match(readFileSync(join(unchanged, "dist", "src", "functions", "httpStart.js"), "utf8"), /require\("@azure\/functions"\)/);

    const { url, stop } = await spawnHost(unchanged, ["--store", "memory:"]);
    try {
      const started = await fetch(`${url}/api/orchestrators/helloSequence`, { method: "POST", body: "null" });
      assert.equal(started.status, 202);
      const statusUrl = started.headers.get("location")!;
      assert.deepEqual((await completedAt(statusUrl)).output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);
    } finally {
      await stop();
    }
  });

  it("an ES module app importing durable-functions and @azure/functions runs as well", async () => {
    const esm = join(dir, "esm");
    mkdirSync(esm);
    writeFileSync(
      join(esm, "app.mjs"),
      [
        'import * as df from "durable-functions";',
        'import { app, HttpResponse } from "@azure/functions";',
        'df.app.activity("hi", { handler: (name) => "hi " + name });',
        'df.app.orchestration("greet", function* (context) { return yield context.df.callActivity("hi", context.df.getInput()); });',
        'app.http("ping", {',
        '  methods: ["GET"],',
        '  extraInputs: [df.input.durableClient()],',
        '  handler: async (request, context) => new HttpResponse({ jsonBody: { id: await df.getClient(context).startNew("greet", { input: "esm" }) } }),',
        "});",
      ].join("\n"),
    );
    const { url, stop } = await spawnHost(esm, ["app.mjs", "--store", "memory:"]);
    try {
      const { id } = (await (await fetch(`${url}/api/ping`)).json()) as { id: string };
      assert.equal((await completedAt(`${url}/runtime/webhooks/durabletask/instances/${id}`)).output, "hi esm");
    } finally {
      await stop();
    }
  });
});
