/**
 * Metrics: `GET /metrics` in the Prometheus text format (work items, step latency, backlog, lease
 * take-overs, parked instances, activity re-runs), behind the key when the host has one, and the
 * same figures through an OpenTelemetry meter provider.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { createApp, createHost, type DurableApp, type Host } from "../../src/index.js";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { eventually } from "../helpers/hosts.js";

/** Collects on demand (what a periodic reader does on its timer). */
class OnDemandReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function register(app: DurableApp): void {
  let changed = false;
  app.activity("double", { handler: (n: number) => n * 2 });
  app.activity("flipper", {
    handler: () => {
      changed = true;
      return 1;
    },
  });
  app.orchestration("sum", function* (ctx) {
    const xs: number[] = yield ctx.df.Task.all([1, 2, 3].map((n) => ctx.df.callActivity("double", n)));
    return xs.reduce((a, b) => a + b, 0);
  });
  // Replays differently once its activity ran: the instance parks as NONDETERMINISM.
  app.orchestration("shifty", function* (ctx) {
    yield ctx.df.callActivity(changed ? "double" : "flipper", 1);
    yield ctx.df.waitForExternalEvent("never");
  });
}

function sample(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `${name}${labels} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("metrics", () => {
  it("GET /metrics: work items, step latency, backlog, parked instances, in the Prometheus text format", async () => {
    const app = createApp();
    register(app);
    const reader = new OnDemandReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const host: Host = createHost({ store: "sqlite::memory:", port: 0, app, logger: silentLogger, executorCacheSize: 0, meterProvider, key: "m3trics" });
    await host.start();
    try {
      assert.equal((await host.client.waitForCompletion(await host.client.startNew("sum"))).output, 12);
      await host.client.startNew("shifty", { instanceId: "shifty-1" });
      await eventually(async () => (await host.client.getStatus("shifty-1")).parked?.code === "NONDETERMINISM");

      assert.equal((await fetch(`${host.url}/metrics`)).status, 401, "the key protects the metrics too");
      const res = await fetch(`${host.url}/metrics?code=m3trics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const line of text.trimEnd().split("\n")) assert.match(line, /^(# (HELP|TYPE) perdure_\w+ .+|perdure_\w+(\{[^}]*\})? -?\d+(\.\d+)?(e-?\d+)?)$/, `a valid exposition line: '${line}'`);
      assert.ok(sample(text, "perdure_work_items_total", '{kind="orchestration"}') >= 3, "steps of 'sum' and 'shifty'");
      assert.ok(sample(text, "perdure_work_items_total", '{kind="activity"}') >= 4, "three doubles and the flipper");
      const count = sample(text, "perdure_step_duration_seconds_count", '{kind="orchestration"}');
      assert.ok(count >= 3);
      assert.equal(sample(text, "perdure_step_duration_seconds_bucket", '{kind="orchestration",le="+Inf"}'), count);
      const buckets = text.split("\n").filter((l) => l.startsWith('perdure_step_duration_seconds_bucket{kind="orchestration"'));
      const values = buckets.map((l) => Number(l.slice(l.lastIndexOf(" ") + 1)));
      assert.deepEqual([...values].sort((a, b) => a - b), values, "cumulative buckets");
      assert.equal(sample(text, "perdure_parked_instances"), 1);
      assert.ok(sample(text, "perdure_parked_steps_total") >= 1);
      assert.equal(sample(text, "perdure_activity_reruns_total"), 0);
      assert.equal(sample(text, "perdure_lease_takeovers_total", '{kind="orchestration"}'), 0);
      assert.ok(sample(text, "perdure_backlog", '{kind="orchestration"}') >= 0);

      const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
      const names = new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m] as const)));
      for (const n of ["perdure.work_items", "perdure.step.duration", "perdure.backlog", "perdure.instances.parked", "perdure.instances.parked_events"]) assert.ok(names.has(n), `${n} reported to the meter provider`);
      const parked = names.get("perdure.instances.parked")!;
      assert.equal(parked.dataPoints[0]?.value, 1);
      const items = names.get("perdure.work_items")!;
      const activities = items.dataPoints.find((d) => d.attributes.kind === "activity");
      assert.ok((activities?.value as number) >= 4);
    } finally {
      await host.stop();
    }
  });

  it("counts a lease taken over from a host that vanished, and the activity it runs again", async () => {
    // A "host" that leases work and is never heard of again: a second handle on the store that
    // locks and never commits. The hosts started after it must wait out its leases.
    const dir = mkdtempSync(join(tmpdir(), "perdure-metrics-"));
    const store = `sqlite:${join(dir, "m.db")}`;
    const vanished = new SqliteProvider({ filename: join(dir, "m.db") });
    const hosts: Host[] = [];
    const start = async (register: (app: DurableApp) => void, workers = true): Promise<Host> => {
      const app = createApp();
      register(app);
      const host = createHost({ store, port: false, app, logger: silentLogger, pollIntervalMs: 20, workers });
      await host.start();
      hosts.push(host);
      return host;
    };
    const orchestration = (app: DurableApp): void => {
      app.orchestration("once", function* (ctx) {
        return yield ctx.df.callActivity("work", 21);
      });
    };
    try {
      const client = await start(orchestration, false);
      const id = await client.client.startNew("once");
      await vanished.initialize();
      const [step] = await vanished.lockOrchestrationWorkItems({ workerId: "vanished", now: Date.now(), leaseMs: 300, max: 1 });
      assert.equal(step?.instanceId, id, "the vanished host holds the instance");

      // This host runs orchestrations only: it takes the instance over once the lease is out.
      const stepper = await start(orchestration);
      const takenOver = async (): Promise<boolean> => sample(await stepper.worker.metrics.prometheus(), "perdure_lease_takeovers_total", '{kind="orchestration"}') === 1;
      await eventually(takenOver, 10_000, "the take-over counted");
      await eventually(async () => (await vanished.lockActivityWorkItems({ workerId: "vanished", now: Date.now(), leaseMs: 300, max: 1 })).length === 1, 10_000, "the vanished host leases the activity");

      // This one has the activity: it runs it again once that lease is out too.
      const runner = await start((app) => {
        orchestration(app);
        app.activity("work", { handler: (n: number) => n * 2 });
      });
      assert.equal((await client.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 })).output, 42);
      assert.equal(sample(await runner.worker.metrics.prometheus(), "perdure_activity_reruns_total"), 1);
      assert.equal(sample(await stepper.worker.metrics.prometheus(), "perdure_activity_reruns_total"), 0);
    } finally {
      for (const host of hosts) await host.stop();
      await vanished.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts ready work as backlog while no host takes it", async () => {
    const app = createApp();
    register(app);
    const client = createHost({ store: "memory:", port: 0, app, logger: silentLogger, workers: false });
    await client.start();
    try {
      for (let i = 0; i < 3; i++) await client.client.startNew("sum");
      const text = await (await fetch(`${client.url}/metrics`)).text();
      assert.equal(sample(text, "perdure_backlog", '{kind="orchestration"}'), 3);
      assert.equal(sample(text, "perdure_work_items_total", '{kind="orchestration"}'), 0, "a host without workers processed nothing");
    } finally {
      await client.stop();
    }
  });
});
