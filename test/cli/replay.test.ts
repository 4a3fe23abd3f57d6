/**
 * Safe deploys: `perdure instances export` writes the stored histories of real instances (finished,
 * waiting on an event, waiting on a timer) from a SQLite store and over HTTP, and `perdure replay`
 * (the real executable) replays them against the code that ran them and against changed code:
 * exit 0 when all replay, 1 with each divergence named, 2 for mistakes in the command.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApp, createHost, type HistoryEvent, type Host } from "../../src/index.js";
import type { CliIo } from "../../src/cli/io.js";
import { historyFileName } from "../../src/cli/export.js";
import { main } from "../../src/cli/main.js";
import { registerWorkflows, runInstances } from "./fixtures/replay/workflows.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const KEY = "replay-k3y";
const fixture = (name: string): string => join("test", "cli", "fixtures", "replay", name);

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The CLI in this process, output captured (export: no app is loaded). */
async function cli(argv: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, errTTY: false, columns: 100 };
  const code = await main(argv, {}, io, ROOT);
  return { code, out, err };
}

/** The real executable (each replay loads an app into a fresh process). */
function bin(argv: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin/perdure.js"), ...argv], { cwd: ROOT, env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1" } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

interface HistoryFile {
  format: string;
  instanceId: string;
  name: string;
  history: HistoryEvent[];
}

