import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CATALOG_ID,
  METRIC,
  type MetricCatalog,
  metricId,
  type MetricState,
  type MetricSummary,
  register,
  type Report,
  REPORT,
  UPLOAD,
} from "../../examples/aggregator/functions.js";
import { type ExpectedMetric, expectedMetrics, METRICS, sendReadings, sensors, type SimulatedReading, simulatedReadings } from "../../examples/aggregator/sources.js";
import { type DurableApp, type DurableClient, EntityId, EntityOperationFailedError, signalProxy } from "../../src/index.js";
import { eventually, STORES, withExampleHost } from "./harness.js";
import { storedHistory } from "../helpers/hosts.js";

/** Waits until every metric has applied `counts[metric]` readings; returns the states. */
async function countsReach(client: DurableClient, counts: Record<string, number>, timeoutMs = 15_000): Promise<Record<string, MetricState>> {
  return eventually(
    `the metrics to reach ${JSON.stringify(counts)}`,
    async () => {
      const out: Record<string, MetricState> = {};
      for (const [metric, count] of Object.entries(counts)) {
        const s = await client.readEntityState<MetricState>(metricId(metric));
        if (!s.entityExists || s.entityState?.count !== count) return undefined;
        out[metric] = s.entityState;
      }
      return out;
    },
    timeoutMs,
  );
}

/** Checks a stored state against what the readings must give, exactly. */
function assertMatches(state: MetricState, want: ExpectedMetric, series: readonly (readonly SimulatedReading[])[]): void {
  assert.equal(state.count, want.count, `${want.metric}: count`);
  assert.equal(state.sum, want.sum, `${want.metric}: sum`);
  assert.equal(state.min, want.min, `${want.metric}: min`);
  assert.equal(state.max, want.max, `${want.metric}: max`);
  assert.ok(want.lastCandidates.includes(state.last!), `${want.metric}: last ${state.last} is the last reading of one of the sources ${JSON.stringify(want.lastCandidates)}`);
  // Each sender's operations arrive in its sending order: no sequence number ever went backwards.
  assert.equal(state.outOfOrder, 0, `${want.metric}: readings applied out of their source's order`);
  const sources: MetricState["sources"] = {};
  for (const readings of series) {
    const mine = readings.filter((r) => r.metric === want.metric);
    if (mine.length) sources[mine[0]!.source] = { count: mine.length, lastSeq: mine[mine.length - 1]!.seq };
  }
  assert.deepEqual(state.sources, sources, `${want.metric}: per-source counts and last sequence numbers`);
}

const summaryOf = (want: ExpectedMetric, last: number | null): MetricSummary => ({
  metric: want.metric,
  count: want.count,
  sum: want.sum,
  min: want.min,
  max: want.max,
  last,
  mean: want.mean,
  sources: want.sources,
  outOfOrder: want.outOfOrder,
});

/** The example's functions plus an orchestration that calls `record` directly, to see a failed operation's error. */
function registerWithProbe(app: DurableApp): void {
  register(app);
  app.orchestration("recordDirectly", function* (context) {
    const { metric, readings } = context.df.getInput<{ metric: string; readings: unknown[] }>();
    const outcomes: string[] = [];
    for (const r of readings) {
      try {
        yield context.df.callEntity(metricId(metric), "record", r);
        outcomes.push("ok");
      } catch (err) {
        assert.ok(err instanceof EntityOperationFailedError);
        outcomes.push(`${err.code}: ${err.message}`);
      }
    }
    const summary: MetricSummary = yield context.df.callEntity(metricId(metric), "get");
    return { outcomes, summary };
  });
}

