import { randomUUID } from "node:crypto";
import type { OrchestratorFunction } from "../core/context.js";
import { type ExecutionResult, type ExecutorOptions, OrchestrationExecutor } from "../core/executor.js";
import { FunctionNotFoundError, NonDeterminismError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../core/history.js";
import { lockReleases, type StepContext, consumeOnly, eventsForStep, orchestrationStep, rewindStep, terminateWithoutCode, type ChildState } from "../core/orchestration-step.js";
import { planRewind, rewindBlocker } from "../core/rewind.js";
import { isTerminalStatus } from "../core/status.js";
import { isPoison, PARK_CODES, type RetryPolicy } from "../core/step-policy.js";
import type { StepCommit } from "../core/step-commit.js";
import type { ActivityResult, OrchestrationCommit, OrchestrationWorkItem, StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { EntityProcessor } from "./entity-processor.js";
import { ExecutorCache } from "./executor-cache.js";
import { StepError, type StepOutcome } from "./step-outcome.js";

export interface ProcessorOptions {
  cacheSize: number;
  policy: RetryPolicy;
  executor: Pick<ExecutorOptions, "httpPollingDefaultDelayMs">;
}

/** A step run on a cached executor without a lease: an activity result with the next step, one commit. */
export interface LocalStep {
  commit: OrchestrationCommit;
  after: (ok: boolean) => void;
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
    this.cache = new ExecutorCache(options.cacheSize);
    this.entities = new EntityProcessor(registry, clock, logger);
  }

  async process(item: OrchestrationWorkItem): Promise<StepOutcome> {
    if (item.instance.kind === "entity") return this.entities.process(item);
    const inst = item.instance;
    if (isPoison(item.dequeueCount, inst.parked, this.options.policy)) {
      this.cache.delete(item.instanceId);
      return {
        kind: "park",
        code: PARK_CODES.poison,
        message: `The step of this instance was taken ${item.dequeueCount} times without completing (the worker crashed, hung or lost its lease each time). It is retried after a delay; check the host logs around the last attempts.`,
      };
    }
    try {
      return await this.step(item);
    } catch (err) {
      this.cache.delete(item.instanceId);
      if (err instanceof StepError) return { kind: "park", code: err.code, message: err.message };
      const f = failureFromError(err);
      return { kind: "park", code: PARK_CODES.internal, message: `Preparing the step failed: ${f.errorType}: ${f.errorMessage}` };
    }
  }

  private async step(item: OrchestrationWorkItem): Promise<StepOutcome> {
    const inst = item.instance;
    // The orchestration's clock never runs backwards, even when a worker with a slower clock takes over.
    const now = Math.max(this.clock.now(), inst.lastUpdatedAt);
    const consumed = item.messages.map((m) => m.id);
    const events = eventsForStep(
      item.messages.map((m) => m.message),
      inst.executionId,
    );

    if (isTerminalStatus(inst.runtimeStatus)) {
      this.cache.delete(item.instanceId);
      const rewound = events.find((e) => e.type === "ExecutionRewound");
      if (inst.runtimeStatus === "Failed" && rewound) return this.rewind(item, rewound, consumed, now);
      return this.commit(item, consumed, consumeOnly(currentRow(item)));
    }

    const termination = events.find((e) => e.type === "ExecutionTerminated");
    const fn = this.registry.getOrchestration(inst.name);
    const cached = fn ? this.cache.take(item.instanceId, inst.executionId, inst.historyLength) : undefined;
    const history = cached ? [] : (item.history ?? (await this.readHistory(item.instanceId)));
    const started = cached?.started ?? findStarted(history) ?? findStarted(events);
    if (!started) {
      // Events raised to an instance whose start is not visible yet (a scheduled start): leave them queued.
      return { kind: "abandon", retryAfterMs: 1000 };
    }
    const ctx: StepContext = { instanceId: item.instanceId, started, now, newId: newExecutionId, previousCustomStatus: inst.customStatus };
    if (!fn) {
      if (termination) return this.terminate(item, consumed, ctx, history, events, termination);
      const known = this.registry.orchestrationNames();
      throw new StepError(PARK_CODES.functionNotFound, new FunctionNotFoundError("orchestrator", inst.name, known).message);
    }
    const executor = cached?.executor ?? this.newExecutor(fn.handler, started);
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(now).toISOString() }, ...events];
    const result = executor.execute(history, newEvents);
    if (result.replayFailure) {
      if (termination) return this.terminate(item, consumed, ctx, cached ? await this.readHistory(item.instanceId) : history, events, termination);
      return this.replayFailed(item, consumed, ctx, result.replayFailure, newEvents, cached ? undefined : history);
    }
    const commit = orchestrationStep(ctx, result);
    const length = (commit.replaceHistory ? 0 : inst.historyLength) + commit.newHistory.length;
    return this.commit(item, consumed, commit, (ok) => {
      if (ok && !result.completion) this.cache.put(item.instanceId, { executor, executionId: started.executionId, started, historyLength: length, customStatus: commit.instance.customStatus });
    });
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
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(at).toISOString() }, ...results.map((r) => r.event)];
    const result = cached.executor.execute([], newEvents);
    if (result.replayFailure) return undefined;
    const step = orchestrationStep({ instanceId, started: cached.started, now: at, newId: newExecutionId, previousCustomStatus: cached.customStatus }, result);
    const commit: OrchestrationCommit = { ...step, fence: { kind: "optimistic", instanceId, executionId, historyLength: cached.historyLength }, activityResults: results };
    const length = (step.replaceHistory ? 0 : cached.historyLength) + step.newHistory.length;
    return {
      commit,
      after: (ok) => {
        if (ok && !result.completion) this.cache.put(instanceId, { ...cached, historyLength: length, customStatus: step.instance.customStatus });
      },
    };
  }

  private newExecutor(handler: OrchestratorFunction, started: ExecutionStartedEvent): OrchestrationExecutor {
    const log = (level: "info" | "warn" | "error", message: string): void => this.logger[level](`[${started.name} ${started.instanceId}] ${message}`);
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
    return { kind: "commit", commit: { ...step, fence: { kind: "lease", item, consumedMessageIds: consumed } }, after: (r) => after(r.ok) };
  }

  private terminate(item: OrchestrationWorkItem, consumed: number[], ctx: StepContext, history: HistoryEvent[], events: HistoryEvent[], termination: HistoryEvent): StepOutcome {
    this.cache.delete(item.instanceId);
    const reason = termination.type === "ExecutionTerminated" ? termination.input : undefined;
    const arrived = events.filter((e) => e.type !== "ExecutionStarted" || !history.some((h) => h.type === "ExecutionStarted"));
    return this.commit(item, consumed, terminateWithoutCode(ctx, history, arrived, reason));
  }

  /** The history no longer replays: park (default), or fail the instance as Durable Functions does. */
  private async replayFailed(item: OrchestrationWorkItem, consumed: number[], ctx: StepContext, err: Error, newEvents: HistoryEvent[], history: HistoryEvent[] | undefined): Promise<StepOutcome> {
    this.cache.delete(item.instanceId);
    const f = failureFromError(err);
    const code = f.code ?? PARK_CODES.internal;
    if (!(err instanceof NonDeterminismError) || this.options.policy.onNondeterminism === "park") {
      return { kind: "park", code, message: f.errorMessage };
    }
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
    step.messages.push(...lockReleases(history ?? (await this.readHistory(item.instanceId)), ctx.now));
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
    const result = executor.execute(plan.history, [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(now).toISOString() }, rewound]);
    if (result.replayFailure) {
      const f = failureFromError(result.replayFailure);
      return { kind: "park", code: f.code ?? PARK_CODES.internal, message: `The rewind could not replay the history: ${f.errorMessage}` };
    }
    const children = new Map<string, ChildState | undefined>();
    for (const child of plan.childrenToRewind) {
      const r = await this.provider.getInstance(child);
      children.set(child, r ? { runtimeStatus: r.runtimeStatus, ...(r.output !== undefined ? { output: r.output } : {}) } : undefined);
    }
    const ctx: StepContext = { instanceId: item.instanceId, started, now, newId: newExecutionId, previousCustomStatus: item.instance.customStatus };
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
