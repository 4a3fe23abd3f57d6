/**
 * The operator CLI (`perdure instances ...`, `perdure entities ...`) against a running host over
 * HTTP (with its key) and directly against its SQLite store: every command, as JSON for scripts and
 * as a table, its effect checked through the client API afterwards, and its mistakes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { createApp, createHost, createRemoteClient, EntityId, type Host } from "../../src/index.js";
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { eventually } from "../helpers/hosts.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const KEY = "op-k3y";

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process with captured output; `tty` pretends both streams are terminals. */
async function cli(argv: string[], o: { tty?: boolean; columns?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: o.tty === true, errTTY: o.tty === true, columns: o.columns ?? 100 };
  const code = await main(argv, o.env ?? {}, io, ROOT);
  return { code, out, err };
}

function json<T = Record<string, unknown>>(r: Run): T {
  assert.equal(r.code, 0, `exit 0 expected: ${r.err}`);
  return JSON.parse(r.out) as T;
}

describe("perdure instances / entities (operator CLI)", () => {
  let dir: string;
  let host: Host;
  let store: string;
  let url: string;
  let flaky = 0;
  const remote = (): string[] => ["--url", url, "--key", KEY];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "perdure-op-"));
    store = `sqlite:${join(dir, "store.db")}`;
    const app = createApp();
    app.activity("double", { handler: (n: number) => n * 2 });
    app.activity("flaky", {
      handler: () => {
        flaky++;
        if (flaky === 1) throw new Error("first call fails");
        return "ok";
      },
    });
    app.orchestration("waiter", function* (ctx) {
      ctx.df.setCustomStatus({ stage: "waiting", note: "<b>not html</b>" });
      const v: unknown = yield ctx.df.waitForExternalEvent("go");
      return { got: v };
    });
    app.orchestration("doubler", function* (ctx) {
      return yield ctx.df.callActivity("double", ctx.df.getInput<number>());
    });
    app.orchestration("fragile", function* (ctx) {
      return yield ctx.df.callActivity("flaky");
    });
    app.entity<number>("counter", (ctx) => {
      const v = ctx.df.getState(() => 0);
      if (ctx.df.operationName === "add") ctx.df.setState(v + ctx.df.getInput<number>());
    });
    host = createHost({ store, port: 0, app, key: KEY, logger: { info() {}, warn() {}, error() {} } });
    await host.start();
    url = host.url!;
    const c = host.client;
    for (const id of ["w-1", "w-2", "w-3"]) await c.startNew("waiter", { instanceId: id });
    await c.startNew("doubler", { instanceId: "d-1", input: 21 });
    await c.startNew("fragile", { instanceId: "f-1" });
    await c.signalEntity(new EntityId("counter", "a"), "add", 5);
    await c.signalEntity(new EntityId("counter", "b"), "add", 7);
    await c.waitForCompletion("d-1");
    await eventually(async () => (await c.getStatus("f-1")).runtimeStatus === "Failed");
    await eventually(async () => (await c.getStatus("w-3")).customStatus !== null);
    await eventually(async () => (await c.readEntityState(new EntityId("counter", "b"))).entityExists);
  });

  after(async () => {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("perdure --version prints the package's version (the real executable)", async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "bin/perdure.js"), "--version"], { env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1" } });
    assert.equal(stdout, `perdure ${version}\n`);
  });

  it("instances list: JSON for scripts, a table otherwise, filters and pages", async () => {
    const all = json<{ instances: { instanceId: string; runtimeStatus: string; name: string }[] }>(await cli(["instances", "list", ...remote(), "--json"]));
    assert.deepEqual(all.instances.map((s) => s.instanceId).sort(), ["d-1", "f-1", "w-1", "w-2", "w-3"]);
    assert.equal(all.instances.find((s) => s.instanceId === "d-1")?.runtimeStatus, "Completed");

    const running = json<{ instances: { instanceId: string }[] }>(await cli(["instances", "list", ...remote(), "--status", "running", "--json"]));
    assert.deepEqual(running.instances.map((s) => s.instanceId).sort(), ["w-1", "w-2", "w-3"]);
    const prefixed = json<{ instances: { instanceId: string }[] }>(await cli(["instances", "list", "--store", store, "--prefix", "f-", "--json"]));
    assert.deepEqual(prefixed.instances.map((s) => s.instanceId), ["f-1"]);
    for (const where of [remote(), ["--store", store]]) {
      const byName = json<{ instances: { instanceId: string }[] }>(await cli(["instances", "list", ...where, "--name", "Waiter", "--json"]));
      assert.deepEqual(byName.instances.map((s) => s.instanceId).sort(), ["w-1", "w-2", "w-3"], "by orchestrator name, case-insensitively");
    }

    const page = json<{ instances: unknown[]; continuationToken?: string }>(await cli(["instances", "list", ...remote(), "--top", "2", "--json"]));
    assert.equal(page.instances.length, 2);
    assert.ok(page.continuationToken, "a continuation token when more remain");
    const next = json<{ instances: unknown[] }>(await cli(["instances", "list", ...remote(), "--top", "2", "--continuation", page.continuationToken, "--json"]));
    assert.equal(next.instances.length, 2);
    const every = json<{ instances: unknown[]; continuationToken?: string }>(await cli(["instances", "list", ...remote(), "--top", "2", "--all", "--json"]));
    assert.equal(every.instances.length, 5);
    assert.equal(every.continuationToken, undefined);

    const t = await cli(["instances", "list", ...remote(), "--top", "2"]);
    assert.equal(t.code, 0);
    const lines = t.out.trimEnd().split("\n");
    assert.match(lines[0]!, /^INSTANCE\s+NAME\s+STATUS\s+CREATED\s+UPDATED$/);
    assert.equal(lines.length, 3);
    assert.match(t.err, /^2 instances; more with --continuation \S+ \(or --all\)\n$/);

    const narrow = await cli(["instances", "list", "--store", store, "--status", "Failed"], { tty: true, columns: 40 });
    for (const line of narrow.out.trimEnd().split("\n")) assert.ok(line.length <= 40, `fits a 40-column terminal: '${line}'`);
    assert.match(narrow.out, /^f-1\s+fragi…\s+Failed\s+\d{4}-…/m, "the widest columns give up characters first");
  });

  it("instances count: every status counted by the store, with the list's filters and the orchestrator's name", async () => {
    const all = json<Record<string, number>>(await cli(["instances", "count", ...remote(), "--json"]));
    assert.deepEqual(all, { Running: 3, Pending: 0, Completed: 1, ContinuedAsNew: 0, Failed: 1, Canceled: 0, Terminated: 0, Suspended: 0 });
    assert.deepEqual(json(await cli(["instances", "count", "--store", store, "--name", "WAITER", "--json"])), { ...all, Completed: 0, Failed: 0 });
    assert.deepEqual(json(await cli(["instances", "count", ...remote(), "--prefix", "d-", "--status", "Completed,Failed", "--json"])), { ...all, Running: 0, Failed: 0 });
    const t = await cli(["instances", "count", "--store", store]);
    assert.equal(t.out, "STATUS     INSTANCES\nRunning    3\nCompleted  1\nFailed     1\ntotal      5\n");
  });

  it("GET /runtime/webhooks/durabletask/counts: 200 with every status, 400 for an unknown status, 401 without the key", async () => {
    const base = `${url}/runtime/webhooks/durabletask/counts`;
    const ok = await fetch(`${base}?runtimeStatus=Running&name=waiter`, { headers: { "x-functions-key": KEY } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as Record<string, number>).Running, 3);
    const bad = await fetch(`${base}?runtimeStatus=Nope`, { headers: { "x-functions-key": KEY } });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(base)).status, 401);
  });

  it("a history in pages, as stored, in process and over HTTP (GET /instances/{id}/history)", async () => {
    const full = await host.provider.getHistory("d-1");
    assert.ok(full.length >= 6);
    for (const client of [host.client, createRemoteClient(url, { key: KEY })]) {
      const pages: unknown[] = [];
      let from: number | undefined = 0;
      let count = 0;
      while (from !== undefined) {
        const page: { events: unknown[]; nextFrom?: number } = await client.getHistoryPage("d-1", { from, limit: 4 });
        assert.ok(page.events.length <= 4);
        pages.push(...page.events);
        from = page.nextFrom;
        count++;
      }
      assert.deepEqual(pages, JSON.parse(JSON.stringify(full)), "the pages put together are the stored history");
      assert.equal(count, Math.ceil(full.length / 4), "no empty last page");
      await assert.rejects(client.getHistoryPage("nope"), (e: Error & { code?: string }) => e.code === "INSTANCE_NOT_FOUND");
      await assert.rejects(client.getHistoryPage("d-1", { limit: 0 }), /limit must be a whole number from 1 to 5000/);
    }
    const bad = await fetch(`${url}/runtime/webhooks/durabletask/instances/d-1/history?from=-1`, { headers: { "x-functions-key": KEY } });
    assert.equal(bad.status, 400);
  });

  it("instances show and history: fields, values as JSON, the history as rows", async () => {
    const s = json<{ instanceId: string; runtimeStatus: string; customStatus: unknown }>(await cli(["instances", "show", "w-1", ...remote(), "--json"]));
    assert.deepEqual([s.instanceId, s.runtimeStatus, s.customStatus], ["w-1", "Running", { stage: "waiting", note: "<b>not html</b>" }]);
    const t = await cli(["instances", "show", "f-1", "--store", store]);
    assert.equal(t.code, 0);
    assert.match(t.out, /^Instance: +f-1$/m);
    assert.match(t.out, /^Status: +Failed$/m);
    assert.match(t.out, /^Failure: +.*first call fails/m);

    const h = json<{ EventType: string }[]>(await cli(["instances", "history", "d-1", ...remote(), "--json"]));
    assert.deepEqual(
      h.map((e) => e.EventType),
      ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"],
    );
    const ht = await cli(["instances", "history", "d-1", "--store", store]);
    assert.match(ht.out, /^#\s+TIME\s+EVENT\s+NAME\s+DETAILS$/m);
    assert.match(ht.out, /^1\s+\S+\s+TaskCompleted\s+double\s+.*42/m);

    const missing = await cli(["instances", "show", "nope", ...remote()]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^perdure instances show: .*nope.*\(INSTANCE_NOT_FOUND\)\n$/);
  });

  it("raise, suspend, resume, terminate, rewind, restart and purge do what they say", async () => {
    const c = host.client;
    let r = await cli(["instances", "raise", "w-1", "go", "--data", '"yes"', ...remote()]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "raised w-1 event 'go'\n");
    assert.deepEqual((await c.waitForCompletion("w-1")).output, { got: "yes" });

    assert.equal((await cli(["instances", "suspend", "w-2", ...remote()])).code, 0);
    await eventually(async () => (await c.getStatus("w-2")).runtimeStatus === "Suspended");
    assert.equal((await cli(["instances", "resume", "w-2", "--store", store])).code, 0);
    await eventually(async () => (await c.getStatus("w-2")).runtimeStatus === "Running");
    r = await cli(["instances", "terminate", "w-2", "--reason", "not needed", ...remote(), "--json"]);
    assert.deepEqual(json(r), { terminated: [{ instanceId: "w-2" }], failed: [] });
    await eventually(async () => (await c.getStatus("w-2")).runtimeStatus === "Terminated");
    assert.equal((await c.getStatus("w-2")).output, "not needed");

    assert.equal((await cli(["instances", "rewind", "f-1", ...remote()])).code, 0);
    // The rewind is queued (202): the instance stays Failed until a worker has taken it.
    await eventually(async () => (await c.getStatus("f-1")).runtimeStatus !== "Failed");
    assert.equal((await c.waitForCompletion("f-1")).output, "ok");

    r = await cli(["instances", "restart", "d-1", ...remote(), "--json"]);
    const restarted = json<{ restarted: { instanceId: string; message: string }[] }>(r).restarted[0]!;
    const newId = /^as (\S+)$/.exec(restarted.message)![1]!;
    assert.notEqual(newId, "d-1");
    assert.equal((await c.waitForCompletion(newId)).output, 42);
    r = await cli(["instances", "restart", "d-1", "--same-id", ...remote()]);
    assert.equal(r.out, "restarted d-1 as d-1\n");
    await c.waitForCompletion("d-1");

    r = await cli(["instances", "purge", newId, "never-was", ...remote()]);
    assert.equal(r.code, 1, "one of the two failed");
    assert.match(r.out, new RegExp(`^purged ${newId}\nfailed never-was: .*\n$`));
    assert.match(r.err, /^1 of 2 purged\n$/);
    await assert.rejects(c.getStatus(newId), (e: Error & { code?: string }) => e.code === "INSTANCE_NOT_FOUND");
  });

  it("bulk operations select by filter, ask for --yes, and show progress on a terminal", async () => {
    const c = host.client;
    for (let i = 0; i < 12; i++) await c.startNew("waiter", { instanceId: `bulk-${i}` });
    const asked = await cli(["instances", "terminate", "--prefix", "bulk-", ...remote()]);
    assert.equal(asked.code, 2);
    assert.match(asked.err, /the filter selects 12 instances; add --yes to go ahead/);
    for (let i = 0; i < 12; i++) assert.notEqual((await c.getStatus(`bulk-${i}`)).runtimeStatus, "Terminated", "nothing done without --yes");

    const r = await cli(["instances", "terminate", "--prefix", "bulk-", "--yes", ...remote()], { tty: true });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /\r\[#{30}\] 12\/12 terminated\n/);
    assert.match(r.err, /12 of 12 terminated\n$/);
    for (let i = 0; i < 12; i++) await eventually(async () => (await c.getStatus(`bulk-${i}`)).runtimeStatus === "Terminated");

    const purged = json<{ purged: unknown[]; failed: unknown[] }>(await cli(["instances", "purge", "--prefix", "bulk-", "--status", "Terminated", "--yes", "--store", store, "--json"]));
    assert.equal(purged.purged.length, 12);
    assert.equal((await c.listInstances({ instanceIdPrefix: "bulk-" })).instances.length, 0);
  });

  it("entities list, show and signal", async () => {
    const list = json<{ entities: { name: string; key: string; state?: unknown }[] }>(await cli(["entities", "list", ...remote(), "--state", "--json"]));
    assert.deepEqual(
      list.entities.map((e) => [e.name, e.key, e.state]).sort(),
      [
        ["counter", "a", 5],
        ["counter", "b", 7],
      ],
    );
    const t = await cli(["entities", "list", "--store", store, "--name", "counter"]);
    assert.match(t.out, /^NAME\s+KEY\s+LAST OPERATION$/m);
    assert.match(t.out, /^counter\s+a\s+\d{4}-/m);
    assert.match(t.err, /^2 entities\n$/);

    assert.deepEqual(json(await cli(["entities", "show", "counter", "a", ...remote(), "--json"])), { name: "counter", key: "a", entityExists: true, entityState: 5 });
    const shown = await cli(["entities", "show", "@counter@b", "--store", store]);
    assert.match(shown.out, /^Entity: +@counter@b\nState: +7\n$/);
    const none = await cli(["entities", "show", "counter", "zz", ...remote()]);
    assert.equal(none.code, 1);
    assert.match(none.err, /does not exist/);

    const s = await cli(["entities", "signal", "counter", "a", "add", "--data", "10", ...remote()]);
    assert.equal(s.out, "signaled @counter@a add\n");
    await eventually(async () => (await host.client.readEntityState<number>(new EntityId("counter", "a"))).entityState === 15);
    assert.equal((await cli(["entities", "signal", "counter", "b", "add", "--data", "1", "--store", store, "--json"])).code, 0);
    await eventually(async () => (await host.client.readEntityState<number>(new EntityId("counter", "b"))).entityState === 8);
  });

  it("instances list, count and show: the version of versioned instances, and --app-version to select by it", async () => {
    await host.client.startNew("doubler", { instanceId: "v-1", input: 1, version: "7.1" });
    await host.client.startNew("doubler", { instanceId: "v-2", input: 2, version: "7.10" });
    await host.client.waitForCompletion("v-1");
    await host.client.waitForCompletion("v-2");
    try {
      for (const where of [remote(), ["--store", store]]) {
        const picked = json<{ instances: { instanceId: string; version?: string }[] }>(await cli(["instances", "list", ...where, "--app-version", "7.1", "--json"]));
        assert.deepEqual(picked.instances.map((s) => [s.instanceId, s.version]), [["v-1", "7.1"]], "exactly 7.1, not 7.10");
        assert.deepEqual(json(await cli(["instances", "count", ...where, "--app-version", "7.10", "--json"])), { Running: 0, Pending: 0, Completed: 1, ContinuedAsNew: 0, Failed: 0, Canceled: 0, Terminated: 0, Suspended: 0 });
      }
      const t = await cli(["instances", "list", "--store", store, "--all"]);
      const lines = t.out.trimEnd().split("\n");
      assert.match(lines[0]!, /^INSTANCE\s+NAME\s+STATUS\s+VERSION\s+CREATED\s+UPDATED$/, "a version column once some instance has one");
      assert.match(t.out, /^v-2\s+doubler\s+Completed\s+7\.10\s/m);
      assert.match(t.out, /^d-1\s+doubler\s+Completed\s+-\s/m, "none shows as -");
      assert.match((await cli(["instances", "show", "v-1", ...remote()])).out, /^Version: +7\.1$/m);
      assert.doesNotMatch((await cli(["instances", "show", "d-1", ...remote()])).out, /^Version:/m);
    } finally {
      await host.client.purgeInstanceHistory("v-1");
      await host.client.purgeInstanceHistory("v-2");
    }
  });

  it("mistakes get one line, the way out and a non-zero exit", async () => {
    const cases: [string[], number, RegExp][] = [
      [["instances"], 2, /missing command: use list, count, show, history, raise, terminate/],
      [["instances", "frob"], 2, /unknown command 'frob'/],
      [["entities", "list"], 2, /name the host \(--url .*\) or the store \(--store/],
      [["instances", "list", "--url", "http://x", "--store", "memory:"], 2, /--url or --store, not both/],
      [["instances", "list", ...remote(), "--status", "Done"], 2, /unknown status 'Done': use Pending, Running/],
      [["instances", "list", ...remote(), "--top", "0"], 2, /invalid --top '0'/],
      [["instances", "list", ...remote(), "--created-from", "yesterday"], 2, /invalid --created-from 'yesterday': use an ISO time/],
      [["instances", "list", ...remote(), "--colour"], 2, /Unknown option '--colour'/],
      [["instances", "show", ...remote()], 2, /missing <id>/],
      [["instances", "raise", "w-3", "go", "--data", "yes", ...remote()], 2, /--data must be JSON \(a string is quoted/],
      [["instances", "terminate", ...remote()], 2, /missing <id>, or a filter/],
      [["instances", "terminate", "w-3", "--status", "Running", ...remote()], 2, /IDs or a filter .*not both/],
      [["instances", "list", "--url", url], 1, /401|key/i],
      [["instances", "list", "--url", "http://127.0.0.1:1"], 1, /cannot reach http:\/\/127\.0\.0\.1:1/],
      [["instances", "list", "--url", "not a url"], 1, /is not a URL/],
      [["entities", "show", "@bad", ...remote()], 2, /perdure entities show: /],
      [["frobnicate"], 2, /unknown command 'frobnicate': use start, instances, entities, replay or --version/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, code, `${argv.join(" ")}: exit ${code} (got ${r.code}: ${r.err})`);
      assert.match(r.err, message, argv.join(" "));
      assert.equal(r.err.trimEnd().split("\n").length, 1, `one line: ${r.err}`);
    }
    // The environment names the host and its key.
    const env = { PERDURE_URL: url, PERDURE_KEY: KEY };
    assert.equal((await cli(["instances", "list", "--json"], { env })).code, 0);
  });
});
