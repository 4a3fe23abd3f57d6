import type { ActivityResult, ActivityWorkItem, CommitResult, OrchestrationCommit, OrchestrationWorkItem, StorageProvider } from "../providers/provider.js";
import { InvalidArgumentError } from "../core/errors.js";
import { DEFAULT_HTTP_POLLING_DELAY_MS } from "../core/http-task.js";
import { LockLostError } from "../core/errors.js";
import { runActivity } from "./activity-processor.js";
import { Batcher } from "./batcher.js";
import { type Clock, systemClock } from "../runtime/clock.js";
import { consoleLogger, type Logger } from "../runtime/logger.js";
import { OrchestrationProcessor } from "./orchestration-processor.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { WorkSignal } from "./work-signal.js";

export interface WorkerOptions {
  /** Orchestration steps in flight at once (they are mostly CPU; the limit bounds memory). Default 100. */
  maxConcurrentOrchestrations?: number;
  /** Activity calls in flight at once. Default 100. */
  maxConcurrentActivities?: number;
  /** Lease length for work items; a crashed worker's items are taken over after it. Default 30 s. */
  leaseMs?: number;
  /** Polling floor when idle: the longest a worker waits before looking for work others wrote. Default 500 ms. */
  pollIntervalMs?: number;
  /** Live orchestration executors kept in memory. Default 5,000. */
  executorCacheSize?: number;
  /** How long stop() waits for in-flight work before abandoning it. Default 10 s. */
  drainTimeoutMs?: number;
  /** `callHttp` polling: wait between polls of a 202 response without a valid Retry-After header. Default 30 s. */
  httpPollingDefaultDelayMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Added to every activity context (the host puts the durable client here for `df.getClient`). */
  activityContextExtras?: Record<symbol, unknown>;
}

type Resolved = Required<Omit<WorkerOptions, "clock" | "logger" | "activityContextExtras">>;

/** One kind of work: how to lock it, how to run one item, and its concurrency bookkeeping. */
interface Lane<T> {
  kind: "orchestration" | "activity";
  max: number;
  signal: WorkSignal;
  inflight: Set<T>;
  slotWaiters: (() => void)[];
  lock: (max: number, now: number) => Promise<T[]>;
  handle: (item: T) => Promise<void>;
}

/**
 * Runs orchestration steps and activity calls against a provider: two dispatch loops with
 * concurrency limits, in-process wake-ups, lease renewal, group commit and a graceful drain.
 */
export class Worker {
  readonly processor: OrchestrationProcessor;
  private readonly options: Resolved;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly contextExtras: Record<symbol, unknown>;
  private readonly orchestrations: Lane<OrchestrationWorkItem>;
  private readonly activities: Lane<ActivityWorkItem>;
  private running = false;
  private loops: Promise<void>[] = [];
  private unsubscribe: (() => void) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly orchestrationCommits: Batcher<OrchestrationCommit, CommitResult>;
  private readonly activityCommits: Batcher<ActivityResult, CommitResult>;
  /** Counters for benchmarks and diagnostics. */
  readonly stats = { orchestrationSteps: 0, activitiesRun: 0, lockLost: 0, abandoned: 0 };

  constructor(
    private readonly provider: StorageProvider,
    private readonly registry: FunctionRegistry,
    options: WorkerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger;
    this.contextExtras = options.activityContextExtras ?? {};
    this.options = {
      maxConcurrentOrchestrations: options.maxConcurrentOrchestrations ?? 100,
      maxConcurrentActivities: options.maxConcurrentActivities ?? 100,
      leaseMs: options.leaseMs ?? 30_000,
      pollIntervalMs: options.pollIntervalMs ?? 500,
      executorCacheSize: options.executorCacheSize ?? 5_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
      httpPollingDefaultDelayMs: options.httpPollingDefaultDelayMs ?? DEFAULT_HTTP_POLLING_DELAY_MS,
    };
    const pollDelay = this.options.httpPollingDefaultDelayMs;
    if (typeof pollDelay !== "number" || !Number.isFinite(pollDelay) || pollDelay < 0) {
      throw new InvalidArgumentError(`httpPollingDefaultDelayMs must be a number of milliseconds >= 0, got ${String(pollDelay)}.`);
    }
    const now = (): number => this.clock.now();
    this.orchestrations = {
      kind: "orchestration",
      max: this.options.maxConcurrentOrchestrations,
      signal: new WorkSignal(now),
      inflight: new Set(),
      slotWaiters: [],
      lock: (max, at) => this.provider.lockOrchestrationWorkItems({ now: at, leaseMs: this.options.leaseMs, max }),
      handle: (item) => this.handleOrchestration(item),
    };
    this.activities = {
      kind: "activity",
      max: this.options.maxConcurrentActivities,
      signal: new WorkSignal(now),
      inflight: new Set(),
      slotWaiters: [],
      lock: (max, at) => this.provider.lockActivityWorkItems({ now: at, leaseMs: this.options.leaseMs, max }),
      handle: (item) => this.handleActivity(item),
    };
    this.processor = new OrchestrationProcessor(provider, registry, this.clock, this.logger, this.options.executorCacheSize, {
      httpPollingDefaultDelayMs: this.options.httpPollingDefaultDelayMs,
    });
    this.orchestrationCommits = new Batcher((commits) => this.provider.completeOrchestrationWorkItems(commits, this.clock.now()));
    this.activityCommits = new Batcher((results) => this.provider.completeActivityWorkItems(results, this.clock.now()));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.provider.onWork?.((kind, visibleAt) => (kind === "orchestration" ? this.orchestrations : this.activities).signal.notifyAt(visibleAt));
    this.loops = [this.dispatchLoop(this.orchestrations), this.dispatchLoop(this.activities)];
    const every = Math.max(50, Math.floor(this.options.leaseMs / 3));
    this.renewTimer = setInterval(() => void this.renewLeases(), every);
    this.renewTimer.unref();
  }

