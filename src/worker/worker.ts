import { performance } from "node:perf_hooks";
import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import { InvalidArgumentError, LockLostError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { DEFAULT_HTTP_POLLING_DELAY_MS } from "../core/http-task.js";
import { checkMaxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES } from "../core/payload.js";
import { DEFAULT_EXECUTOR_CACHE_BYTES } from "./executor-cache.js";
import { DEFAULT_MAX_HISTORY_EVENTS, isValidHistoryLimit } from "../core/history-limit.js";
import { DEFAULT_RETRY_POLICY, PARK_CODES, parkInfo, type RetryPolicy } from "../core/step-policy.js";
import type { TaskCompletedEvent, TaskFailedEvent } from "../core/history.js";
import { type ActivityResult, type ActivityWorkItem, type CommitResult, functionKey, type OrchestrationCommit, type OrchestrationWorkItem, type StartClaim, type StorageProvider } from "../providers/provider.js";
import { type Clock, systemClock } from "../runtime/clock.js";
import { consoleLogger, type Logger, withFields } from "../runtime/logger.js";
import { RuntimeMetrics } from "../runtime/metrics.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { endSpan, type Span, SpanKind, Telemetry } from "../runtime/telemetry.js";
import { runActivity } from "./activity-processor.js";
import { Batcher } from "./batcher.js";
import { OrchestrationProcessor, type VersionCheck } from "./orchestration-processor.js";
import { checkVersion, VERSION_FAILURE_STRATEGIES, VERSION_MATCH_STRATEGIES, type VersionFailureStrategy, type VersionMatchStrategy } from "../core/version.js";
import { trackActivity, trackStep } from "./tracking.js";
import { newWorkerId } from "./worker-id.js";
import { WorkSignal } from "./work-signal.js";

export interface WorkerOptions {
  /** Orchestration steps in flight at once (they are mostly CPU; the limit bounds memory). Default 100. */
  maxConcurrentOrchestrations?: number;
  /** Activity calls in flight at once. Default 100. */
  maxConcurrentActivities?: number;
  /**
   * Lease length for work items: a crashed host's work is taken over once its leases expire.
   * Default 5 s (renewed every second while the work runs), so a crash costs seconds, not minutes.
   */
  leaseMs?: number;
  /** How often leases of work in flight are renewed. Default 1 s; at most a third of leaseMs. */
  leaseRenewMs?: number;
  /**
   * Locality on stores several hosts share: an instance last run by another live host, and an
   * activity another host scheduled, are left to that host this long after they became ready (it
   * holds the executor; another host would replay the instance, or route the result through its
   * inbox). Default 500 ms.
   */
  affinityGraceMs?: number;
  /** A host whose heartbeat is older than this is gone: its instances lose their affinity. Default 6 s. */
  hostTimeoutMs?: number;
  /** Polling floor when idle: the longest a worker waits before looking for work others wrote. Default 500 ms. */
  pollIntervalMs?: number;
  /** Live orchestration executors kept in memory. Default 5,000. */
  executorCacheSize?: number;
  /**
   * The payloads (input, results, event data, as JSON text) the cached executors may hold in all:
   * beyond it the least recently used are evicted (and replay when they next run). Default 256 MiB.
   */
  executorCacheBytes?: number;
  /**
   * The grace period of stop(): work in flight may finish for this long; what is still running then
   * is released (its leases end at once, so another host takes it), and stop() returns. Default 10 s.
   */
  drainTimeoutMs?: number;
  /** `callHttp` polling: wait between polls of a 202 response without a valid Retry-After header. Default 30 s. */
  httpPollingDefaultDelayMs?: number;
  /**
   * The largest payload stored, in bytes of JSON: an input, output, event's data, entity state or
   * operation result over it is refused with PAYLOAD_TOO_LARGE where it is produced (an activity's
   * result fails the activity; an orchestrator's call throws at the call). Default 16 MiB.
   */
  maxPayloadBytes?: number;
  /**
   * The longest history an execution may reach: the step that would take it further fails the
   * instance with HISTORY_TOO_LONG (use continueAsNew); the step that crosses half of it logs a
   * warning. Default 500,000 events (a fan-out of 100,000 activities takes 200,000).
   */
  maxHistoryEvents?: number;
  /** What a step that cannot complete does: park delays, the poison cap, and nondeterminism (park or fail). */
  retry?: Partial<RetryPolicy>;
  /**
   * Work that waits this long for a function this host does not have is marked parked
   * (FUNCTION_NOT_FOUND) so an operator sees it; the work itself is left for a host that has it. Default 30 s.
   */
  strandedAfterMs?: number;
  /**
   * The app's version: stamped on every instance this host starts and on sub-orchestrations started
   * without an explicit one, readable as `context.df.version`. Default: none ("").
   */
  version?: string;
  /**
   * Which instances this host runs, by their version against `version` (Durable Functions'
   * `versionMatchStrategy`): `CurrentOrOlder` (the default when the host has a version: an instance
   * started by a newer version waits for a host of that version), `Strict` (only its own version), or
   * `None` (any). A host without a version runs any instance.
   */
  versionMatch?: VersionMatchStrategy;
  /** An instance this host may not run: `Reject` (default: left, parked as VERSION_MISMATCH, for a host that may) or `Fail` (it fails). */
  versionFailure?: VersionFailureStrategy;
  /** This worker's identity in leases and logs. Default: hostname, pid and a random suffix. */
  workerId?: string;
  /** Where spans go. Default: the global OpenTelemetry tracer provider (no spans until an SDK is registered). */
  tracerProvider?: TracerProvider;
  /** Where metrics go besides GET /metrics. Default: the global OpenTelemetry meter provider. */
  meterProvider?: MeterProvider;
  clock?: Clock;
  logger?: Logger;
  /** Added to every activity context (the host puts the durable client here for `df.getClient`). */
  activityContextExtras?: Record<symbol, unknown>;
}

/** How long after stop() hands back work still running another host may take it. */
const RELEASE_MARGIN_MS = 250;

type Resolved = Required<Omit<WorkerOptions, "clock" | "logger" | "activityContextExtras" | "retry" | "workerId" | "tracerProvider" | "meterProvider" | "version" | "versionMatch" | "versionFailure">>;

/** One kind of work: how to lock it, how to run one item, and its concurrency bookkeeping. */
interface Lane<T> {
  kind: "orchestration" | "activity";
  max: number;
  signal: WorkSignal;
  inflight: Set<T>;
  /** Slots promised to activity tasks a commit in flight may lease to this worker. */
  reserved: number;
  slotWaiters: (() => void)[];
  lock: (max: number, now: number) => Promise<T[]>;
  handle: (item: T) => Promise<void>;
}

interface PendingResult {
  result: ActivityResult;
  done: () => void;
}

/**
 * Runs orchestration steps and activity calls against a provider: two dispatch loops with
 * concurrency limits, in-process wake-ups, lease renewal, group commit and a graceful drain.
 *
 * The hot path of a sequence costs one write transaction per step: a step leases the activity tasks
 * it creates to this worker in its own commit (no lock transaction to take them), and an activity's
 * result is committed together with the next step, on the cached executor, by an optimistic commit
 * (no lock transaction for the orchestration either; refused and redone the slow way if anyone else
 * touched the instance meanwhile).
 */
export class Worker {
  readonly processor: OrchestrationProcessor;
  readonly workerId: string;
  readonly policy: RetryPolicy;
  private readonly options: Resolved;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;
  /** This host's counters, and the store's backlog when asked (GET /metrics, an OpenTelemetry SDK). */
  readonly metrics: RuntimeMetrics;
  private readonly contextExtras: Record<symbol, unknown>;
  private readonly orchestrations: Lane<OrchestrationWorkItem>;
  private readonly activities: Lane<ActivityWorkItem>;
  private functions = { orchestrations: [] as string[], entities: [] as string[], activities: [] as string[] };
  private running = false;
  private loops: Promise<void>[] = [];
  private unsubscribe: (() => void) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private strandedTimer: NodeJS.Timeout | undefined;
  private readonly orchestrationCommits: Batcher<OrchestrationCommit, CommitResult>;
  private readonly activityCommits: Batcher<ActivityResult, CommitResult>;
  private pendingResults = new Map<string, PendingResult[]>();
  private flushScheduled = false;
  /** Counters for benchmarks and diagnostics. */
  readonly stats = { orchestrationSteps: 0, localSteps: 0, activitiesRun: 0, lockLost: 0, abandoned: 0, parked: 0, released: 0 };
  /** Told when storage failed under the worker (the host then checks the store at once). */
  onStoreError: (err: unknown) => void = () => undefined;

  constructor(
    private readonly provider: StorageProvider,
    private readonly registry: FunctionRegistry,
    options: WorkerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.contextExtras = options.activityContextExtras ?? {};
    this.workerId = options.workerId ?? newWorkerId();
    // Every record of this worker says which worker wrote it: in a fleet, logs from many hosts meet.
    this.logger = withFields(options.logger ?? consoleLogger, { workerId: this.workerId });
    this.options = {
      maxConcurrentOrchestrations: options.maxConcurrentOrchestrations ?? 100,
      maxConcurrentActivities: options.maxConcurrentActivities ?? 100,
      leaseMs: options.leaseMs ?? 5_000,
      leaseRenewMs: options.leaseRenewMs ?? Math.min(1_000, Math.floor((options.leaseMs ?? 5_000) / 3)),
      affinityGraceMs: options.affinityGraceMs ?? 500,
      hostTimeoutMs: options.hostTimeoutMs ?? 6_000,
      pollIntervalMs: options.pollIntervalMs ?? 500,
      executorCacheSize: options.executorCacheSize ?? 5_000,
      executorCacheBytes: options.executorCacheBytes ?? DEFAULT_EXECUTOR_CACHE_BYTES,
      drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
      httpPollingDefaultDelayMs: options.httpPollingDefaultDelayMs ?? DEFAULT_HTTP_POLLING_DELAY_MS,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      maxHistoryEvents: options.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS,
      strandedAfterMs: options.strandedAfterMs ?? 30_000,
    };
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    validateOptions(this.options, this.policy);
    const now = (): number => this.clock.now();
    this.orchestrations = {
      kind: "orchestration",
      max: this.options.maxConcurrentOrchestrations,
      signal: new WorkSignal(now),
      inflight: new Set(),
      reserved: 0,
      slotWaiters: [],
      lock: (max, at) =>
        this.provider.lockOrchestrationWorkItems({
          workerId: this.workerId,
          now: at,
          leaseMs: this.options.leaseMs,
          max,
          functions: this.functions,
          cachedHistoryLength: (id, executionId) => this.processor.cache.historyLengthOf(id, executionId),
          affinity: { graceMs: this.options.affinityGraceMs, hostTimeoutMs: this.options.hostTimeoutMs },
        }),
      handle: (item) => this.handleOrchestration(item),
    };
    this.activities = {
      kind: "activity",
      max: this.options.maxConcurrentActivities,
      signal: new WorkSignal(now),
      inflight: new Set(),
      reserved: 0,
      slotWaiters: [],
      lock: (max, at) =>
        this.provider.lockActivityWorkItems({
          workerId: this.workerId,
          now: at,
          leaseMs: this.options.leaseMs,
          max,
          functions: this.functions.activities,
          affinity: { graceMs: this.options.affinityGraceMs },
        }),
      handle: (item) => this.handleActivity(item),
    };
    this.telemetry = new Telemetry(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {});
    this.metrics = new RuntimeMetrics(() => provider.workCounts(this.clock.now()), options.meterProvider);
    this.processor = new OrchestrationProcessor(provider, registry, this.clock, this.logger, {
      telemetry: this.telemetry,
      cacheSize: this.options.executorCacheSize,
      cacheBytes: this.options.executorCacheBytes,
      policy: this.policy,
      executor: { httpPollingDefaultDelayMs: this.options.httpPollingDefaultDelayMs, maxPayloadBytes: this.options.maxPayloadBytes },
      defaultVersion: options.version,
      versionCheck: versionCheckOf(options),
      maxHistoryEvents: this.options.maxHistoryEvents,
    });
    this.orchestrationCommits = new Batcher((commits) => this.provider.completeOrchestrationWorkItems(commits, this.clock.now()));
    this.activityCommits = new Batcher((results) => this.provider.completeActivityWorkItems(results, this.clock.now()));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.functions = this.registry.functionKeys();
    this.unsubscribe = this.provider.onWork?.((kind, visibleAt) => (kind === "orchestration" ? this.orchestrations : this.activities).signal.notifyAt(visibleAt));
    this.loops = [this.dispatchLoop(this.orchestrations), this.dispatchLoop(this.activities)];
    this.renewTimer = setInterval(() => void this.renewLeases(), this.options.leaseRenewMs);
    this.renewTimer.unref();
    this.strandedTimer = setInterval(() => void this.markStrandedWork(), Math.max(1_000, Math.floor(this.options.strandedAfterMs / 2)));
    this.strandedTimer.unref();
  }

  /**
   * Stops taking work and lets work in flight finish (leases still renewed) until the grace period
   * (drainTimeoutMs) is nearly over; then releases what is still held, so other hosts take it at
   * once, and returns — within the grace period, whatever the store does. An activity function still
   * running then cannot be stopped from here: its result will be refused. A process that exits right
   * after (the CLI does) makes sure it never runs on two hosts at once.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    const started = Date.now();
    const grace = this.options.drainTimeoutMs;
    // The last part of the grace period is kept for handing back what is still held.
    const releaseBudget = Math.min(1_000, Math.floor(grace / 4));
    const drainUntil = started + grace - releaseBudget;
    this.running = false;
    this.unsubscribe?.();
    if (this.strandedTimer) clearInterval(this.strandedTimer);
    for (const lane of [this.orchestrations, this.activities]) {
      lane.signal.dispose();
      for (const w of lane.slotWaiters.splice(0)) w();
    }
    await within(Promise.all(this.loops), drainUntil - Date.now());
    // Activities that ran but whose results are still being recorded hold reserved slots: wait for them too.
    while ((this.activities.inflight.size > 0 || this.activities.reserved > 0 || this.orchestrations.inflight.size > 0) && Date.now() < drainUntil) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    const now = this.clock.now();
    // Handed back to be taken a moment later, not this instant: the process stopping (the CLI exits
    // right after) is gone by then, so an activity it still had running never runs on two hosts at once.
    const held = [
      ...[...this.activities.inflight].map((item) => this.provider.abandonActivityWorkItem(item, RELEASE_MARGIN_MS, now)),
      ...[...this.orchestrations.inflight].map((item) => this.provider.abandonOrchestrationWorkItem(item, { retryAfterMs: RELEASE_MARGIN_MS }, now)),
    ];
    this.stats.released += held.length;
    if (held.length > 0) {
      this.logger.warn(`Stopping: released ${held.length} work item(s) still running after the grace period of ${grace} ms; other hosts take them over.`);
    }
    // A store that cannot be reached cannot be told; the leases then expire by themselves.
    await within(Promise.allSettled(held), Math.max(100, started + grace - Date.now()));
  }

  /** The grace period of stop(). */
  get drainTimeoutMs(): number {
    return this.options.drainTimeoutMs;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Looks for work at once rather than at the next wake-up or poll: for a clock moved by hand
   * (perdure/testing), where the time a timer becomes due is not one the worker can wait for.
   */
  poke(): void {
    this.orchestrations.signal.notify();
    this.activities.signal.notify();
  }

  /**
   * Offers to run a new instance's first step as soon as this process starts it (the start leases the
   * instance here and hands over its work item). Declined when the worker is not running, has not the
   * function, may not run the version, or has no free slot. The slot offered is held until the start
   * accepts or releases the claim.
   */
  claimStart(name: string, version: string | undefined): StartClaim | undefined {
    const lane = this.orchestrations;
    if (!this.running || lane.inflight.size + lane.reserved >= lane.max) return undefined;
    if (!this.functions.orchestrations.includes(functionKey(name)) || !this.processor.mayRun(version)) return undefined;
    lane.reserved++;
    let open = true;
    const end = (): boolean => {
      if (!open) return false;
      open = false;
      lane.reserved--;
      return true;
    };
    return {
      workerId: this.workerId,
      leaseMs: this.options.leaseMs,
      accept: (item) => {
        if (!end()) return;
        if (this.running) return this.run(lane, item);
        // Stopped meanwhile: handed back for another host (or this one's next start) at once.
        void this.provider.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, this.clock.now()).catch(() => undefined);
      },
      release: () => {
        if (end()) lane.slotWaiters.shift()?.();
      },
    };
  }

  /** Nothing held, being locked, or run and waiting for its result to be recorded here (perdure/testing's runUntilIdle). */
  get isIdle(): boolean {
    return [this.orchestrations, this.activities].every((lane) => lane.inflight.size === 0 && lane.reserved === 0) && this.pendingResults.size === 0 && !this.flushScheduled;
  }

  /** One dispatch loop, shared by orchestrations and activities: lock what fits, hand it out, wait. */
  private async dispatchLoop<T>(lane: Lane<T>): Promise<void> {
    let failures = 0;
    while (this.running) {
      if (lane.inflight.size + lane.reserved >= lane.max) await new Promise<void>((resolve) => lane.slotWaiters.push(resolve));
      if (!this.running) break;
      const free = lane.max - lane.inflight.size - lane.reserved;
      if (free <= 0) continue;
      const lockedAt = this.clock.now();
      let items: T[];
      // The slots asked for are reserved while the lock is in flight, so a commit that leases
      // activities to this worker meanwhile cannot take them too.
      lane.reserved += free;
      try {
        items = await lane.lock(free, lockedAt);
        failures = 0;
      } catch (err) {
        lane.reserved -= free;
        failures++;
        this.onStoreError(err);
        // Said once per outage, not once per attempt: the host's health check tells the rest.
        if (failures === 1 || failures % 20 === 0) this.logger.error(`Locking ${lane.kind} work failed (attempt ${failures}): ${failureFromError(err).errorMessage}`);
        await lane.signal.wait(Math.min(5_000, 50 * 2 ** Math.min(failures, 7)));
        continue;
      }
      lane.reserved -= free;
      if (items.length === 0) {
        await this.idle(lane.signal, lockedAt);
        continue;
      }
      for (const item of items) this.run(lane, item);
      // Everything ready was taken: wait for the next wake-up (or the next due timer) rather than
      // asking storage again at once.
      if (items.length < free) await this.idle(lane.signal, lockedAt);
    }
  }

  private run<T>(lane: Lane<T>, item: T): void {
    lane.inflight.add(item);
    let handled: Promise<void>;
    try {
      handled = lane.handle(item);
    } catch (err) {
      // A handler that is not an async function may throw before it returns its promise.
      handled = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    void handled
      .catch((err: unknown) => this.logger.error(`Handling ${lane.kind} work failed: ${failureFromError(err).errorMessage}`))
      .finally(() => {
        lane.inflight.delete(item);
        lane.slotWaiters.shift()?.();
      });
  }

  /**
   * Waits for a wake-up, the next due message, or the polling floor. "Next due" is asked relative to
   * the time the lock used: a message that became visible just after the lock looked must count as
   * due now, not be missed until the next poll.
   */
  private async idle(signal: WorkSignal, lockedAt: number): Promise<void> {
    let wait = this.options.pollIntervalMs;
    // Two turns first: the steps just handed out queue their commit a turn from now (group commit),
    // and asking the store when work is next due is not worth delaying them for (a step's latency
    // on SQLite). Immediates queued in one turn run in the next, so one turn would not be enough.
    for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      const next = await this.provider.nextVisibleAt(lockedAt);
      if (next !== undefined) wait = Math.max(0, Math.min(wait, next - this.clock.now() + 1));
    } catch {
      // The next lock attempt surfaces persistent storage errors.
    }
    await signal.wait(wait);
  }

  private async handleOrchestration(item: OrchestrationWorkItem): Promise<void> {
    const began = performance.now();
    const kind = item.instance.kind === "entity" ? "entity" : "orchestration";
    this.metrics.workItem(kind, item.takeover === true);
    const outcome = await this.processor.process(item).catch((err: unknown) => ({ kind: "park" as const, code: PARK_CODES.internal, message: failureFromError(err).errorMessage }));
    if (outcome.kind === "abandon") {
      this.stats.abandoned++;
      await this.provider.abandonOrchestrationWorkItem(item, { retryAfterMs: outcome.retryAfterMs }, this.clock.now()).catch(() => undefined);
      return;
    }
    if (outcome.kind === "park") {
      await this.park(item, outcome.code, outcome.message);
      return;
    }
    let result: CommitResult;
    try {
      result = await this.commitWithLeases(outcome.commit);
    } catch (err) {
      result = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    }
    outcome.after(result);
    if (outcome.span && result.ok) endStepSpan(outcome.span, outcome.commit);
    if (result.ok) this.metrics.step(kind, (performance.now() - began) / 1000);
    if (result.ok) {
      this.stats.orchestrationSteps++;
      return;
    }
    this.processor.cache.delete(item.instanceId);
    // A lost lease belongs to someone else now; any other refusal is storage's, and parks the instance.
    if (result.error instanceof LockLostError) {
      this.stats.lockLost++;
      this.logger.warn(`Step of '${item.instanceId}' not committed: ${result.error.message}`, { instanceId: item.instanceId, functionName: item.instance.name, event: "LeaseLost" });
      return;
    }
    this.onStoreError(result.error);
    await this.park(item, PARK_CODES.storage, `Committing the step failed: ${failureFromError(result.error).errorMessage}`);
  }

  /** Releases the item with its reason stored and a retry delay that grows with its attempts. */
  private async park(item: OrchestrationWorkItem, code: string, message: string): Promise<void> {
    this.stats.parked++;
    this.metrics.parked();
    this.processor.cache.delete(item.instanceId);
    const now = this.clock.now();
    const info = parkInfo(code, message, item.dequeueCount, now, item.instance.parked, this.policy);
    const retryAfterMs = (info.retryAt ?? now) - now;
    // Waiting for a host that has the function (or runs the instance's version) is an operational
    // state, said once when it begins: a version mismatch is offered again every second until a host
    // of that version takes it, and a line each time would bury the log during a rolling deploy.
    // Anything else is broken, and said each time.
    const waiting = code === PARK_CODES.functionNotFound || code === PARK_CODES.versionMismatch;
    const level = !waiting ? "error" : item.instance.parked?.code === code ? "debug" : "warn";
    const retryText = waiting && level === "warn" ? "retried until a host can run it; said once" : `retry in ${Math.round(retryAfterMs / 1000)} s`;
    this.logger[level]?.(`Instance '${item.instanceId}' (${item.instance.name}) parked: ${code} (attempt ${info.attempts}, ${retryText}): ${message}`, {
      instanceId: item.instanceId,
      executionId: item.instance.executionId,
      functionName: item.instance.name,
      event: "InstanceParked",
      code,
      attempt: info.attempts,
    });
    await this.provider.abandonOrchestrationWorkItem(item, { retryAfterMs, park: info }, now).catch((err: unknown) => {
      this.logger.error(`Parking '${item.instanceId}' failed; its lease expires instead: ${failureFromError(err).errorMessage}`);
    });
  }

  /**
   * Commits a step, leasing the activity tasks it creates to this worker (up to its free slots, plus
   * `handedOver`: the slots of the finished activities whose results this step records), and starts
   * those at once. Their slots stay reserved until they run, so the dispatch loop cannot fill them
   * meanwhile.
   */
  private async commitWithLeases(commit: OrchestrationCommit, handedOver = 0): Promise<CommitResult> {
    const result = await this.commitLeasing(commit, handedOver);
    if (result.ok) trackStep(this.logger, commit);
    return result;
  }

  private async commitLeasing(commit: OrchestrationCommit, handedOver: number): Promise<CommitResult> {
    commit.workerId = this.workerId;
    const lane = this.activities;
    const free = this.running ? Math.max(0, lane.max - lane.inflight.size - lane.reserved + handedOver) : 0;
    const max = Math.min(free, commit.activityTasks.length);
    if (max === 0) return this.orchestrationCommits.add(commit);
    commit.leaseActivities = { workerId: this.workerId, leaseMs: this.options.leaseMs, max, functions: this.functions.activities };
    // The handed-over slots are reserved already (by the finished activities, until their results
    // are recorded): only the slots beyond them are reserved here. Counting them twice would leave
    // the other steps committed in the same turn without a slot to lease into.
    const extra = Math.max(0, max - handedOver);
    lane.reserved += extra;
    try {
      const result = await this.orchestrationCommits.add(commit);
      if (result.ok) for (const item of result.leasedActivities ?? []) this.run(lane, item);
      return result;
    } finally {
      lane.reserved -= extra;
      lane.slotWaiters.shift()?.();
    }
  }

  private handleActivity(item: ActivityWorkItem): Promise<void> {
    this.metrics.workItem("activity", false);
    if (item.dequeueCount > 1) this.metrics.activityRerun();
    trackActivity(this.logger, item, "start");
    const began = performance.now();
    const parent = this.telemetry.resume(item.metadata);
    const span = this.telemetry.start(`activity ${item.name}`, parent, SpanKind.INTERNAL, {
      "perdure.instance_id": item.instanceId,
      "perdure.execution_id": item.executionId,
      "perdure.function": item.name,
      "perdure.task_id": item.taskScheduledId,
      "perdure.attempt": item.dequeueCount,
    });
    const ran = this.telemetry.within(span, parent, () => runActivity(item, this.registry, this.clock, this.logger, this.contextExtras, this.options.maxPayloadBytes));
    // Most activities answer at once: no promise to wait on (runActivity's own note).
    return ran instanceof Promise ? ran.then((event) => this.activityRan(item, event, span, began)) : this.activityRan(item, ran, span, began);
  }

  /** After an activity ran: ends its span and queues its result to be recorded; resolves once it is. */
  private activityRan(item: ActivityWorkItem, event: TaskCompletedEvent | TaskFailedEvent, span: Span, began: number): Promise<void> {
    endSpan(span, event.type === "TaskFailed" ? new Error(event.failureDetails.errorMessage) : undefined);
    this.stats.activitiesRun++;
    if (this.logger.debug) trackActivity(this.logger, item, "end", { ok: event.type === "TaskCompleted", durationMs: Math.round(performance.now() - began), ...(event.type === "TaskFailed" ? { error: event.failureDetails.errorMessage } : {}) });
    // Ran: its slot is held as reserved until the result is recorded, and the step recorded with it
    // may hand that slot to the next activity it leases (a lane of one still runs a sequence in one
    // transaction per step).
    const lane = this.activities;
    lane.inflight.delete(item);
    lane.reserved++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        lane.reserved--;
        resolve();
      };
      const list = this.pendingResults.get(item.instanceId) ?? [];
      list.push({ result: { item, event }, done });
      this.pendingResults.set(item.instanceId, list);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushResults());
      }
    });
  }

  /**
   * Records the activity results gathered in this turn: those of an instance whose executor is
   * cached here go with its next step in one commit; the others are sent to their instance's inbox.
   */
  private flushResults(): void {
    this.flushScheduled = false;
    const groups = this.pendingResults;
    this.pendingResults = new Map();
    for (const [instanceId, pending] of groups) {
      const executionId = pending[0]!.result.item.executionId;
      const same = pending.filter((p) => p.result.item.executionId === executionId);
      const others = pending.filter((p) => p.result.item.executionId !== executionId);
      void this.recordLocally(instanceId, executionId, same);
      if (others.length > 0) void this.recordInInbox(others);
    }
    // Every result of this turn is queued by now (recordLocally queues its step before it first
    // waits): written at once, not a turn later.
    this.orchestrationCommits.flushNow();
    this.activityCommits.flushNow();
  }

  private async recordLocally(instanceId: string, executionId: string, pending: PendingResult[]): Promise<void> {
    const began = performance.now();
    const local = this.running ? this.processor.localStep(instanceId, executionId, pending.map((p) => p.result)) : undefined;
    if (!local) return this.recordInInbox(pending);
    let result: CommitResult;
    try {
      result = await this.commitWithLeases(local.commit, pending.length);
    } catch (err) {
      result = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    }
    local.after(result.ok);
    if (result.ok) {
      endStepSpan(local.span, local.commit);
      this.metrics.workItem("orchestration", false);
      this.metrics.step("orchestration", (performance.now() - began) / 1000);
    }
    if (!result.ok) {
      this.processor.cache.delete(instanceId);
      return this.recordInInbox(pending);
    }
    this.stats.orchestrationSteps++;
    this.stats.localSteps++;
    for (const p of pending) p.done();
  }

  private async recordInInbox(pending: PendingResult[]): Promise<void> {
    await Promise.all(
      pending.map(async ({ result: { item, event }, done }) => {
        try {
          const result = await this.activityCommits.add({ item, event });
          if (!result.ok) {
            this.stats.lockLost++;
            this.logger.warn(`Result of activity '${item.name}' for '${item.instanceId}' not recorded: ${result.error.message}`, { instanceId: item.instanceId, functionName: item.name, functionType: "activity", event: "LeaseLost" });
          }
        } catch (err) {
          this.logger.error(`Recording the result of activity '${item.name}' failed; it will run again: ${failureFromError(err).errorMessage}`);
          await this.provider.abandonActivityWorkItem(item, 1_000, this.clock.now()).catch(() => undefined);
        } finally {
          done();
        }
      }),
    );
  }

  /**
   * Marks work that waits for a function this host does not have, so an operator sees why nothing
   * happens. The work itself is not touched: a host that has the function takes it.
   */
  private async markStrandedWork(): Promise<void> {
    if (!this.running) return;
    const now = this.clock.now();
    try {
      const work = await this.provider.findStrandedWork({ functions: this.functions, now, visibleBefore: now - this.options.strandedAfterMs, limit: 100 });
      const targets = [
        ...work.instances.map((i) => ({ instanceId: i.instanceId, message: `No ${i.kind === "entity" ? "entity" : "orchestrator"} function named '${i.name}' is registered on host ${this.workerId}; the instance waits for a host that has it.` })),
        ...work.activities.map((a) => ({ instanceId: a.instanceId, message: `Activity '${a.name}' is not registered on host ${this.workerId}; the call waits for a host that has it.` })),
      ];
      for (const t of targets) {
        const current = await this.provider.getInstance(t.instanceId, { input: false });
        if (!current || current.parked?.code === PARK_CODES.functionNotFound) continue;
        if (await this.provider.markParked(t.instanceId, { code: PARK_CODES.functionNotFound, message: t.message, since: now, attempts: 0 }, now)) {
          this.logger.warn(`Instance '${t.instanceId}' waits: ${t.message}`);
        }
      }
    } catch (err) {
      this.logger.warn(`Looking for stranded work failed: ${failureFromError(err).errorMessage}`);
    }
  }

  private async renewLeases(): Promise<void> {
    const now = this.clock.now();
    // Renewed with most of the lease still left, so a renewal a few ticks late does not lose it.
    const soon = now + this.options.leaseMs * 0.6;
    const acts = [...this.activities.inflight].filter((i) => i.lockedUntil < soon);
    const orchs = [...this.orchestrations.inflight].filter((i) => i.lockedUntil < soon);
    try {
      if (acts.length) await this.provider.renewActivityWorkItems(acts, this.options.leaseMs, now);
      if (orchs.length) await this.provider.renewOrchestrationWorkItems(orchs, this.options.leaseMs, now);
    } catch (err) {
      this.logger.warn(`Lease renewal failed: ${failureFromError(err).errorMessage}`);
    }
  }
}