describe("perdure instances export / perdure replay", () => {
  let dir: string;
  let host: Host;
  let store: string;
  let exported: string;
  const file = (id: string): HistoryFile => JSON.parse(readFileSync(join(exported, historyFileName(id)), "utf8")) as HistoryFile;
  const indexOf = (id: string, match: (e: HistoryEvent) => boolean): number => file(id).history.findIndex(match);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "perdure-replay-cli-"));
    store = `sqlite:${join(dir, "store.db")}`;
    exported = join(dir, "histories");
    const app = createApp();
    registerWorkflows(app, "v1");
    host = createHost({ store, port: 0, app, key: KEY, logger: { info() {}, warn() {}, error() {} } });
    await host.start();
    await runInstances(host);
  });

  after(async () => {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("export --store --all: one file per instance, the stored events, a JSON summary", async () => {
    const r = await cli(["instances", "export", "--store", store, "--all", "--out", exported, "--json"]);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out) as { out: string; exported: { instanceId: string; name: string; events: number; file: string }[]; failed: unknown[] };
    assert.deepEqual(summary.exported.map((e) => [e.instanceId, e.name]).sort(), [["order-done", "order"], ["order-waiting", "order"], ["reminder-1", "reminder"]]);
    assert.deepEqual(summary.failed, []);
    assert.deepEqual(readdirSync(exported).sort(), ["order-done.json", "order-waiting.json", "reminder-1.json"]);
    for (const id of ["order-done", "order-waiting", "reminder-1"]) {
      const f = file(id);
      assert.equal(f.format, "perdure.history/1");
      assert.equal(f.instanceId, id);
      assert.deepEqual(f.history, (await host.client.getHistoryPage(id, { limit: 5000 })).events, "the stored events, not the display rows");
      assert.equal(summary.exported.find((e) => e.instanceId === id)?.events, f.history.length);
    }
  });

  it("export over HTTP, by filter or by IDs; text output", async () => {
    const over = join(dir, "over-http");
    const r = await cli(["instances", "export", "--url", host.url!, "--key", KEY, "--status", "Running", "--name", "order", "--out", over]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^exported order-waiting \(order, \d+ events\) to .*order-waiting\.json\n$/);
    assert.equal(r.err, `1 of 1 history exported to ${over}\n`);
    const byId = await cli(["instances", "export", "--url", host.url!, "--key", KEY, "reminder-1", "nope", "--out", over, "--json"]);
    assert.equal(byId.code, 1, "an unknown ID fails, the others are written");
    const s = JSON.parse(byId.out) as { exported: { instanceId: string }[]; failed: { instanceId: string; code: string }[] };
    assert.deepEqual(s.exported.map((e) => e.instanceId), ["reminder-1"]);
    assert.deepEqual(s.failed.map((f) => [f.instanceId, f.code]), [["nope", "INSTANCE_NOT_FOUND"]]);
    assert.deepEqual(JSON.parse(readFileSync(join(over, "order-waiting.json"), "utf8")), file("order-waiting"), "the same file over HTTP as from the store");
  });

  it("export: mistakes in the command exit 2", async () => {
    for (const [args, pattern] of [
      [["--all"], /missing --out <dir>/],
      [["--out", dir], /missing <id>, or a filter .* or --all/],
      [["order-done", "--status", "Running", "--out", dir], /give instance IDs or a filter/],
      [["--status", "Sleeping", "--out", dir], /unknown status 'Sleeping'/],
    ] as const) {
      const r = await cli(["instances", "export", "--store", store, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, pattern);
      assert.match(r.err, /\(USAGE\)\n$/);
    }
    assert.equal(historyFileName("a/b:c"), "a%2fb%3ac.json");
    assert.equal(historyFileName(".."), "%2e..json");
  });

  it("replay: the code that ran replays every history (exit 0)", async () => {
    const r = await bin(["replay", fixture("v1.ts"), exported]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "ok       order-done (order)\nok       order-waiting (order)\nok       reminder-1 (reminder)\n");
    assert.match(r.err, /^3 histories replayed: 3 ok, 0 diverged\n$/);
  });

  it("replay: a reordered activity, a renamed one, an added timer, a removed event wait (exit 1, each divergence named)", async () => {
    const [reordered, renamed, timer, removed] = await Promise.all([
      bin(["replay", fixture("reordered.ts"), exported]),
      bin(["replay", fixture("renamed.ts"), join(exported, "order-done.json"), join(exported, "reminder-1.json")]),
      bin(["replay", fixture("added-timer.ts"), exported, "--json"]),
      bin(["replay", fixture("removed-wait.ts"), exported]),
    ]);
    assert.equal(reordered.code, 1, reordered.err);
    const reserve = indexOf("order-done", (e) => e.type === "TaskScheduled" && e.name === "reserve");
    assert.match(
      reordered.out,
      new RegExp(
        `^DIVERGED order-done \\(order\\) at event ${reserve} \\(NONDETERMINISM\\), .*order-done\\.json\n` +
          `  recorded: an activity task named 'reserve' \\(sequence 0\\)\n` +
          `  now:      an activity task named 'charge' \\(sequence 0\\)\n` +
          `  source:   test/cli/fixtures/replay/workflows\\.ts:\\d+:\\d+\n`,
      ),
    );
    assert.match(reordered.out, /\nok {7}reminder-1 \(reminder\)\n$/);
    assert.match(reordered.err, /3 histories replayed: 1 ok, 2 diverged/);

    assert.equal(renamed.code, 1);
    const charge = indexOf("order-done", (e) => e.type === "TaskScheduled" && e.name === "charge");
    assert.match(renamed.out, new RegExp(`DIVERGED order-done \\(order\\) at event ${charge} .*\n  recorded: an activity task named 'charge' \\(sequence 1\\)\n  now:      an activity task named 'chargeCard' \\(sequence 1\\)\n`));
    assert.match(renamed.err, /2 histories replayed: 1 ok, 1 diverged/);

    assert.equal(timer.code, 1);
    const report = JSON.parse(timer.out) as { ok: number; diverged: number; results: { file: string; instanceId: string; ok: boolean; eventIndex?: number; recorded?: string; now?: string; source?: string; code?: string }[] };
    assert.equal(report.ok, 1);
    assert.equal(report.diverged, 2);
    const t = report.results.find((x) => x.instanceId === "order-waiting")!;
    assert.equal(t.eventIndex, indexOf("order-waiting", (e) => e.type === "TaskScheduled" && e.name === "charge"));
    assert.equal(t.recorded, "an activity task named 'charge' (sequence 1)");
    assert.match(t.now!, /^a timer firing at .* \(sequence 1\)$/);
    assert.match(t.source!, /workflows\.ts:\d+:\d+$/);
    assert.match(t.file, /order-waiting\.json$/);

    assert.equal(removed.code, 1);
    assert.match(removed.out, /DIVERGED order-done \(order\) at event \d+ .*\n {2}recorded: nothing more in this step \(the history goes on with the external event 'shipped' at event \d+\)\n {2}now: {6}an activity task named 'notify' \(sequence 2\)\n/);
    assert.match(removed.out, /DIVERGED order-waiting \(order\) at event \d+ .*\n {2}recorded: nothing more in this step \(the instance was waiting here when the history was exported\)\n/);
  });

  it("replay: an orchestrator missing from the app", async () => {
    const r = await bin(["replay", fixture("missing.ts"), exported]);
    assert.equal(r.code, 1);
    assert.match(r.out, /DIVERGED order-done \(order\) at event \d+ \(FUNCTION_NOT_FOUND\), .*\n {2}recorded: the orchestrator 'order' started\n {2}now: {6}the app has no orchestrator named 'order' \(it has 'reminder', 'fanout'\)\n/);
  });

  it("replay: bad history files and mistakes in the command exit 2 with one line and a code", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "broken.json"), "{ not json");
    writeFileSync(join(bad, "other.json"), JSON.stringify({ format: "something/2", instanceId: "x", history: [] }));
    writeFileSync(join(bad, "events.json"), JSON.stringify({ format: "perdure.history/1", instanceId: "x", history: [{ type: "ExecutionStarted" }, 42] }));
    mkdirSync(join(dir, "empty"));
    const cases: [string[], RegExp][] = [
      [[join(bad, "broken.json")], /broken\.json is not JSON \(.*\)\. \(HISTORY_FILE_INVALID\)\n$/],
      [[join(bad, "other.json")], /other\.json has format "something\/2", not "perdure\.history\/1" .* \(HISTORY_FILE_INVALID\)\n$/],
      [[join(bad, "events.json")], /events\.json holds an event that is not a history event .* at index 1\. \(HISTORY_FILE_INVALID\)\n$/],
      [[join(dir, "nowhere.json")], /'.*nowhere\.json' not found .* \(HISTORY_FILE_NOT_FOUND\)\n$/],
      [[join(dir, "empty")], /holds no \.json history files .* \(HISTORY_FILE_NOT_FOUND\)\n$/],
    ];
    const runs = await Promise.all([
      ...cases.map(([files]) => bin(["replay", fixture("v1.ts"), ...files])),
      bin(["replay"]),
      bin(["replay", fixture("v1.ts")]),
      bin(["replay", fixture("v1.ts"), exported, "--fast"]),
      bin(["replay", "no-such-app.ts", exported]),
    ]);
    cases.forEach(([, pattern], i) => {
      assert.equal(runs[i]!.code, 2, runs[i]!.err);
      assert.match(runs[i]!.err, pattern);
      assert.equal(runs[i]!.out, "");
    });
    const [noEntry, noFiles, unknownFlag, noApp] = runs.slice(cases.length);
    assert.equal(noEntry!.code, 2);
    assert.match(noEntry!.err, /perdure replay: missing <entry>: .* \(USAGE\)\n$/);
    assert.equal(noFiles!.code, 2);
    assert.match(noFiles!.err, /perdure replay: missing history files: .* \(USAGE\)\n$/);
    assert.equal(unknownFlag!.code, 2);
    assert.match(unknownFlag!.err, /Unknown option '--fast'.* \(USAGE\)\n$/);
    assert.equal(noApp!.code, 1, "the app itself cannot load: as perdure start");
    assert.match(noApp!.err, /entry file 'no-such-app\.ts' not found .* \(ENTRY_NOT_FOUND\)\n$/);
  });

  it("a history longer than a page of the history API is exported whole, and replays", async () => {
    await host.client.startNew("fanout", { instanceId: "fanout-1", input: 600 });
    await host.client.waitForCompletion("fanout-1", { timeoutInMilliseconds: 60_000 });
    const long = join(dir, "long");
    const r = await cli(["instances", "export", "--url", host.url!, "--key", KEY, "fanout-1", "--out", long, "--json"]);
    assert.equal(r.code, 0, r.err);
    const f = JSON.parse(readFileSync(join(long, "fanout-1.json"), "utf8")) as HistoryFile;
    assert.ok(f.history.length > 1200, `a long history (${f.history.length} events)`);
    assert.deepEqual(f.history, await host.provider.getHistory("fanout-1"));
    const replayed = await bin(["replay", fixture("v1.ts"), long]);
    assert.equal(replayed.code, 0, replayed.err);
    assert.equal(replayed.out, "ok       fanout-1 (fanout)\n");
  });

  it("perdure --help names the command", async () => {
    const r = await cli(["--help"]);
    assert.match(r.out, /perdure replay <entry> <file\.json \| folder>\.\.\. \[--json\]/);
    assert.match(r.out, /perdure instances export <id>\.\.\. --out <dir>/);
    assert.match(r.out, /perdure --version {3}the installed version/);
  });
});
