import { randomUUID } from "node:crypto";
import { OrchestrationExecutor, type ExecutionResult, type ExecutorOptions } from "../core/executor.js";
import { FunctionNotFoundError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../core/history.js";
import { planRewind, rewindBlocker } from "../core/rewind.js";
import { isTerminalStatus } from "../core/status.js";
import type { OrchestrationCommit, OrchestrationMessage, OrchestrationWorkItem, OutgoingMessage, StorageProvider } from "../providers/provider.js";
import { ENTITY_RELEASE_EVENT, type ReleaseMessage, unreleasedLocks } from "../core/entity-messages.js";
import type { Clock } from "../runtime/clock.js";
import { EntityId } from "../core/entity-id.js";
import { EntityProcessor } from "./entity-processor.js";
import { ExecutorCache } from "./executor-cache.js";
import { childFailedMessage } from "../core/messages.js";
import { buildCommit } from "./orchestration-step.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import type { Logger } from "../runtime/logger.js";
import type { StepOutcome } from "./step-outcome.js";


/**
 * Runs one orchestration step: picks the cached executor (or replays history into a new one), feeds
 * it the new messages and turns its decisions into a commit. Pure apart from reading history.
 */
export class OrchestrationProcessor {
  readonly cache: ExecutorCache;
  private readonly entities: EntityProcessor;

  constructor(
    private readonly provider: StorageProvider,
    private readonly registry: FunctionRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
    cacheSize: number,
    private readonly executorOptions: Pick<ExecutorOptions, "httpPollingDefaultDelayMs"> = {},
  ) {
    this.cache = new ExecutorCache(cacheSize);
    this.entities = new EntityProcessor(registry, clock, logger);
  }

  async process(item: OrchestrationWorkItem): Promise<StepOutcome> {
    if (EntityId.isEntityInstanceId(item.instanceId)) return this.entities.process(item);
    const inst = item.instance;
    // The orchestration's clock never runs backwards, even when a worker with a slower clock takes over.
    const now = Math.max(this.clock.now(), inst.lastUpdatedAt);
    const consumed = item.messages.map((m) => m.id);
    const events = orderForDelivery(
      item.messages.filter((m) => m.message.executionId === undefined || m.message.executionId === inst.executionId).map((m) => m.message),
      inst.executionId,
    );

    if (isTerminalStatus(inst.runtimeStatus)) {
      const rewound = events.find((e) => e.type === "ExecutionRewound");
      if (inst.runtimeStatus === "Failed" && rewound) return this.rewind(item, rewound, consumed, now);
      this.cache.delete(item.instanceId);
      return this.noop(item, consumed);
    }

    const cached = this.cache.take(item.instanceId, inst.executionId, inst.historyLength);
    let executor: OrchestrationExecutor;
    let past: HistoryEvent[] = [];
    let started: ExecutionStartedEvent | undefined;
    if (cached) {
      executor = cached.executor;
      started = cached.started;
    } else {
      past = inst.historyLength > 0 ? await this.provider.getHistory(item.instanceId) : [];
      started = findStarted(past) ?? findStarted(events);
      if (!started) {
        // Events raised to an instance whose start is not visible yet: leave them queued.
        return { kind: "abandon", retryAfterMs: 1000 };
      }
      executor = this.newExecutor(started);
    }
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(now).toISOString() }, ...events];
    const result = this.run(executor, started, past, newEvents);
    const commit = buildCommit({ item, started, now, newId: newExecutionId }, result, consumed);
    if (result.completion && executor.failedToReplay) {
      // A cached executor was handed no past: the stored history says which locks are held.
      const history = cached ? await this.provider.getHistory(item.instanceId) : past;
      commit.messages.push(...lockReleasesFor(history, now));
    }
    const startedEvent = started;
    return {
      kind: "commit",
      commit,
      after: (ok) => {
        if (!ok || result.completion) return;
        this.cache.put(item.instanceId, {
          executor,
          executionId: startedEvent.executionId,
          started: startedEvent,
          historyLength: (commit.replaceHistory ? 0 : inst.historyLength) + commit.newHistory.length,
        });
      },
    };
  }

  private newExecutor(started: ExecutionStartedEvent): OrchestrationExecutor {
    const log = (level: "info" | "warn" | "error", message: string): void => this.logger[level](`[${started.name} ${started.instanceId}] ${message}`);
    const fn = this.registry.getOrchestration(started.name);
    if (!fn) {
      // The function is missing from this app: the instance fails with the registry's own message.
      const err = new FunctionNotFoundError("orchestrator", started.name, this.registry.orchestrationNames());
      // eslint-disable-next-line require-yield -- it only ever throws
      const missing = function* (): Generator<never, never, unknown> {
        throw err;
      };
      return new OrchestrationExecutor(missing, { ...this.executorOptions, log });
    }
    return new OrchestrationExecutor(fn.handler, { ...this.executorOptions, log });
  }

  /** Executes, turning nondeterminism and engine errors into a failed instance with the details. */
  private run(executor: OrchestrationExecutor, started: ExecutionStartedEvent, past: HistoryEvent[], newEvents: HistoryEvent[]): ExecutionResult {
    try {
      return executor.execute(past, newEvents);
    } catch (err) {
      executor.failedToReplay = true;
      const failureDetails = failureFromError(err);
      this.logger.error(`Orchestration '${started.name}' (${started.instanceId}) failed: ${failureDetails.message}`);
      return {
        actions: [],
        // Everything this step consumed stays in history, so a rewind after a code fix finds it.
        recordedEvents: newEvents,
        completion: { status: "Failed", result: JSON.stringify(`Orchestrator function '${started.name}' failed: ${failureDetails.message}`), failureDetails },
        customStatus: undefined,
        suspended: false,
      };
    }
  }

  private async rewind(item: OrchestrationWorkItem, rewound: HistoryEvent, consumed: number[], now: number): Promise<StepOutcome> {
    const history = await this.provider.getHistory(item.instanceId);
    const plan = planRewind(history);
    const started = findStarted(history);
    if (!plan || !started || rewindBlocker(history)) return this.noop(item, consumed);
    const executor = this.newExecutor(started);
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(now).toISOString() }, rewound];
    const result = this.run(executor, started, plan.history, newEvents);
    const commit = buildCommit({ item, started, now, newId: newExecutionId }, result, consumed);
    commit.replaceHistory = true;
    commit.newHistory = [...plan.history, ...commit.newHistory];
    for (const t of plan.activitiesToRetry) {
      const task = { instanceId: item.instanceId, executionId: started.executionId, taskScheduledId: t.eventId, name: t.name };
      commit.activityTasks.push(t.input === undefined ? task : { ...task, input: t.input });
    }
    const ts = new Date(now).toISOString();
    for (const t of plan.timersToRearm) {
      commit.messages.push({
        instanceId: item.instanceId,
        visibleAt: Date.parse(t.fireAt),
        message: { executionId: started.executionId, event: { type: "TimerFired", eventId: -1, timestamp: t.fireAt, timerId: t.eventId, fireAt: t.fireAt } },
      });
    }
    for (const child of plan.childrenToRewind) {
      const childInstance = await this.provider.getInstance(child);
      const created = plan.history.findLast((e) => e.type === "SubOrchestrationInstanceCreated" && e.instanceId === child);
      if (childInstance?.runtimeStatus === "Completed" && created) {
        // The child finished while this instance was already failed, so its result was dropped: deliver it again.
        const event: HistoryEvent = { type: "SubOrchestrationInstanceCompleted", eventId: -1, timestamp: ts, taskScheduledId: created.eventId };
        if (childInstance.output !== undefined) event.result = childInstance.output;
        commit.messages.push({ instanceId: item.instanceId, message: { executionId: started.executionId, event } });
      } else if (childInstance?.runtimeStatus === "Failed") {
        commit.messages.push({ instanceId: child, message: { event: { ...rewound, timestamp: ts } } });
      } else if (created?.type === "SubOrchestrationInstanceCreated" && (!childInstance || childInstance.runtimeStatus === "Terminated" || childInstance.runtimeStatus === "Canceled")) {
        // A terminated or purged child cannot be rewound: the parent hears that, instead of waiting forever.
        const failureDetails = {
          errorType: "RewindError",
          message: childInstance ? `The sub-orchestration '${child}' was ${childInstance.runtimeStatus.toLowerCase()} and cannot be rewound.` : `The sub-orchestration '${child}' no longer exists.`,
        };
        commit.messages.push(childFailedMessage({ name: started.name, instanceId: item.instanceId, executionId: started.executionId, taskScheduledId: created.eventId }, `Orchestrator function '${created.name}' failed: ${failureDetails.message}`, failureDetails, ts));
      }
      // Running children report back when they finish.
    }
    this.cache.delete(item.instanceId);
    return { kind: "commit", commit, after: () => undefined };
  }

  private noop(item: OrchestrationWorkItem, consumed: number[]): StepOutcome {
    const i = item.instance;
    const instance: OrchestrationCommit["instance"] = { runtimeStatus: i.runtimeStatus, executionId: i.executionId, name: i.name, lastUpdatedAt: i.lastUpdatedAt };
    if (i.input !== undefined) instance.input = i.input;
    if (i.output !== undefined) instance.output = i.output;
    if (i.customStatus !== undefined) instance.customStatus = i.customStatus;
    if (i.failureDetails !== undefined) instance.failureDetails = i.failureDetails;
    return {
      kind: "commit",
      commit: { item, replaceHistory: false, newHistory: [], consumedMessageIds: consumed, instance, activityTasks: [], messages: [] },
      after: () => undefined,
    };
  }
}