  /** Stops taking work, lets in-flight work finish (up to drainTimeoutMs), then abandons the rest. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    for (const lane of [this.orchestrations, this.activities]) {
      lane.signal.dispose();
      for (const w of lane.slotWaiters.splice(0)) w();
    }
    await Promise.all(this.loops);
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while ((this.activities.inflight.size > 0 || this.orchestrations.inflight.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const now = this.clock.now();
    for (const item of this.activities.inflight) await this.provider.abandonActivityWorkItem(item, 0, now).catch(() => undefined);
    for (const item of this.orchestrations.inflight) await this.provider.abandonOrchestrationWorkItem(item, 0, now).catch(() => undefined);
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** One dispatch loop, shared by orchestrations and activities: lock what fits, hand it out, wait. */
  private async dispatchLoop<T>(lane: Lane<T>): Promise<void> {
    let failures = 0;
    while (this.running) {
      if (lane.inflight.size >= lane.max) await new Promise<void>((resolve) => lane.slotWaiters.push(resolve));
      if (!this.running) break;
      const free = lane.max - lane.inflight.size;
      const lockedAt = this.clock.now();
      let items: T[];
      try {
        items = await lane.lock(free, lockedAt);
        failures = 0;
      } catch (err) {
        failures++;
        this.logger.error(`Locking ${lane.kind} work failed (attempt ${failures}): ${(err as Error).message}`);
        await lane.signal.wait(Math.min(5_000, 50 * 2 ** Math.min(failures, 7)));
        continue;
      }
      if (items.length === 0) {
        await this.idle(lane.signal, lockedAt);
        continue;
      }
      for (const item of items) {
        lane.inflight.add(item);
        void lane.handle(item).finally(() => {
          lane.inflight.delete(item);
          lane.slotWaiters.shift()?.();
        });
      }
      // Everything ready was taken: wait for the next wake-up (or the next due timer) rather than
      // asking storage again at once.
      if (items.length < free) await this.idle(lane.signal, lockedAt);
    }
  }

  /**
   * Waits for a wake-up, the next due message, or the polling floor. "Next due" is asked relative to
   * the time the lock used: a message that became visible just after the lock looked must count as
   * due now, not be missed until the next poll.
   */
  private async idle(signal: WorkSignal, lockedAt: number): Promise<void> {
    let wait = this.options.pollIntervalMs;
    try {
      const next = await this.provider.nextVisibleAt(lockedAt);
      if (next !== undefined) wait = Math.max(0, Math.min(wait, next - this.clock.now() + 1));
    } catch {
      // The next lock attempt surfaces persistent storage errors.
    }
    await signal.wait(wait);
  }

  private async handleOrchestration(item: OrchestrationWorkItem): Promise<void> {
    try {
      const outcome = await this.processor.process(item);
      if (outcome.kind === "abandon") {
        this.stats.abandoned++;
        await this.backOffAndRelease(item, outcome.retryAfterMs);
        return;
      }
      const result = await this.orchestrationCommits.add(outcome.commit);
      outcome.after(result.ok);
      this.stats.orchestrationSteps++;
      if (!result.ok) {
        // A lost lease belongs to someone else now; any other refusal is ours to retry.
        if (!(result.error instanceof LockLostError)) throw result.error;
        this.stats.lockLost++;
        this.logger.warn(`Step of '${item.instanceId}' not committed: ${result.error.message}`);
      }
    } catch (err) {
      this.processor.cache.delete(item.instanceId);
      this.stats.abandoned++;
      this.logger.error(`Orchestration step of '${item.instanceId}' failed and will be retried: ${(err as Error).stack ?? String(err)}`);
      await this.backOffAndRelease(item, 1_000);
    }
  }

  /**
   * Waits out a retry delay while still holding the lease, then releases the item with its messages
   * visible at once. Delaying only this batch's messages instead would let messages that arrived
   * meanwhile overtake them, and one sender's operations must stay in the order it sent them.
   */
  private async backOffAndRelease(item: OrchestrationWorkItem, delayMs: number): Promise<void> {
    const deadline = Date.now() + delayMs;
    while (this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
    await this.provider.abandonOrchestrationWorkItem(item, 0, this.clock.now()).catch(() => undefined);
  }

  private async handleActivity(item: ActivityWorkItem): Promise<void> {
    const event = await runActivity(item, this.registry, this.clock, this.logger, this.contextExtras);
    this.stats.activitiesRun++;
    try {
      const result = await this.activityCommits.add({ item, event });
      if (!result.ok) {
        this.stats.lockLost++;
        this.logger.warn(`Result of activity '${item.name}' for '${item.instanceId}' not recorded: ${result.error.message}`);
      }
    } catch (err) {
      this.logger.error(`Recording the result of activity '${item.name}' failed; it will run again: ${(err as Error).message}`);
      await this.provider.abandonActivityWorkItem(item, 1_000, this.clock.now()).catch(() => undefined);
    }
  }

  private async renewLeases(): Promise<void> {
    const now = this.clock.now();
    const soon = now + this.options.leaseMs / 2;
    const acts = [...this.activities.inflight].filter((i) => i.lockedUntil < soon);
    const orchs = [...this.orchestrations.inflight].filter((i) => i.lockedUntil < soon);
    try {
      if (acts.length) await this.provider.renewActivityWorkItems(acts, this.options.leaseMs, now);
      if (orchs.length) await this.provider.renewOrchestrationWorkItems(orchs, this.options.leaseMs, now);
    } catch (err) {
      this.logger.warn(`Lease renewal failed: ${(err as Error).message}`);
    }
  }
}
