/**
 * Pattern 6, the aggregator: readings from many sources are aggregated, as they arrive, into one
 * addressable durable entity per metric. Sensors (clients), orchestrations and other entities send
 * `record` signals to `metric` entities whose key is the metric name ("temperature", "humidity", ...);
 * each entity keeps count, sum, min, max and the last value. Operations on one entity run one at a
 * time, so no one has to worry about two readings updating the same aggregate at once, and a failing
 * operation (a reading that is not a number) is rolled back and fails only itself.
 *
 * - `metric` (a function-based entity, the `Counter` of the Durable Functions overview) aggregates.
 *   The first reading of a metric registers it with the catalog, with an entity-to-entity signal.
 * - `catalog` (a class-based entity, `MetricCatalog`) lists the known metrics.
 * - `metricsReport` (an orchestration) asks the catalog for the metrics, reads each one with
 *   `callEntity` and builds a report. With `reset: true` it takes all of them in one critical section
 *   (`context.df.lock`), reads and resets them, and releases the locks: a consistent cut across the
 *   metrics, with no reading lost or counted twice between the read and the reset.
 * - `uploadReadings` (an orchestration) is one more source: it signals a batch of readings.
 *
 * Clients read the aggregates with `client.readEntityState(metricId(name))` (the last committed state)
 * or `client.listEntities({ entityName: "metric", fetchState: true })`.
 */
import * as df from "../../src/index.js";
import type { DurableApp, DurableEntityContext, EntityId, LockHandle } from "../../src/index.js";

export const METRIC = "metric";
export const CATALOG = "catalog";
export const REPORT = "metricsReport";
export const UPLOAD = "uploadReadings";

/** The entity of one metric: name "metric", key = the metric name (case-sensitive). */
export const metricId = (name: string): EntityId => new df.EntityId(METRIC, name);
/** The one catalog entity. */
export const CATALOG_ID: EntityId = new df.EntityId(CATALOG, "all");

/**
 * The input of `record`: a bare number, or a reading with its source and the source's sequence
 * number (readings of one source arrive in the order it sent them, so `seq` only ever goes up).
 */
export type Reading = number | { value: number; source?: string; seq?: number };

/** What a `metric` entity stores. */
export interface MetricState {
  count: number;
  sum: number;
  /** null until the first reading. */
  min: number | null;
  max: number | null;
  last: number | null;
  /** Readings per source, and the highest sequence number seen from it (null: readings without `seq`). */
  sources: Record<string, { count: number; lastSeq: number | null }>;
  /** Readings whose `seq` was not above the last one of their source: stays 0, since each sender's operations arrive in order. */
  outOfOrder: number;
}

/** What `get` returns: the aggregates, plus the metric name and the mean. */
export interface MetricSummary {
  metric: string;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number | null;
  /** sum / count, null without readings. */
  mean: number | null;
  /** Readings per source. */
  sources: Record<string, number>;
  outOfOrder: number;
}

export const emptyMetric = (): MetricState => ({ count: 0, sum: 0, min: null, max: null, last: null, sources: {}, outOfOrder: 0 });

export function summarize(metric: string, s: MetricState): MetricSummary {
  const sources: Record<string, number> = {};
  for (const name of Object.keys(s.sources).sort()) sources[name] = s.sources[name]!.count;
  return { metric, count: s.count, sum: s.sum, min: s.min, max: s.max, last: s.last, mean: s.count === 0 ? null : s.sum / s.count, sources, outOfOrder: s.outOfOrder };
}

/** Adds one reading to the aggregates (pure: the entity, run.ts and the tests share it). */
export function applyReading(s: MetricState, reading: Reading): MetricState {
  const r = typeof reading === "number" ? { value: reading } : reading;
  if (typeof r?.value !== "number" || !Number.isFinite(r.value)) throw new TypeError(`A reading must be a finite number, got ${JSON.stringify(reading)}.`);
  const v = r.value;
  const next: MetricState = {
    count: s.count + 1,
    sum: s.sum + v,
    min: s.min === null ? v : Math.min(s.min, v),
    max: s.max === null ? v : Math.max(s.max, v),
    last: v,
    sources: { ...s.sources },
    outOfOrder: s.outOfOrder,
  };
  if (r.source !== undefined) {
    const prev = s.sources[r.source] ?? { count: 0, lastSeq: null };
    let lastSeq = prev.lastSeq;
    if (typeof r.seq === "number") {
      if (lastSeq !== null && r.seq <= lastSeq) next.outOfOrder++;
      lastSeq = lastSeq === null ? r.seq : Math.max(lastSeq, r.seq);
    }
    next.sources[r.source] = { count: prev.count + 1, lastSeq };
  }
  return next;
}