for (const store of STORES) {
  describe(`example aggregator (${store})`, () => {
    it("a concurrent burst from 4 sensors and an uploadReadings orchestration adds up exactly, in each sender's order", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const series = simulatedReadings([...sensors(4), "gateway"], 100);
        const gateway = series[4]!;
        const expected = expectedMetrics(series);

        const upload = await host.client.startNew(UPLOAD, { input: { source: "gateway", readings: gateway.map(({ metric, value }) => ({ metric, value })) } });
        await Promise.all(series.slice(0, 4).map((readings) => sendReadings(host.client, readings)));
        const states = await countsReach(host.client, Object.fromEntries(METRICS.map((m) => [m, expected[m]!.count])));
        for (const m of METRICS) assertMatches(states[m]!, expected[m]!, series);
        assert.equal(METRICS.reduce((n, m) => n + states[m]!.count, 0), 500);

        const uploaded = await host.client.waitForCompletion(upload, { timeoutInMilliseconds: 10_000 });
        assert.equal(uploaded.runtimeStatus, "Completed");
        assert.equal(uploaded.output, 100);

        // listEntities with fetchState gives the same states; without it, no state.
        const listed = await host.client.listEntities({ entityName: METRIC, fetchState: true });
        assert.deepEqual(listed.entities.map((e) => e.entityId.key).sort(), [...METRICS]);
        for (const e of listed.entities) {
          assert.ok(e.entityId instanceof EntityId);
          assert.equal(e.entityId.name, METRIC);
          assert.ok(e.lastOperationTime instanceof Date);
          assert.deepEqual(e.state, states[e.entityId.key]);
        }
        const bare = await host.client.listEntities({ entityName: "Metric" });
        assert.equal(bare.entities.length, 3, "entity names are case-insensitive");
        assert.ok(bare.entities.every((e) => !("state" in e)));

        // Paging: one entity per page.
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await host.client.listEntities({ entityName: METRIC, pageSize: 1, ...(token ? { continuationToken: token } : {}) });
          assert.ok(page.entities.length <= 1);
          keys.push(...page.entities.map((e) => e.entityId.key));
          token = page.continuationToken;
        } while (token);
        assert.deepEqual(keys.sort(), [...METRICS]);

        // The first reading of each metric registered it with the class-based catalog (an entity-to-entity signal).
        const catalog = await eventually("the catalog to list the three metrics", async () => {
          const c = await host.client.readEntityState<MetricCatalog>(CATALOG_ID);
          return c.entityState?.metrics.length === 3 ? c.entityState : undefined;
        });
        assert.deepEqual(catalog, { metrics: [...METRICS] });
        const all = await host.client.listEntities({ fetchState: true });
        assert.deepEqual(all.entities.map((e) => e.entityId.toString()).sort(), ["@catalog@all", ...METRICS.map((m) => `@metric@${m}`)]);

        // Entities are not orchestrations: orchestration queries leave them out.
        assert.deepEqual((await host.client.getStatusAll()).map((s) => s.instanceId), [upload]);
      });
    });

    it("a reading that is not a number fails only itself: the caller gets EntityOperationFailedError and the state is unchanged", async () => {
      await withExampleHost(store, registerWithProbe, async ({ host }) => {
        // Signalled: the bad reading and the unknown operation fail alone; the good readings around them count.
        await host.client.signalEntity(metricId("temperature"), "record", 20);
        await host.client.signalEntity(metricId("temperature"), "record", "n/a");
        // NaN cannot travel as JSON: the client refuses it instead of sending null.
        await assert.rejects(host.client.signalEntity(metricId("temperature"), "record", { value: Number.NaN }), { code: "PAYLOAD_NOT_SERIALIZABLE", message: /NaN at \$\.value/ });
        await host.client.signalEntity(metricId("temperature"), "record", { value: null });
        await host.client.signalEntity(metricId("temperature"), "explode");
        await host.client.signalEntity(metricId("temperature"), "record", { value: 22, source: "manual" }); // a source without sequence numbers
        await host.client.signalEntity(metricId("temperature"), "record", { value: 19, source: "manual" });
        await host.client.signalEntity(metricId("temperature"), "record", 24);
        const { temperature } = await countsReach(host.client, { temperature: 4 });
        assert.deepEqual(temperature, { count: 4, sum: 85, min: 19, max: 24, last: 24, sources: { manual: { count: 2, lastSeq: null } }, outOfOrder: 0 });

        // Called: the error comes back to the orchestration, which carries on.
        const id = await host.client.startNew("recordDirectly", { input: { metric: "humidity", readings: [50, "wet", 70, { value: "x", source: "s" }, { value: 60, source: "s", seq: 1 }] } });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed");
        const out = status.output as { outcomes: string[]; summary: MetricSummary };
        assert.deepEqual(out.outcomes, [
          "ok",
          `ENTITY_OPERATION_FAILED: Operation 'record' of entity @metric@humidity failed: A reading must be a finite number, got "wet".`,
          "ok",
          `ENTITY_OPERATION_FAILED: Operation 'record' of entity @metric@humidity failed: A reading must be a finite number, got {"value":"x","source":"s"}.`,
          "ok",
        ]);
        assert.deepEqual(out.summary, { metric: "humidity", count: 3, sum: 180, min: 50, max: 70, last: 60, mean: 60, sources: { s: 1 }, outOfOrder: 0 });
      });
    });

    it("metricsReport reads the catalog's metrics with callEntity and builds the report", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const series = simulatedReadings(sensors(3), 30);
        const expected = expectedMetrics(series);
        await Promise.all(series.map((readings) => sendReadings(host.client, readings)));
        const states = await countsReach(host.client, Object.fromEntries(METRICS.map((m) => [m, expected[m]!.count])));
        await eventually("the catalog to list the three metrics", async () => ((await host.client.readEntityState<MetricCatalog>(CATALOG_ID)).entityState?.metrics.length === 3 ? true : undefined));

        const id = await host.client.startNew(REPORT);
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed");
        const report = status.output as Report;
        assert.deepEqual(report, {
          metrics: METRICS.map((m) => summaryOf(expected[m]!, states[m]!.last)),
          totalReadings: 90,
          busiest: "humidity", // 30 readings each: the first by name wins the tie
          reset: false,
        });

        // Named metrics, one of which has no readings: reading it does not create it.
        const named = await host.client.waitForCompletion(await host.client.startNew(REPORT, { input: { metrics: ["wind", "pressure"] } }), { timeoutInMilliseconds: 10_000 });
        assert.deepEqual(named.output, {
          metrics: [summaryOf(expected.pressure!, states.pressure!.last), { metric: "wind", count: 0, sum: 0, min: null, max: null, last: null, mean: null, sources: {}, outOfOrder: 0 }],
          totalReadings: 30,
          busiest: "pressure",
          reset: false,
        });
        assert.deepEqual(await host.client.readEntityState(metricId("wind")), { entityExists: false });
        assert.equal((await host.client.listEntities({ entityName: METRIC })).entities.length, 3);

        // An empty catalog gives an empty report.
        await host.client.signalEntity(CATALOG_ID, "delete");
        await eventually("the catalog to be deleted", async () => ((await host.client.readEntityState(CATALOG_ID)).entityExists ? undefined : true));
        const empty = await host.client.waitForCompletion(await host.client.startNew(REPORT, { input: { reset: true } }), { timeoutInMilliseconds: 10_000 });
        assert.deepEqual(empty.output, { metrics: [], totalReadings: 0, busiest: null, reset: false });
      });
    });

    it("metricsReport with reset reads and resets every metric in one critical section, while sensors keep sending: no reading is lost or counted twice", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const series = simulatedReadings(sensors(4), 120);
        const expected = expectedMetrics(series);
        // A first part of every series, so the three metrics and the catalog exist.
        await Promise.all(series.map((readings) => sendReadings(host.client, readings.slice(0, 6))));
        await eventually("the catalog to list the three metrics", async () => ((await host.client.readEntityState<MetricCatalog>(CATALOG_ID)).entityState?.metrics.length === 3 ? true : undefined));

        // The rest is sent in three parts, at a pace, each while a windowed report runs. A report's
        // lock request queues behind the readings sent before it, so every window after the first
        // one takes at least the part sent before it: the readings are split over several windows
        // however fast or slow the machine is.
        const report = async (): Promise<Report> => {
          const id = await host.client.startNew(REPORT, { input: { reset: true } });
          const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 });
          assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
          return status.output as Report;
        };
        const sendPart = (part: number): Promise<unknown> =>
          Promise.all(
            series.map(async (readings) => {
              const rest = readings.slice(6);
              const size = Math.ceil(rest.length / 3);
              for (const [i, r] of rest.slice(part * size, (part + 1) * size).entries()) {
                await host.client.signalEntity(metricId(r.metric), "record", { value: r.value, source: r.source, seq: r.seq });
                if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 2));
              }
            }),
          );
        const reports: Report[] = [];
        for (let part = 0; part < 3; part++) {
          const [, window] = await Promise.all([sendPart(part), report()]);
          reports.push(window);
        }
        reports.push(await report());
        assert.ok(reports.every((r) => r.reset && r.metrics.length === 3));
        assert.ok(reports.filter((r) => r.totalReadings > 0).length >= 2, `the readings were split over several windows: ${JSON.stringify(reports.map((r) => r.totalReadings))}`);

        // What the windows took plus what came after them is exactly what was sent.
        const after = await eventually("every reading to be applied", async () => {
          const out: Record<string, MetricState> = {};
          for (const m of METRICS) {
            const s = (await host.client.readEntityState<MetricState>(metricId(m))).entityState!;
            const taken = reports.reduce((n, r) => n + r.metrics.find((x) => x.metric === m)!.count, 0);
            if (taken + s.count !== expected[m]!.count) return undefined;
            out[m] = s;
          }
          return out;
        });
        for (const m of METRICS) {
          const windows = reports.map((r) => r.metrics.find((x) => x.metric === m)!);
          assert.equal(windows.reduce((n, w) => n + w.sum, 0) + after[m]!.sum, expected[m]!.sum, `${m}: sums add up`);
          assert.equal(Math.min(...[...windows, after[m]!].filter((w) => w.count > 0).map((w) => w.min!)), expected[m]!.min);
          assert.equal(Math.max(...[...windows, after[m]!].filter((w) => w.count > 0).map((w) => w.max!)), expected[m]!.max);
          for (const w of [...windows, after[m]!]) assert.equal(w.outOfOrder, 0);
        }

        // The critical sections ended with their orchestrations: no metric is left locked (the last
        // report's releases may still be on their way when its orchestration has completed).
        await eventually("every metric to be unlocked", async () => {
          for (const m of METRICS) {
            const row = await host.provider.getInstance(metricId(m).toString());
            if ((JSON.parse(row!.entityState!) as { lock?: unknown }).lock !== undefined) return undefined;
          }
          return true;
        });
        const history = await storedHistory(host, (await host.client.getStatusAll())[0]!.instanceId);
        const lockTraffic = history.map((e) => e.type).filter((t) => t === "EntityLockRequested" || t === "EntityUnlockSent");
        assert.deepEqual(lockTraffic, ["EntityLockRequested", "EntityUnlockSent", "EntityUnlockSent", "EntityUnlockSent"], "one lock request, one release per locked entity");
      });
    });

    it("the built-in delete removes a metric; its next reading recreates it and registers it again; the catalog is a class with typed signals", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        await host.client.signalEntity(metricId("pressure"), "record", 1000);
        await host.client.signalEntity(metricId("temperature"), "record", 18);
        await countsReach(host.client, { pressure: 1, temperature: 1 });
        await host.client.signalEntity(metricId("pressure"), "delete");
        await eventually("pressure to be deleted", async () => ((await host.client.readEntityState(metricId("pressure"))).entityExists ? undefined : true));
        assert.deepEqual((await host.client.listEntities({ entityName: METRIC })).entities.map((e) => e.entityId.key), ["temperature"]);

        // Typed signals to the class-based catalog from the client.
        const catalog = signalProxy<MetricCatalog, Promise<void>>(host.client, CATALOG_ID);
        await catalog.remove("pressure");
        await eventually("the catalog to drop pressure", async () => {
          const c = (await host.client.readEntityState<MetricCatalog>(CATALOG_ID)).entityState;
          return c && !c.metrics.includes("pressure") ? true : undefined;
        });
        assert.deepEqual((await host.client.readEntityState(CATALOG_ID)).entityState, { metrics: ["temperature"] });

        await host.client.signalEntity(metricId("pressure"), "record", 1012);
        const { pressure } = await countsReach(host.client, { pressure: 1 });
        assert.deepEqual(pressure, { count: 1, sum: 1012, min: 1012, max: 1012, last: 1012, sources: {}, outOfOrder: 0 });
        await eventually("the catalog to list pressure again", async () => {
          const c = (await host.client.readEntityState<MetricCatalog>(CATALOG_ID)).entityState;
          return c?.metrics.join() === "pressure,temperature" ? true : undefined;
        });

        // Keys are case-sensitive: "Pressure" is another metric.
        assert.deepEqual(await host.client.readEntityState(metricId("Pressure")), { entityExists: false });
        // cleanEntityStorage finds nothing to clean: deleted entities leave no row behind.
        assert.deepEqual(await host.client.cleanEntityStorage(), { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 0 });
        assert.equal(await host.provider.getInstance("@metric@Pressure"), undefined);
      });
    });
  });
}
