/**
 * Simulated sensors for the aggregator example (used by run.ts and the tests; not part of the app).
 * Each source produces a deterministic series of integer readings spread over three metrics and sends
 * them one after the other as `record` signals; several sources send at the same time.
 */
import type { DurableClient } from "../../src/index.js";
import { metricId, type MetricSummary } from "./functions.js";

export const METRICS = ["humidity", "pressure", "temperature"] as const;

export interface SimulatedReading {
  source: string;
  /** Position in the source's own sequence: 0, 1, 2, ... */
  seq: number;
  metric: string;
  value: number;
}

const RANGES: Record<string, [number, number]> = { humidity: [30, 90], pressure: [990, 1030], temperature: [12, 31] };

/** Source names `sensor-1` ... `sensor-<n>`. */
export const sensors = (n: number): string[] => Array.from({ length: n }, (_, i) => `sensor-${i + 1}`);

/**
 * `perSource` readings for each named source. Integers only, so sums are exact whatever order the
 * readings are applied in.
 */
export function simulatedReadings(sources: readonly string[], perSource: number): SimulatedReading[][] {
  return sources.map((source, s) => {
    let x = 7919 * (s + 1); // a small linear congruential generator per source: the same series every run
    return Array.from({ length: perSource }, (_, seq) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const metric = METRICS[(seq + s) % METRICS.length]!;
      const [lo, hi] = RANGES[metric]!;
      return { source, seq, metric, value: lo + ((x >>> 16) % (hi - lo + 1)) };
    });
  });
}

/** One sensor: sends its readings in order, each after the previous signal was accepted. */
export async function sendReadings(client: DurableClient, readings: readonly SimulatedReading[]): Promise<void> {
  for (const r of readings) await client.signalEntity(metricId(r.metric), "record", { value: r.value, source: r.source, seq: r.seq });
}

/** What the metrics must show once every reading is applied. `last` depends on how sources interleave: it is one of `lastCandidates`. */
export type ExpectedMetric = Omit<MetricSummary, "last"> & { lastCandidates: number[] };

export function expectedMetrics(series: readonly (readonly SimulatedReading[])[]): Record<string, ExpectedMetric> {
  const out: Record<string, ExpectedMetric> = {};
  for (const metric of [...new Set(series.flat().map((r) => r.metric))].sort()) {
    const mine = series.map((readings) => readings.filter((r) => r.metric === metric));
    const values = mine.flat().map((r) => r.value);
    const sum = values.reduce((a, b) => a + b, 0);
    const sources: Record<string, number> = {};
    for (const r of mine.flat().sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))) sources[r.source] = (sources[r.source] ?? 0) + 1;
    out[metric] = {
      metric,
      count: values.length,
      sum,
      min: Math.min(...values),
      max: Math.max(...values),
      mean: sum / values.length,
      sources,
      outOfOrder: 0,
      lastCandidates: mine.filter((m) => m.length > 0).map((m) => m[m.length - 1]!.value),
    };
  }
  return out;
}
