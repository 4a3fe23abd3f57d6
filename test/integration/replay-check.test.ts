/**
 * replayHistories: real instances on a SQLite store (finished, waiting on an event, waiting on a
 * timer), their stored histories replayed against the code that ran them (all OK) and against
 * changed code (reordered and renamed activities, an added timer, a removed event wait, a missing
 * orchestrator), each reported at the right event with both sides named and the source line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApp, createHost, type ExportedHistory, type HistoryEvent, type Host, InvalidArgumentError, replayHistories, type ReplayDivergence, type ReplayResult } from "../../src/index.js";
import { registerWorkflows, runInstances, type Variant } from "../cli/fixtures/replay/workflows.js";

const FIXTURE = readFileSync(new URL("../cli/fixtures/replay/workflows.ts", import.meta.url), "utf8").split("\n");
/** `workflows.ts:<line>:` of the fixture line holding `text`, as a pattern for a `source`. */
const sourceOf = (text: string): RegExp => new RegExp(`test/cli/fixtures/replay/workflows\\.ts:${FIXTURE.findIndex((l) => l.includes(text)) + 1}:\\d+$`);

function appOf(variant: Variant): ReturnType<typeof createApp> {
  const app = createApp();
  registerWorkflows(app, variant);
  return app;
}

const byId = (results: ReplayResult[], id: string): ReplayResult => results.find((r) => r.instanceId === id)!;

function divergence(results: ReplayResult[], id: string): ReplayDivergence {
  const r = byId(results, id);
  if (r.ok) assert.fail(`${id} diverges: ${JSON.stringify(r)}`);
  return r;
}

