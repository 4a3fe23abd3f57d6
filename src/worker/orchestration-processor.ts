import { isoTime } from "../core/iso-time.js";
import { checkHistoryLength, DEFAULT_MAX_HISTORY_EVENTS } from "../core/history-limit.js";
import { randomUUID } from "node:crypto";
import type { OrchestratorFunction } from "../core/context.js";
import { type ExecutionResult, type ExecutorOptions, OrchestrationExecutor } from "../core/executor.js";
import { FunctionNotFoundError, NonDeterminismError } from "../core/errors.js";
import { type FailureDetails, failureFromError } from "../core/failure.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../core/history.js";
import { lockReleases, type StepContext, consumeOnly, eventsForStep, orchestrationStep, rewindStep, terminateWithoutCode, type ChildState } from "../core/orchestration-step.js";
import { planRewind, rewindBlocker } from "../core/rewind.js";
import { PARK_CODES, type RetryPolicy } from "../core/step-policy.js";
import { planReplayFailure, planStep } from "../core/step-plan.js";
import type { StepCommit } from "../core/step-commit.js";
import { type ActivityResult, type OrchestrationCommit, orchestrationCommit, type OrchestrationWorkItem, type StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import { endSpan, type Span, SpanKind, type Telemetry } from "../runtime/telemetry.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { EntityProcessor } from "./entity-processor.js";
import { ExecutorCache, payloadBytes } from "./executor-cache.js";
import { StepError, type StepOutcome } from "./step-outcome.js";
import { type VersionFailureStrategy, type VersionMatchStrategy, versionMismatch } from "../core/version.js";
import { traceCommit } from "./step-tracing.js";

export interface ProcessorOptions {
  cacheSize: number;
  /** Payload bytes the cached executors may hold (default DEFAULT_EXECUTOR_CACHE_BYTES). */
  cacheBytes?: number;
  policy: RetryPolicy;
  executor: Pick<ExecutorOptions, "httpPollingDefaultDelayMs" | "maxPayloadBytes">;
  telemetry: Telemetry;
  /** The host's app version, for sub-orchestrations started without one. */
  defaultVersion?: string | undefined;
  /** Which instance versions this host runs, and what it does with the others; undefined: all. */
  versionCheck?: VersionCheck | undefined;
  /** The longest history an execution may reach (default DEFAULT_MAX_HISTORY_EVENTS). */
  maxHistoryEvents?: number | undefined;
}

export interface VersionCheck {
  version: string;
  match: VersionMatchStrategy;
  failure: VersionFailureStrategy;
}

/** A step run on a cached executor without a lease: an activity result with the next step, one commit. */
export interface LocalStep {
  commit: OrchestrationCommit;
  after: (ok: boolean) => void;
  span: Span;
}

/**
 * Runs one orchestration step: picks the cached executor (or replays history into a new one), feeds
 * it the new messages and turns its decisions (core's step transition) into a commit — or, when the
 * code cannot run here or the history cannot be replayed, parks the instance.
 */
export class OrchestrationProcessor {
  readonly cache: ExecutorCache;
  private readonly entities: EntityProcessor;

  constructor(
    private readonly provider: StorageProvider,
    private readonly registry: FunctionRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: ProcessorOptions,
  ) {
    this.cache = new ExecutorCache(options.cacheSize, options.cacheBytes);
    this.entities = new EntityProcessor(registry, clock, logger, options.telemetry, options.executor.maxPayloadBytes);
  }

  /** Whether this host's version rule lets it run an instance started with `version`. */
  mayRun(version: string | undefined): boolean {
    const check = this.options.versionCheck;
    return !check || versionMismatch(version ?? "", check.version, check.match) === undefined;
  }

  async process(item: OrchestrationWorkItem): Promise<StepOutcome> {
    try {
      if (item.instance.kind === "entity") return await this.entities.process(item, this.options.policy);
      return await this.step(item);
    } catch (err) {
      this.cache.delete(item.instanceId);
      if (err instanceof StepError) return { kind: "park", code: err.code, message: err.message };
      const f = failureFromError(err);
      return { kind: "park", code: PARK_CODES.internal, message: `Preparing the step failed: ${f.errorType}: ${f.errorMessage}` };
    }
  }

  /** Carries out core's plan for the item (core/step-plan.ts): only reading and running happen here. */
  private async step(item: OrchestrationWorkItem): Promise<StepOutcome> {
    const inst = item.instance;
    if (item.unreadable) throw new StepError(PARK_CODES.historyUnreadable, item.unreadable);
    // The orchestration's clock never runs backwards, even when a worker with a slower clock takes over.
    const now = Math.max(this.clock.now(), inst.lastUpdatedAt);
    const consumed = item.messages.map((m) => m.id);
    const events = eventsForStep(
      item.messages.map((m) => m.message),
      inst.executionId,
    );
    const fn = this.registry.getOrchestration(inst.name);
    const plan = planStep(
      { runtimeStatus: inst.runtimeStatus, parked: inst.parked, dequeueCount: item.dequeueCount, hasFunction: fn !== undefined, eventTypes: events.map((e) => e.type) },
      this.options.policy,
    );
    if (plan.kind !== "run") this.cache.delete(item.instanceId);
    switch (plan.kind) {
      case "park":
        if (plan.code === PARK_CODES.functionNotFound) throw new StepError(plan.code, new FunctionNotFoundError("orchestrator", inst.name, this.registry.orchestrationNames()).message);
        return { kind: "park", code: plan.code, message: plan.message };
      case "consume": {
        // A rewind this host cannot carry out stays queued for a host that has the function.
        const kept = plan.keepRewinds ? new Set(item.messages.filter((m) => m.message.event.type === "ExecutionRewound").map((m) => m.id)) : new Set<number>();
        return this.commit(item, consumed.filter((id) => !kept.has(id)), consumeOnly(currentRow(item)));
      }
      case "rewind":
        return this.rewind(item, events.find((e) => e.type === "ExecutionRewound")!, consumed, now);
      case "terminateWithoutCode":
      case "run":
        break;
    }

    const cached = plan.kind === "run" ? this.cache.take(item.instanceId, inst.executionId, inst.historyLength) : undefined;
    const history = cached ? [] : (item.history ?? (await this.readHistory(item.instanceId)));
    const started = cached?.started ?? findStarted(history) ?? findStarted(events);
    if (!started) {
      // Events raised to an instance whose start is not visible yet (a scheduled start): leave them queued.
      return { kind: "abandon", retryAfterMs: 1000 };
    }
    const ctx: StepContext = { instanceId: item.instanceId, started, now, newId: newExecutionId, previousCustomStatus: inst.customStatus, defaultVersion: this.options.defaultVersion };
    if (plan.kind === "terminateWithoutCode" || !fn) return this.terminate(item, consumed, ctx, history, events);
    const check = this.options.versionCheck;
    const mismatch = check && versionMismatch(started.version ?? "", check.version, check.match);
    if (check && mismatch) {
      this.cache.delete(item.instanceId);
      const message = `Orchestration '${started.name}' cannot run on this host: ${mismatch}.`;
      if (check.failure === "Reject") return { kind: "park", code: PARK_CODES.versionMismatch, message: `${message} It waits for a host that may run it.` };
      const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: isoTime(now) }, ...events];
      const f: FailureDetails = { errorType: "VersionMismatchError", errorMessage: `${message} (version failure strategy Fail)`, isNonRetriable: true, code: "VERSION_MISMATCH" };
      return this.failOnReplay(item, consumed, ctx, f, newEvents, cached ? await this.readHistory(item.instanceId) : history);
    }
    const executor = cached?.executor ?? this.newExecutor(fn.handler, started);
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: isoTime(now) }, ...events];
    const { span, parent } = this.stepSpan(started, history.length);
    const result = this.options.telemetry.within(span, parent, () => executor.execute(history, newEvents));
    if (result.replayFailure) {
      endSpan(span, result.replayFailure);
      this.cache.delete(item.instanceId);
      const f = failureFromError(result.replayFailure);
      const next = planReplayFailure({ code: f.code, isNondeterminism: result.replayFailure instanceof NonDeterminismError }, events.some((e) => e.type === "ExecutionTerminated"), this.options.policy);
      // A cached executor was given no past: the stored history is read for what ends the instance.
      const stored = async (): Promise<HistoryEvent[]> => (cached ? await this.readHistory(item.instanceId) : history);
      if (next.kind === "terminateWithoutCode") return this.terminate(item, consumed, ctx, await stored(), events);
      if (next.kind === "park") return { kind: "park", code: next.code, message: f.errorMessage };
      return this.failOnReplay(item, consumed, ctx, f, newEvents, await stored());
    }
    const commit = orchestrationStep(ctx, result);
    const length = (commit.replaceHistory ? 0 : inst.historyLength) + commit.newHistory.length;
    const limit = checkHistoryLength(started.name, inst.historyLength, length, this.historyLimit, result.completion !== undefined);
    if (limit.kind === "fail") {
      endSpan(span, new Error(limit.failure.errorMessage));
      return this.failOnReplay(item, consumed, ctx, limit.failure, newEvents, cached ? await this.readHistory(item.instanceId) : history);
    }
    traceCommit(commit, this.options.telemetry.carrySpan(span, parent), started.traceContext);
    return {
      kind: "commit",
      commit: orchestrationCommit(commit, { kind: "lease", item, consumedMessageIds: consumed }),
      span,
      after: (r) => {
        // Said once the step is in: a step that did not commit is redone, and would say it again.
        if (r.ok && limit.kind === "warn") this.warnHistory(limit.message, started);
        if (r.ok && !result.completion) {
          const bytes = (cached?.bytes ?? payloadBytes(history)) + payloadBytes(newEvents);
          this.cache.put(item.instanceId, { executor, executionId: started.executionId, started, historyLength: length, customStatus: commit.instance.customStatus, bytes });
        }
      },
    };
  }

  /**
   * The span of one execution step, a child of the context that started the execution. `replayed`
   * counts the history events the step replayed first (0 on a cached executor).
   */
  private stepSpan(started: ExecutionStartedEvent, replayed: number): { span: Span; parent: ReturnType<Telemetry["resume"]> } {
    const t = this.options.telemetry;
    const parent = t.resume(started.traceContext);
    const span = t.start(`orchestration ${started.name}`, parent, SpanKind.INTERNAL, {
      "perdure.instance_id": started.instanceId,
      "perdure.execution_id": started.executionId,
      "perdure.function": started.name,
      "perdure.replayed_events": replayed,
    });
    return { span, parent };
  }

  /**
   * The step an activity result triggers, run on this worker's cached executor without locking the
   * instance: committed optimistically (refused if anyone else touched the instance meanwhile), so an
   * activity result and the next step cost one transaction. Undefined when nothing is cached.
   */
  localStep(instanceId: string, executionId: string, results: readonly ActivityResult[]): LocalStep | undefined {
    const cached = this.cache.takeAny(instanceId);
    if (!cached) return undefined;
    if (cached.executionId !== executionId) {
      this.cache.put(instanceId, cached);
      return undefined;
    }
    // The orchestration's clock never runs backwards: the cached executor knows the last episode's time.
    const at = Math.max(this.clock.now(), cached.executor.currentUtcDateTime.getTime());
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: isoTime(at) }, ...results.map((r) => r.event)];
    const { span, parent } = this.stepSpan(cached.started, 0);
    const result = this.options.telemetry.within(span, parent, () => cached.executor.execute([], newEvents));
    if (result.replayFailure) {
      endSpan(span, result.replayFailure);
      return undefined;
    }
    const step = orchestrationStep({ instanceId, started: cached.started, now: at, newId: newExecutionId, previousCustomStatus: cached.customStatus, defaultVersion: this.options.defaultVersion }, result);
    const length = (step.replaceHistory ? 0 : cached.historyLength) + step.newHistory.length;
    const limit = checkHistoryLength(cached.started.name, cached.historyLength, length, this.historyLimit, result.completion !== undefined);
    if (limit.kind === "fail") {
      // Over the limit: the locked path fails the instance (it reads the history for the locks it holds).
      endSpan(span, undefined);
      return undefined;
    }
    const commit = orchestrationCommit(step, { kind: "optimistic", instanceId, executionId, historyLength: cached.historyLength }, results);
    traceCommit(commit, this.options.telemetry.carrySpan(span, parent), cached.started.traceContext);
    return {
      commit,
      span,
      after: (ok) => {
        if (ok && limit.kind === "warn") this.warnHistory(limit.message, cached.started);
        if (ok && !result.completion) this.cache.put(instanceId, { ...cached, historyLength: length, customStatus: step.instance.customStatus, bytes: cached.bytes + payloadBytes(newEvents) });
      },
    };
  }

  private get historyLimit(): number {
    return this.options.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  }

  /** The step that crossed half the history limit, once it is committed. */
  private warnHistory(message: string, started: ExecutionStartedEvent): void {
    this.logger.warn(message, { instanceId: started.instanceId, executionId: started.executionId, functionName: started.name });
  }

  private newExecutor(handler: OrchestratorFunction, started: ExecutionStartedEvent): OrchestrationExecutor {
    const fields = { instanceId: started.instanceId, executionId: started.executionId, functionName: started.name, functionType: "orchestration", isReplaying: false };
    // Only called when not replaying (the context checks).
    const log = (level: "debug" | "info" | "warn" | "error", message: string): void => {
      if (level === "debug") this.logger.debug?.(message, fields);
      else this.logger[level](message, fields);
    };
    return new OrchestrationExecutor(handler, { ...this.options.executor, log });
  }

  private async readHistory(instanceId: string): Promise<HistoryEvent[]> {
    try {
      return await this.provider.getHistory(instanceId);
    } catch (err) {
      const f = failureFromError(err);
      if (err instanceof SyntaxError) throw new StepError(PARK_CODES.historyUnreadable, `The stored history of '${instanceId}' could not be read: ${f.errorMessage}`, { cause: err });
      throw new StepError(PARK_CODES.storage, `Reading the history of '${instanceId}' failed: ${f.errorMessage}`, { cause: err });
    }
  }

  private commit(item: OrchestrationWorkItem, consumed: number[], step: StepCommit, after: (ok: boolean) => void = () => undefined): StepOutcome {
    return { kind: "commit", commit: orchestrationCommit(step, { kind: "lease", item, consumedMessageIds: consumed }), after: (r) => after(r.ok) };
  }

  private terminate(item: OrchestrationWorkItem, consumed: number[], ctx: StepContext, history: HistoryEvent[], events: HistoryEvent[]): StepOutcome {
    this.cache.delete(item.instanceId);
    const termination = events.find((e) => e.type === "ExecutionTerminated");
    const reason = termination?.type === "ExecutionTerminated" ? termination.input : undefined;
    const arrived = events.filter((e) => e.type !== "ExecutionStarted" || !history.some((h) => h.type === "ExecutionStarted"));
    return this.commit(item, consumed, terminateWithoutCode(ctx, history, arrived, reason));
  }

  /** Fails the instance on a nondeterministic replay, as Durable Functions does (an opt-in). */
  private failOnReplay(item: OrchestrationWorkItem, consumed: number[], ctx: StepContext, f: FailureDetails, newEvents: HistoryEvent[], history: HistoryEvent[]): StepOutcome {
    this.logger.error(`Orchestration '${ctx.started.name}' (${item.instanceId}) failed: ${f.errorMessage}`);
    const reason = `Orchestrator function '${ctx.started.name}' failed: ${f.errorMessage}`;
    const failed: ExecutionResult = {
      actions: [],
      // Everything this step consumed stays in history, so a rewind after a code fix finds it.
      recordedEvents: newEvents,
      completion: { status: "Failed", result: JSON.stringify(reason), failureDetails: f },
      customStatus: undefined,
      suspended: false,
    };
    const step = orchestrationStep(ctx, failed);
    // The executor's own bookkeeping cannot be trusted: the stored history says which locks are held.
    step.messages.push(...lockReleases(history, ctx.now));
    return this.commit(item, consumed, step);
  }

  private async rewind(item: OrchestrationWorkItem, rewound: HistoryEvent, consumed: number[], now: number): Promise<StepOutcome> {
    const history = item.history ?? (await this.readHistory(item.instanceId));
    const plan = planRewind(history);
    const started = findStarted(history);
    if (!plan || !started || rewindBlocker(history)) return this.commit(item, consumed, consumeOnly(currentRow(item)));
    const fn = this.registry.getOrchestration(started.name);
    if (!fn) throw new StepError(PARK_CODES.functionNotFound, new FunctionNotFoundError("orchestrator", started.name, this.registry.orchestrationNames()).message);
    const executor = this.newExecutor(fn.handler, started);
    const result = executor.execute(plan.history, [{ type: "OrchestratorStarted", eventId: -1, timestamp: isoTime(now) }, rewound]);
    if (result.replayFailure) {
      const f = failureFromError(result.replayFailure);
      return { kind: "park", code: f.code ?? PARK_CODES.internal, message: `The rewind could not replay the history: ${f.errorMessage}` };
    }
    const children = new Map<string, ChildState | undefined>();
    for (const child of plan.childrenToRewind) {
      const r = await this.provider.getInstance(child);
      children.set(child, r ? { runtimeStatus: r.runtimeStatus, ...(r.output !== undefined ? { output: r.output } : {}) } : undefined);
    }
    const ctx: StepContext = { instanceId: item.instanceId, started, now, newId: newExecutionId, previousCustomStatus: item.instance.customStatus, defaultVersion: this.options.defaultVersion };
    return this.commit(item, consumed, rewindStep(ctx, plan, result, rewound, children));
  }
}

function currentRow(item: OrchestrationWorkItem): StepCommit["instance"] & { lastUpdatedAt: number } {
  const i = item.instance;
  const row: StepCommit["instance"] & { lastUpdatedAt: number } = { runtimeStatus: i.runtimeStatus, executionId: i.executionId, name: i.name, lastUpdatedAt: i.lastUpdatedAt };
  if (i.input !== undefined) row.input = i.input;
  if (i.output !== undefined) row.output = i.output;
  if (i.customStatus !== undefined) row.customStatus = i.customStatus;
  if (i.failureDetails !== undefined) row.failureDetails = i.failureDetails;
  return row;
}

function findStarted(events: readonly HistoryEvent[]): ExecutionStartedEvent | undefined {
  for (const e of events) if (e.type === "ExecutionStarted") return e;
  return undefined;
}

export function newExecutionId(): string {
  return randomUUID().replace(/-/g, "");
}