function validateOptions(o: Resolved, policy: RetryPolicy): void {
  const ms = (name: string, v: unknown, min = 0): void => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new InvalidArgumentError(`${name} must be a number of milliseconds >= ${min}, got ${String(v)}.`);
  };
  ms("leaseMs", o.leaseMs, 100);
  ms("leaseRenewMs", o.leaseRenewMs, 10);
  if (o.leaseRenewMs > o.leaseMs / 3) throw new InvalidArgumentError(`leaseRenewMs (${o.leaseRenewMs}) must be at most a third of leaseMs (${o.leaseMs}), so a lease survives a late renewal.`);
  ms("drainTimeoutMs", o.drainTimeoutMs);
  ms("affinityGraceMs", o.affinityGraceMs);
  ms("hostTimeoutMs", o.hostTimeoutMs, 1);
  ms("httpPollingDefaultDelayMs", o.httpPollingDefaultDelayMs);
  ms("strandedAfterMs", o.strandedAfterMs);
  checkMaxPayloadBytes(o.maxPayloadBytes);
  if (!Number.isInteger(o.executorCacheBytes) || o.executorCacheBytes < 0) throw new InvalidArgumentError(`executorCacheBytes must be a whole number of bytes >= 0 (0 keeps no executor), got ${String(o.executorCacheBytes)}.`);
  if (!isValidHistoryLimit(o.maxHistoryEvents)) throw new InvalidArgumentError(`maxHistoryEvents must be a whole number of events >= 100, got ${String(o.maxHistoryEvents)}.`);
  ms("retry.initialDelayMs", policy.initialDelayMs);
  ms("retry.maxDelayMs", policy.maxDelayMs);
  if (!Number.isInteger(policy.maxDequeueCount) || policy.maxDequeueCount < 1) throw new InvalidArgumentError(`retry.maxDequeueCount must be an integer >= 1, got ${String(policy.maxDequeueCount)}.`);
  if (policy.onNondeterminism !== "park" && policy.onNondeterminism !== "fail") throw new InvalidArgumentError(`retry.onNondeterminism must be "park" or "fail", got ${String(policy.onNondeterminism)}.`);
}

