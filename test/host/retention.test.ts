/**
 * Retention (createHost({ retention }), perdure start --retention): finished instances older than
 * their status's age are purged in the background, in batches with a log line and a metric each,
 * and nothing else is; with two hosts on one store, each pass runs on one of them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import { createHost, type Host } from "../../src/host/host.js";
import { RETENTION_JOB } from "../../src/host/retention.js";
import { type LogLine, recordingLogger } from "../helpers/logger.js";
import { main } from "../../src/cli/main.js";
import { ManualClock } from "../helpers/clock.js";
import { eventually, forEachStore } from "../helpers/hosts.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const INTERVAL = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function register(app: DurableApp): void {
  app.orchestration("done", function* () {
    return "ok";
  });
  app.orchestration("fails", function* () {
    throw new Error("on purpose");
  });
  app.orchestration("waits", function* (ctx) {
    return yield ctx.df.waitForExternalEvent("go");
  });
}

/** What a host said about retention, with each batch's status and count. */
function retentionLines(logger: { lines: LogLine[] }): { message: string; purged: number; status: string }[] {
  return logger.lines
    .filter((l) => l.message.startsWith("Retention"))
    .map((l) => ({ message: l.message, purged: Number(l.fields?.purged ?? 0), status: typeof l.fields?.status === "string" ? l.fields.status : "" }));
}

/** Waits until a pass of the clock's current interval has ended (on whichever host ran it). */
async function passEnded(host: Host, clock: ManualClock): Promise<void> {
  const interval = Math.floor(clock.now() / INTERVAL) * INTERVAL;
  await eventually(async () => {
    const r = await host.provider.readTimerOccurrence(RETENTION_JOB);
    return r !== undefined && r.last === interval && r.done === interval;
  }, 15_000, `the retention pass of ${new Date(interval).toISOString()} to end`);
}

async function ids(host: Host): Promise<string[]> {
  return (await host.client.getStatusAll()).map((s) => s.instanceId).sort();
}

forEachStore("retention", (start) => {
  it("purges exactly the finished instances older than their status's age, in batches, with a log line and a metric each", async () => {
    const clock = new ManualClock(T0);
    const logger = recordingLogger();
    const host = await start(register, { clock, logger, retention: { Completed: "1d", Failed: "3d", intervalMs: INTERVAL, batchSize: 2 } });
    const run = async (name: string, id: string, status: string): Promise<void> => {
      await host.client.startNew(name, { instanceId: id });
      await eventually(async () => (await host.client.getStatus(id)).runtimeStatus === status, 10_000, `${id} ${status}`);
    };
    // Finished at T0: five completed, one failed, one terminated; one still running.
    for (let i = 0; i < 5; i++) await run("done", `old-${i}`, "Completed");
    await run("fails", "failed", "Failed");
    await run("waits", "terminated", "Running");
    await host.client.terminate("terminated", "stop");
    await eventually(async () => (await host.client.getStatus("terminated")).runtimeStatus === "Terminated");
    await run("waits", "running", "Running");
    // Finished 12 hours later.
    clock.advance(12 * HOUR);
    await run("done", "recent", "Completed");
    await passEnded(host, clock);
    assert.equal(retentionLines(logger).length, 0, "nothing is a day old yet");

    // A day and a minute after T0: the five old completed ones go, in batches of 2; the rest stays.
    clock.advance(12 * HOUR + INTERVAL);
    await passEnded(host, clock);
    assert.deepEqual(await ids(host), ["failed", "recent", "running", "terminated"]);
    assert.deepEqual(retentionLines(logger).map((l) => [l.status, l.purged]), [["Completed", 2], ["Completed", 2], ["Completed", 1]]);
    assert.match(retentionLines(logger)[0]!.message, /^Retention: purged 2 Completed instances finished before 2026-01-01T00:01:00\.000Z \(kept 1d\)\.$/);
    assert.match(await host.worker.metrics.prometheus(), /^perdure_retention_purged_total\{status="Completed"\} 5$/m);

    // Three days and a minute after T0: the failed one and the recent completed one go; a terminated
    // instance (no age given) and a running one stay.
    clock.advance(2 * DAY);
    await passEnded(host, clock);
    assert.deepEqual(await ids(host), ["running", "terminated"]);
    assert.deepEqual(retentionLines(logger).slice(3).map((l) => [l.status, l.purged]), [["Completed", 1], ["Failed", 1]]);
    const metrics = await host.worker.metrics.prometheus();
    assert.match(metrics, /^perdure_retention_purged_total\{status="Completed"\} 6$/m);
    assert.match(metrics, /^perdure_retention_purged_total\{status="Failed"\} 1$/m);
    assert.match(metrics, /^perdure_retention_purged_total\{status="Terminated"\} 0$/m);
  });
});