/**
 * Delivery order within one step: the execution's start first, then events carried over from the
 * previous execution (they were raised earlier), then everything else in arrival order. Without
 * this, events raised while a continueAsNew step was committing would overtake the carried-over ones.
 */
function orderForDelivery(messages: OrchestrationMessage[], executionId: string): HistoryEvent[] {
  // Carried-over events can only be in the batch that starts the execution; in later batches the
  // events bound to it are entity answers and lock grants, which keep their arrival order.
  const starts = messages.some((m) => m.event.type === "ExecutionStarted");
  const rank = (m: OrchestrationMessage): number =>
    m.event.type === "ExecutionStarted" ? 0 : starts && m.event.type === "EventRaised" && m.executionId === executionId ? 1 : 2;
  return messages
    .map((m, i) => ({ m, i, r: rank(m) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.m.event);
}

/**
 * Releases for every lock the history requested and did not release. Used when replay itself failed
 * (nondeterminism): the executor's own bookkeeping is then not trustworthy, the history is.
 */
function lockReleasesFor(history: readonly HistoryEvent[], now: number): OutgoingMessage[] {
  const ts = new Date(now).toISOString();
  return unreleasedLocks(history).flatMap((m) =>
    m.entities.map((entity) => ({
      instanceId: entity,
      message: { event: { type: "EventRaised" as const, eventId: -1, timestamp: ts, name: ENTITY_RELEASE_EVENT, input: JSON.stringify({ id: m.id, owner: m.owner } satisfies ReleaseMessage) } },
    })),
  );
}

function findStarted(events: readonly HistoryEvent[]): ExecutionStartedEvent | undefined {
  for (const e of events) if (e.type === "ExecutionStarted") return e;
  return undefined;
}

export function newExecutionId(): string {
  return randomUUID().replace(/-/g, "");
}