/** Waits for `p`, but no longer than `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(timer);
}

/** Ends a committed step's span; a step that failed its orchestration ends it as failed. */
function endStepSpan(span: Span, commit: OrchestrationCommit): void {
  const f = commit.instance.runtimeStatus === "Failed" ? commit.instance.failureDetails : undefined;
  endSpan(span, f ? new Error(f.errorMessage) : undefined);
}

/** The version rule of a host: none without a version of its own, else its strategies (checked here: a typo must not run everything). */
function versionCheckOf(options: WorkerOptions): VersionCheck | undefined {
  const match = options.versionMatch ?? "CurrentOrOlder";
  const failure = options.versionFailure ?? "Reject";
  if (!VERSION_MATCH_STRATEGIES.includes(match)) throw new InvalidArgumentError(`versionMatch must be one of ${VERSION_MATCH_STRATEGIES.join(", ")}, got ${JSON.stringify(match)}.`);
  if (!VERSION_FAILURE_STRATEGIES.includes(failure)) throw new InvalidArgumentError(`versionFailure must be one of ${VERSION_FAILURE_STRATEGIES.join(", ")}, got ${JSON.stringify(failure)}.`);
  const version = checkVersion(options.version, "The host's version");
  if (version === undefined || match === "None") return undefined;
  return { version, match, failure };
}
