import { describeThrown, describeValue } from "../core/describe-value.js";
import { InvalidArgumentError } from "../core/errors.js";
import { formatDuration, parseRetentionFlag, type RetentionAges, retentionAges, retentionCutoffs } from "../core/retention.js";
import { type StorageProvider, timerRunOpen } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import type { RuntimeMetrics } from "../runtime/metrics.js";
import { WorkSignal } from "../worker/work-signal.js";

/**
 * `createHost({ retention })`: how long finished instances are kept, per terminal status (a number
 * of ms, or a duration such as "30d", "12h", "90m"); a status left out is kept for ever. Or the
 * `--retention` flag's text: "completed=7d,failed=30d".
 */
export interface RetentionOptions {
  Completed?: number | string;
  Failed?: number | string;
  Terminated?: number | string;
  Canceled?: number | string;
  /** How often a pass looks for instances to purge, in ms of the host's clock. Default 60 s. */
  intervalMs?: number;
  /** Instances purged per transaction. Default 500. */
  batchSize?: number;
}

/** A retention policy, checked. */
export interface RetentionPolicy {
  ages: RetentionAges;
  intervalMs: number;
  batchSize: number;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_BATCH = 500;
/** The pass's lease: long enough for a few batches between renewals, short enough that a dead host's pass is soon taken up. */
const LEASE_MS = 60_000;
/**
 * The store record that makes a pass run on one host of a fleet at a time: the timer triggers'
 * claim-and-lease record, under a name no function can have.
 */
export const RETENTION_JOB = "$perdure.retention";

/** Reads `createHost({ retention })`; throws a clear error for anything it cannot use. */
export function retentionPolicy(options: RetentionOptions | string): RetentionPolicy {
  if (typeof options === "string") return { ages: parseRetentionFlag(options, "retention"), intervalMs: DEFAULT_INTERVAL_MS, batchSize: DEFAULT_BATCH };
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError(`retention must be an object such as { Completed: "7d", Failed: "30d" } or a text such as "completed=7d,failed=30d", got ${describeValue(options)}.`);
  const { intervalMs = DEFAULT_INTERVAL_MS, batchSize = DEFAULT_BATCH, ...ages } = options;
  if (!(Number.isFinite(intervalMs) && intervalMs >= 10)) throw new InvalidArgumentError(`retention.intervalMs must be a number of milliseconds >= 10, got ${describeValue(intervalMs)}.`);
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000)) throw new InvalidArgumentError(`retention.batchSize must be a whole number from 1 to 10000, got ${describeValue(batchSize)}.`);
  const checked = retentionAges(ages, "retention");
  if (Object.keys(checked).length === 0) throw new InvalidArgumentError(`retention names no status: give an age for one or more of Completed, Failed, Terminated, Canceled, as in { Completed: "7d" }.`);
  return { ages: checked, intervalMs, batchSize };
}

export interface RetentionSchedulerOptions {
  provider: StorageProvider;
  policy: RetentionPolicy;
  clock: Clock;
  logger: Logger;
  metrics: RuntimeMetrics;
  workerId: string;
  /** The longest real-time wait between two looks at the clock, which may move without telling (a test's manual clock, a clock corrected to the store's). */
  pollIntervalMs: number;
}

/**
 * Purges finished instances older than the policy's ages, in the background. Each interval of the
 * clock is one pass, run by one host of all those sharing the store: a host claims the interval with
 * the store's compare-and-set (as timer triggers claim an occurrence) and holds a lease on it while
 * it purges, renewed after each batch; no host starts a pass while another's lease runs. A pass
 * purges status by status in batches of `batchSize` (each its own transaction), with a log line and
 * the `perdure_retention_purged_total` counter per batch. A pass cut short (its host stopped or died)
 * leaves the rest to the next one: purging is idempotent.
 */
export class RetentionScheduler {
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** The wait between two looks at the clock, cut short by stop(). */
  private readonly wake: WorkSignal;

  constructor(private readonly o: RetentionSchedulerOptions) {
    this.wake = new WorkSignal(() => o.clock.now());
  }

  start(): void {
    this.loop = this.run().catch((err: unknown) => this.o.logger.error(`Retention stopped on an unexpected error: ${describeThrown(err).message}`, {}));
  }

  /** Stops after the batch in progress (a batch is one short transaction). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.dispose();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { clock, policy } = this.o;
    let tried = Number.NEGATIVE_INFINITY;
    while (!this.stopped) {
      const now = clock.now();
      const interval = Math.floor(now / policy.intervalMs) * policy.intervalMs;
      if (interval > tried) {
        tried = interval;
        try {
          await this.pass(interval);
        } catch (err) {
          this.o.logger.error(`Retention: a purge pass failed (${describeThrown(err).message}); the next pass, in ${formatDuration(policy.intervalMs)}, tries again.`, {});
        }
      }
      if (this.stopped) break;
      await this.wake.wait(Math.max(10, Math.min(this.o.pollIntervalMs, interval + policy.intervalMs - clock.now())));
    }
  }

  /**
   * The pass of one interval, if this host gets it; returns how many instances it purged, or
   * undefined when another host has (or had) the interval.
   */
  async pass(interval: number): Promise<number | undefined> {
    const { provider, clock, workerId, policy, logger, metrics } = this.o;
    const started = clock.now();
    const record = await provider.readTimerOccurrence(RETENTION_JOB);
    // Another host's pass is still going (its lease runs): one pass at a time in a fleet.
    if (record && timerRunOpen(record, record.last) && record.leaseUntil > started) return undefined;
    const { claimed } = await provider.claimTimerOccurrence(RETENTION_JOB, interval, workerId, started, LEASE_MS);
    if (!claimed) return undefined;
    let total = 0;
    try {
      for (const cut of retentionCutoffs(policy.ages, started)) {
        for (;;) {
          if (this.stopped) return total;
          const n = await provider.purgeInstances({ runtimeStatus: [cut.status], lastUpdatedTo: cut.before, limit: policy.batchSize });
          if (n > 0) {
            total += n;
            metrics.retentionPurged(cut.status, n);
            logger.info(`Retention: purged ${n} ${cut.status} instance${n === 1 ? "" : "s"} finished before ${new Date(cut.before).toISOString()} (kept ${formatDuration(policy.ages[cut.status]!)}).`, {
              status: cut.status,
              purged: n,
            });
          }
          if (n < policy.batchSize) break;
          if (!(await provider.renewTimerOccurrence(RETENTION_JOB, interval, workerId, clock.now(), LEASE_MS))) {
            logger.warn(`Retention: this host's pass lost its lease (the store or the host was too slow); the next pass goes on where it stopped.`, {});
            return total;
          }
        }
      }
      return total;
    } finally {
      await provider.completeTimerOccurrence(RETENTION_JOB, interval, workerId, clock.now()).catch((err: unknown) => {
        logger.warn(`Retention: could not record the end of this pass (${describeThrown(err).message}); its lease expires in ${formatDuration(LEASE_MS)}.`, {});
      });
    }
  }

}