/** The operations of `metric`. Anything else fails (only that operation) with a clear message. */
function metricEntity(context: { df: DurableEntityContext<MetricState> }): void {
  const ctx = context.df;
  const state = ctx.getState(emptyMetric);
  switch (ctx.operationName) {
    case "record": {
      // A bad reading throws before setState: the operation fails alone and nothing changes.
      ctx.setState(applyReading(state, ctx.getInput<Reading>()));
      // The first reading of a metric registers it with the catalog (entity-to-entity signal; it
      // goes out only because this operation succeeds, in the same commit as the new state).
      if (ctx.isNewlyConstructed) ctx.signalEntity(CATALOG_ID, "add", ctx.entityKey);
      return;
    }
    case "get":
      // Reading does not create the entity: no setState.
      ctx.return(summarize(ctx.entityKey, state));
      return;
    case "reset":
      ctx.setState(emptyMetric());
      return;
    default:
      throw new Error(`Unknown operation '${String(ctx.operationName)}' on metric '${ctx.entityKey}'. Use record, get, reset or delete.`);
  }
}

/**
 * The catalog of known metrics, as a class-based entity: its fields are the state, its public methods
 * the operations (`add`, `remove`, `list`), and `df.entityProxy<MetricCatalog>` calls them with types.
 */
export class MetricCatalog {
  metrics: string[] = [];

  add(name: string): void {
    if (!this.metrics.includes(name)) this.metrics = [...this.metrics, name].sort();
  }

  remove(name: string): void {
    this.metrics = this.metrics.filter((m) => m !== name);
  }

  list(): string[] {
    return this.metrics;
  }
}

export interface ReportInput {
  /** The metrics to report on; default: every metric in the catalog. */
  metrics?: string[];
  /** Read and reset the metrics inside one critical section (a reporting window). */
  reset?: boolean;
}

export interface Report {
  /** One summary per metric, sorted by name. */
  metrics: MetricSummary[];
  /** Readings over all metrics. */
  totalReadings: number;
  /** The metric with the most readings (the first by name on a tie); null when there are none. */
  busiest: string | null;
  /** Whether the metrics were reset after being read. */
  reset: boolean;
}

export interface UploadInput {
  source: string;
  readings: { metric: string; value: number }[];
}

export function register(app: DurableApp): void {
  app.entity<MetricState>(METRIC, metricEntity);
  app.entity(CATALOG, MetricCatalog);

  app.orchestration(REPORT, function* (context) {
    const input = context.df.getInput<ReportInput | undefined>() ?? {};
    const catalog = df.entityProxy<MetricCatalog>(context.df, CATALOG_ID);
    const names: string[] = [...(input.metrics ?? ((yield catalog.list()) as string[] | undefined) ?? [])].sort();
    const ids = names.map(metricId);
    const readAll = () => context.df.Task.all(ids.map((id) => context.df.callEntity(id, "get")));

    let summaries: MetricSummary[] = [];
    if (ids.length > 0 && input.reset) {
      // A critical section: while it holds the locks, no one else's operations reach these metrics,
      // so the read and the reset see the same readings. Locks are taken in a global order (no deadlock).
      const lock: LockHandle = yield context.df.lock(ids);
      summaries = yield readAll();
      yield context.df.Task.all(ids.map((id) => context.df.callEntity(id, "reset")));
      lock.release();
    } else if (ids.length > 0) {
      summaries = yield readAll();
    }

    let busiest: MetricSummary | undefined;
    for (const s of summaries) if (s.count > 0 && (!busiest || s.count > busiest.count)) busiest = s;
    const report: Report = {
      metrics: summaries,
      totalReadings: summaries.reduce((n, s) => n + s.count, 0),
      busiest: busiest?.metric ?? null,
      reset: !!input.reset && ids.length > 0,
    };
    return report;
  });

  app.orchestration(UPLOAD, function* (context) {
    const { source, readings } = context.df.getInput<UploadInput>();
    // Fire-and-forget: signals are not yielded. They leave with this step's commit, in this order.
    readings.forEach((r, seq) => context.df.signalEntity(metricId(r.metric), "record", { value: r.value, source, seq }));
    return readings.length;
  });
}

register(df.app);
