import { type BatchObservableResult, type Counter, type Histogram, type MeterProvider, metrics } from "@opentelemetry/api";
import { TERMINAL_STATUSES } from "../core/status.js";

/** The store-wide figures a scrape reads (a provider's workCounts). */
export interface Backlog {
  orchestrations: number;
  entities: number;
  activities: number;
  parked: number;
}

export type WorkKindLabel = "orchestration" | "entity" | "activity";

/** Step latency buckets, in seconds: from a cached step on SQLite to a slow step on a remote database. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The host's metrics, kept here for `GET /metrics` (Prometheus text format) and reported through
 * `@opentelemetry/api` for an OpenTelemetry SDK (a no-op without one). Counters are this host's;
 * the backlog and the parked count are the store's, read when a scrape or a collection asks.
 */
export class RuntimeMetrics {
  private readonly items = new Map<WorkKindLabel, number>();
  private readonly takeovers = new Map<WorkKindLabel, number>();
  private reruns = 0;
  private parks = 0;
  private readonly purged = new Map<string, number>();
  private readonly steps = new Map<WorkKindLabel, { buckets: number[]; sum: number; count: number }>();
  private readonly otel: { items: Counter; steps: Histogram; takeovers: Counter; reruns: Counter; parks: Counter; purged: Counter };

  constructor(
    private readonly backlog: () => Promise<Backlog>,
    meterProvider?: MeterProvider,
  ) {
    const meter = (meterProvider ?? metrics.getMeterProvider()).getMeter("perdure");
    this.otel = {
      items: meter.createCounter("perdure.work_items", { description: "Work items processed by this host (orchestration and entity steps, activity runs)." }),
      steps: meter.createHistogram("perdure.step.duration", { description: "Time from taking an orchestration or entity work item to its commit.", unit: "s" }),
      takeovers: meter.createCounter("perdure.lease.takeovers", { description: "Work items this host took over from a lease that had expired." }),
      reruns: meter.createCounter("perdure.activity.reruns", { description: "Activity runs that were not the task's first delivery (its earlier run was lost with its host or lease)." }),
      parks: meter.createCounter("perdure.instances.parked_events", { description: "Steps this host parked (the instance shows why)." }),
      purged: meter.createCounter("perdure.retention.purged", { description: "Finished instances this host purged under the retention policy, by status." }),
    };
    const gauge = meter.createObservableGauge("perdure.backlog", { description: "Work ready to run in the store and not taken, by kind." });
    const parked = meter.createObservableGauge("perdure.instances.parked", { description: "Instances parked in the store." });
    const observe = async (result: BatchObservableResult): Promise<void> => {
      const b = await this.backlog().catch(() => undefined);
      if (!b) return;
      result.observe(gauge, b.orchestrations, { kind: "orchestration" });
      result.observe(gauge, b.entities, { kind: "entity" });
      result.observe(gauge, b.activities, { kind: "activity" });
      result.observe(parked, b.parked);
    };
    meter.addBatchObservableCallback(observe, [gauge, parked]);
    this.unobserve = () => meter.removeBatchObservableCallback(observe, [gauge, parked]);
  }

  private readonly unobserve: () => void;

  /** Stops reporting the store's figures (a stopped host no longer reads its store). */
  close(): void {
    this.unobserve();
  }

  workItem(kind: WorkKindLabel, takeover: boolean): void {
    this.items.set(kind, (this.items.get(kind) ?? 0) + 1);
    this.otel.items.add(1, { kind });
    if (takeover) {
      this.takeovers.set(kind, (this.takeovers.get(kind) ?? 0) + 1);
      this.otel.takeovers.add(1, { kind });
    }
  }

  step(kind: WorkKindLabel, seconds: number): void {
    let h = this.steps.get(kind);
    if (!h) this.steps.set(kind, (h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
    this.otel.steps.record(seconds, { kind });
  }

  activityRerun(): void {
    this.reruns++;
    this.otel.reruns.add(1);
  }

  parked(): void {
    this.parks++;
    this.otel.parks.add(1);
  }

  retentionPurged(status: string, n: number): void {
    this.purged.set(status, (this.purged.get(status) ?? 0) + n);
    this.otel.purged.add(n, { status });
  }

  /** The Prometheus text exposition (format 0.0.4). */
  async prometheus(): Promise<string> {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const kinds: WorkKindLabel[] = ["orchestration", "entity", "activity"];
    metric(
      "perdure_work_items_total",
      "counter",
      "Work items processed by this host (orchestration and entity steps, activity runs).",
      kinds.map((k) => `perdure_work_items_total{kind="${k}"} ${this.items.get(k) ?? 0}`),
    );
    const hist: string[] = [];
    for (const k of ["orchestration", "entity"] as const) {
      const h = this.steps.get(k) ?? { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
      BUCKETS.forEach((le, i) => hist.push(`perdure_step_duration_seconds_bucket{kind="${k}",le="${le}"} ${h.buckets[i]}`));
      hist.push(`perdure_step_duration_seconds_bucket{kind="${k}",le="+Inf"} ${h.count}`, `perdure_step_duration_seconds_sum{kind="${k}"} ${h.sum}`, `perdure_step_duration_seconds_count{kind="${k}"} ${h.count}`);
    }
    metric("perdure_step_duration_seconds", "histogram", "Time from taking an orchestration or entity work item to its commit.", hist);
    metric(
      "perdure_lease_takeovers_total",
      "counter",
      "Work items this host took over from a lease that had expired.",
      ["orchestration", "entity"].map((k) => `perdure_lease_takeovers_total{kind="${k}"} ${this.takeovers.get(k as WorkKindLabel) ?? 0}`),
    );
    metric("perdure_activity_reruns_total", "counter", "Activity runs that were not the task's first delivery (its earlier run was lost with its host or lease).", [`perdure_activity_reruns_total ${this.reruns}`]);
    metric("perdure_parked_steps_total", "counter", "Steps this host parked.", [`perdure_parked_steps_total ${this.parks}`]);
    metric(
      "perdure_retention_purged_total",
      "counter",
      "Finished instances this host purged under the retention policy, by status.",
      TERMINAL_STATUSES.map((s) => `perdure_retention_purged_total{status="${s}"} ${this.purged.get(s) ?? 0}`),
    );
    const b = await this.backlog().catch(() => undefined);
    if (b) {
      metric("perdure_backlog", "gauge", "Work ready to run in the store and not taken, by kind.", [
        `perdure_backlog{kind="orchestration"} ${b.orchestrations}`,
        `perdure_backlog{kind="entity"} ${b.entities}`,
        `perdure_backlog{kind="activity"} ${b.activities}`,
      ]);
      metric("perdure_parked_instances", "gauge", "Instances parked in the store.", [`perdure_parked_instances ${b.parked}`]);
    }
    return `${out.join("\n")}\n`;
  }
}
