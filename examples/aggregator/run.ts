/**
 * Runs the aggregator example on the embedded SQLite store: `npm run example -- aggregator`.
 * Clears the metrics left by an earlier run (the built-in `delete` operation), then five simulated
 * sensors send 200 readings each at the same time while an `uploadReadings` orchestration signals 60
 * more. It waits until every reading is counted (polling `readEntityState`), prints the aggregates
 * (`listEntities` with `fetchState`), checks them against what was sent, and runs the `metricsReport`
 * orchestration twice: a plain report, then one that reads and resets the metrics in a critical section.
 */
import { createHost, type DurableClient } from "../../src/index.js";
import { CATALOG_ID, METRIC, type MetricState, metricId, type Report, REPORT, UPLOAD } from "./functions.js";
import { type ExpectedMetric, expectedMetrics, METRICS, sendReadings, sensors, simulatedReadings } from "./sources.js";

const SENSORS = 5;
const PER_SENSOR = 200;
const GATEWAY_READINGS = 60;

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done` holds for every metric's last committed state (or gives up after 60 s). */
async function waitForMetrics(client: DurableClient, done: (metric: string, state: MetricState | undefined) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const states = await Promise.all(METRICS.map(async (m) => [m, (await client.readEntityState<MetricState>(metricId(m))).entityState] as const));
    if (states.every(([m, s]) => done(m, s))) return;
    if (Date.now() > deadline) throw new Error(`Timed out; the metrics show ${JSON.stringify(Object.fromEntries(states.map(([m, s]) => [m, s?.count])))}`);
    await sleep(50);
  }
}

const fmt = (n: number | null): string => (n === null ? "-" : Number.isInteger(n) ? String(n) : n.toFixed(2));

try {
  // A clean slate: the metrics and the catalog persist in .perdure/perdure.db between runs.
  for (const id of [...METRICS.map(metricId), CATALOG_ID]) await host.client.signalEntity(id, "delete");
  await waitForMetrics(host.client, (_m, s) => s === undefined);

  const series = simulatedReadings([...sensors(SENSORS), "gateway"], PER_SENSOR);
  const gateway = series.pop()!.slice(0, GATEWAY_READINGS);
  series.push(gateway);
  const expected = expectedMetrics(series);
  const total = SENSORS * PER_SENSOR + GATEWAY_READINGS;

  const started = Date.now();
  const upload = await host.client.startNew(UPLOAD, { input: { source: "gateway", readings: gateway.map(({ metric, value }) => ({ metric, value })) } });
  // The sensors send at the same time, each its own readings in order; one more reading is not a number.
  await Promise.all([...series.slice(0, SENSORS).map((readings) => sendReadings(host.client, readings)), host.client.signalEntity(metricId("humidity"), "record", "n/a")]);
  console.log(`Sent ${SENSORS * PER_SENSOR + 1} signals from ${SENSORS} sensors (one reading is "n/a") and started ${UPLOAD} (${GATEWAY_READINGS} readings) in ${Date.now() - started} ms`);

  await waitForMetrics(host.client, (m, s) => s?.count === expected[m]!.count);
  console.log(`All ${total} readings counted after ${Date.now() - started} ms; the "n/a" reading failed alone and changed nothing\n`);
  const uploaded = await host.client.waitForCompletion(upload, { timeoutInMilliseconds: 30_000 });

  // listEntities reads every metric with its state in one query.
  const { entities } = await host.client.listEntities({ entityName: METRIC, fetchState: true });
  console.log("metric       count       sum    min    max   last     mean  out of order");
  let ok = uploaded.runtimeStatus === "Completed";
  for (const e of entities.sort((a, b) => (a.entityId.key < b.entityId.key ? -1 : 1))) {
    const s = e.state as MetricState;
    const mean = s.count ? s.sum / s.count : null;
    console.log(
      `${e.entityId.key.padEnd(11)} ${String(s.count).padStart(6)} ${String(s.sum).padStart(9)} ${fmt(s.min).padStart(6)} ${fmt(s.max).padStart(6)} ${fmt(s.last).padStart(6)} ${fmt(mean).padStart(8)}  ${s.outOfOrder}`,
    );
    const want: ExpectedMetric | undefined = expected[e.entityId.key];
    ok &&= !!want && s.count === want.count && s.sum === want.sum && s.min === want.min && s.max === want.max && s.outOfOrder === 0 && want.lastCandidates.includes(s.last!);
  }
  console.log(ok ? "Every aggregate matches the readings sent.\n" : "MISMATCH between the aggregates and the readings sent!\n");

  const report = await host.client.waitForCompletion(await host.client.startNew(REPORT), { timeoutInMilliseconds: 30_000 });
  const r = report.output as Report;
  console.log(`${REPORT}: ${r.metrics.length} metrics from the catalog, ${r.totalReadings} readings, busiest: ${r.busiest}`);
  for (const m of r.metrics) console.log(`  ${m.metric}: mean ${fmt(m.mean)} over ${m.count} readings from ${Object.keys(m.sources).length} sources`);

  const windowed = await host.client.waitForCompletion(await host.client.startNew(REPORT, { input: { reset: true } }), { timeoutInMilliseconds: 30_000 });
  const w = windowed.output as Report;
  const after = await Promise.all(METRICS.map(async (m) => (await host.client.readEntityState<MetricState>(metricId(m))).entityState?.count));
  console.log(`${REPORT} with reset (in a critical section): ${w.totalReadings} readings reported, counts now ${JSON.stringify(after)}`);
  ok &&= r.totalReadings === total && w.totalReadings === total && after.every((c) => c === 0);
  if (!ok) process.exitCode = 1;
} finally {
  await host.stop();
}