describe("retention in a fleet", () => {
  const dir = mkdtempSync(join(tmpdir(), "perdure-retention-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("runs each pass on one host of those sharing a store", async () => {
    const clock = new ManualClock(T0);
    const store = `sqlite:${join(dir, "fleet.db")}`;
    const hosts: { host: Host; logger: ReturnType<typeof recordingLogger> }[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const app = createApp();
        register(app);
        const logger = recordingLogger();
        const host = createHost({ store, port: false, app, clock, logger, pollIntervalMs: 20, retention: { Completed: "1h", intervalMs: INTERVAL, batchSize: 1 } });
        await host.start();
        hosts.push({ host, logger });
      }
      const [a] = hosts.map((h) => h.host) as [Host];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 4; i++) await a.client.startNew("done", { instanceId: `r${round}-${i}` });
        await eventually(async () => (await a.client.countInstances()).Completed === 4, 10_000, "4 completed");
        clock.advance(HOUR + INTERVAL);
        await passEnded(a, clock);
        assert.deepEqual(await ids(a), []);
        // One batch of one per instance, all logged by the one host that ran this pass.
        const counts = hosts.map((h) => retentionLines(h.logger).length);
        assert.deepEqual(counts.slice().sort(), [0, 4], `one host ran the pass: ${JSON.stringify(counts)}`);
        for (const h of hosts) h.logger.lines.length = 0;
      }
    } finally {
      for (const { host } of hosts) await host.stop();
    }
  });
});

describe("retention options", () => {
  it("refuses a policy it cannot use, before anything starts", () => {
    const bad: [unknown, RegExp][] = [
      [{ Running: "1d" }, /'Running' is not a status retention purges/],
      [{ Completed: "1 day" }, /retention\.Completed must be a duration such as "30d"/],
      [{}, /retention names no status/],
      [{ Completed: "1d", intervalMs: 0 }, /retention\.intervalMs must be a number of milliseconds >= 10/],
      [{ Completed: "1d", batchSize: 0.5 }, /retention\.batchSize must be a whole number from 1 to 10000/],
      ["completed", /retention: 'completed' has no age/],
      [7, /retention must be an object such as/],
    ];
    for (const [retention, message] of bad) {
      assert.throws(() => createHost({ store: "memory:", port: false, retention: retention as never }), { code: "INVALID_ARGUMENT", message }, JSON.stringify(retention));
    }
    const host = createHost({ store: "memory:", port: false, retention: "completed=7d,failed=30d" });
    assert.deepEqual(host.retention, { ages: { Completed: 7 * DAY, Failed: 30 * DAY }, intervalMs: 60_000, batchSize: 500 });
  });

  it("perdure start --retention: a bad value is one line with the way out", async () => {
    let err = "";
    const code = await main(["start", "--retention", "running=1d"], {}, { out: () => undefined, err: (t) => void (err += t), isTTY: false, errTTY: false, columns: 80 });
    assert.equal(code, 2);
    assert.match(err, /^perdure: invalid --retention 'running=1d': 'running' is not a status retention purges: use Completed, Failed, Terminated, Canceled .*\(USAGE\)\n$/);
  });
});