describe("replayHistories: the current code against stored histories", () => {
  let dir: string;
  let host: Host;
  let histories: ExportedHistory[];
  const indexOf = (id: string, match: (e: HistoryEvent) => boolean): number => histories.find((h) => h.instanceId === id)!.history.findIndex(match);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "perdure-replay-"));
    host = createHost({ store: `sqlite:${join(dir, "store.db")}`, port: false, app: appOf("v1"), logger: { info() {}, warn() {}, error() {} } });
    await host.start();
    await runInstances(host);
    histories = [];
    for (const instanceId of ["order-done", "order-waiting", "reminder-1"]) {
      histories.push({ instanceId, history: (await host.client.getHistoryPage(instanceId, { limit: 5000 })).events });
    }
  });

  after(async () => {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the code that ran replays every history (finished, waiting on an event, waiting on a timer)", () => {
    assert.deepEqual(replayHistories(appOf("v1"), histories), [
      { instanceId: "order-done", name: "order", ok: true },
      { instanceId: "order-waiting", name: "order", ok: true },
      { instanceId: "reminder-1", name: "reminder", ok: true },
    ]);
    // A registry does as well as the app.
    assert.ok(replayHistories(appOf("v1").registry, histories).every((r) => r.ok));
  });

  it("a reordered activity: the first scheduling event, both activities named, and the line that schedules", () => {
    const results = replayHistories(appOf("reordered"), histories);
    for (const id of ["order-done", "order-waiting"]) {
      const d = divergence(results, id);
      assert.equal(d.code, "NONDETERMINISM");
      assert.equal(d.eventIndex, indexOf(id, (e) => e.type === "TaskScheduled" && e.name === "reserve"));
      assert.equal(d.recorded, "an activity task named 'reserve' (sequence 0)");
      assert.equal(d.now, "an activity task named 'charge' (sequence 0)");
      assert.match(d.message, /Non-Deterministic workflow detected/);
      assert.match(d.source ?? "", sourceOf('callActivity("charge", input)'), "the line of the reordered call");
    }
    assert.equal(byId(results, "reminder-1").ok, true, "the unchanged orchestrator still replays");
  });

  it("a renamed activity", () => {
    const d = divergence(replayHistories(appOf("renamed"), histories), "order-waiting");
    assert.equal(d.eventIndex, indexOf("order-waiting", (e) => e.type === "TaskScheduled" && e.name === "charge"));
    assert.equal(d.recorded, "an activity task named 'charge' (sequence 1)");
    assert.equal(d.now, "an activity task named 'chargeCard' (sequence 1)");
    assert.match(d.source ?? "", sourceOf('"renamed" ? "chargeCard"'));
  });

  it("an added timer", () => {
    const d = divergence(replayHistories(appOf("added-timer"), histories), "order-done");
    assert.equal(d.eventIndex, indexOf("order-done", (e) => e.type === "TaskScheduled" && e.name === "charge"));
    assert.equal(d.recorded, "an activity task named 'charge' (sequence 1)");
    assert.match(d.now, /^a timer firing at \d{4}-.*Z \(sequence 1\)$/);
    assert.match(d.source ?? "", sourceOf('"added-timer") yield'));
  });

  it("an added event wait: the code schedules nothing where the history has a task, and says where it waits", () => {
    const d = divergence(replayHistories(appOf("added-wait"), histories), "order-done");
    assert.equal(d.eventIndex, indexOf("order-done", (e) => e.type === "TaskScheduled" && e.name === "charge"));
    assert.equal(d.recorded, "an activity task named 'charge' (sequence 1)");
    assert.match(d.now, /^nothing: it waits at waitForExternalEvent\('paid'\) \(test\/cli\/fixtures\/replay\/workflows\.ts:\d+:\d+\)$/);
    assert.match(d.source ?? "", sourceOf('"added-wait") yield'));
    assert.match(d.message, /hasn't \(yet\?\) scheduled this task/);
  });

  it("a removed event wait: the end of the step where the history waited, and what it waited for", () => {
    const results = replayHistories(appOf("removed-wait"), histories);
    const lastChargeStep = (id: string): number => {
      const done = indexOf(id, (e) => e.type === "TaskCompleted" && e.taskScheduledId === 1);
      return done + histories.find((h) => h.instanceId === id)!.history.slice(done).findIndex((e) => e.type === "OrchestratorCompleted");
    };
    const done = divergence(results, "order-done");
    assert.equal(done.eventIndex, lastChargeStep("order-done"));
    assert.match(done.recorded, /^nothing more in this step \(the history goes on with the external event 'shipped' at event \d+\)$/);
    assert.equal(done.now, "an activity task named 'notify' (sequence 2)");
    assert.match(done.source ?? "", sourceOf('callActivity("notify", shipped)'));
    const waiting = divergence(results, "order-waiting");
    assert.equal(waiting.eventIndex, lastChargeStep("order-waiting"));
    assert.equal(waiting.recorded, "nothing more in this step (the instance was waiting here when the history was exported)");
  });

  it("an orchestrator missing from the app is a divergence that names it", () => {
    const results = replayHistories(appOf("missing"), histories);
    const d = divergence(results, "order-done");
    assert.equal(d.code, "FUNCTION_NOT_FOUND");
    assert.equal(d.eventIndex, indexOf("order-done", (e) => e.type === "ExecutionStarted"));
    assert.equal(d.recorded, "the orchestrator 'order' started");
    assert.equal(d.now, "the app has no orchestrator named 'order' (it has 'reminder', 'fanout')");
    assert.equal(byId(results, "reminder-1").ok, true);
  });

  it("a history the code can never have made: an event of unknown type, and bad input", () => {
    const h = histories[0]!;
    const odd = { instanceId: "odd", history: [...h.history.slice(0, 3), { type: "FromTheFuture", eventId: -1, timestamp: h.history[0]!.timestamp } as unknown as HistoryEvent] };
    const d = divergence(replayHistories(appOf("v1"), [odd]), "odd");
    assert.equal(d.code, "HISTORY_UNREADABLE");
    assert.equal(d.eventIndex, 3);
    assert.equal(d.recorded, 'an event of type "FromTheFuture"');
    assert.deepEqual(replayHistories(appOf("v1"), [{ instanceId: "empty", history: [] }]), [{ instanceId: "empty", name: "", ok: true }], "not started: nothing to replay");
    assert.throws(() => replayHistories(appOf("v1"), [{ instanceId: "x" } as unknown as ExportedHistory]), InvalidArgumentError);
    assert.throws(() => replayHistories(appOf("v1"), [{ instanceId: "x", history: [1] } as unknown as ExportedHistory]), /event 0 is not a history event/);
  });
});
