import { actionName, actionOfEvent, describeAction, type OrchestratorAction } from "./actions.js";
import { type ContextHost, DurableOrchestrationContext, OrchestrationContext, type OrchestrationLogger, type OrchestratorFunction } from "./context.js";
import { HistoryUnreadableError, NonDeterminismError, OrchestratorConstraintError } from "./errors.js";
import { failureFromError, type FailureDetails } from "./failure.js";
import {
  type CompletedStatus,
  completionTarget,
  type EntityResponseEvent,
  type EventRaisedEvent,
  type ExecutionStartedEvent,
  type HistoryEvent,
  isSchedulingEvent,
  type SchedulingEvent,
} from "./history.js";
import { HistoryV1Reader } from "./history-v1.js";
import { checkPayloadSize, DEFAULT_MAX_PAYLOAD_BYTES, serializeBounded } from "./payload.js";
import { type AtomicTask, describeValue, type ExternalEventTask, Task, type TaskScheduler } from "./tasks.js";

export interface OrchestrationCompletion {
  status: CompletedStatus;
  /** JSON output (Completed), the terminate reason (Terminated), the new input (ContinuedAsNew). */
  result?: string;
  failureDetails?: FailureDetails;
  /** ContinuedAsNew only: unconsumed external events to hand to the next execution. */
  carryoverEvents?: EventRaisedEvent[];
}

export interface ExecutionResult {
  /** Actions not yet recorded in history, in sequence order. */
  actions: OrchestratorAction[];
  /** The new events worth recording: duplicates of already-resolved completions are left out. */
  recordedEvents: HistoryEvent[];
  completion: OrchestrationCompletion | undefined;
  /** JSON custom status (undefined = never set). */
  customStatus: string | undefined;
  suspended: boolean;
  /**
   * Set when the history could not be replayed: the code no longer matches it (NonDeterminismError)
   * or it could not be read. Nothing else in the result is then meaningful, and the executor must be
   * thrown away; what to do with the instance is the caller's policy.
   */
  replayFailure?: Error;
}

export interface ExecutorOptions {
  log?: OrchestrationLogger;
  /** Delay between `callHttp` polls when a 202 carries no valid Retry-After. Default 30,000 ms. */
  httpPollingDefaultDelayMs?: number;
  /** The largest payload the code may produce (inputs, event data, the output), in bytes of JSON. Default 16 MiB. */
  maxPayloadBytes?: number;
}

const noLog: OrchestrationLogger = () => undefined;

/**
 * The pure replay engine for one orchestration execution. Feed it history (`execute(past, new)`); it
 * drives the user's generator, checks every recorded scheduling event against what the code schedules
 * and returns the new actions. The object keeps the suspended generator, so a worker can cache it and
 * later call `execute([], moreEvents)` without replaying from the start.
 */
export class OrchestrationExecutor implements TaskScheduler, ContextHost {
  // ContextHost state
  instanceId = "";
  executionId = "";
  parentInstanceId: string | undefined = undefined;
  isReplaying = false;
  currentUtcDateTime: Date = new Date(0);
  rawInput: string | undefined = undefined;
  generation = 0;
  version = "";
  readonly httpPollingDefaultDelayMs: number | undefined;
  readonly maxPayloadBytes: number;

  /** Set once a replay failed: the in-memory state no longer follows the history. */
  private broken: Error | undefined;
  /** Reads executions started under history format 1 as format 2. */
  private v1: HistoryV1Reader | undefined;
  private name = "";
  private context: DurableOrchestrationContext | undefined;
  private started = false;
  private generator: Generator<Task, unknown, unknown> | undefined;
  private waitingOn: Task | undefined;
  private startError: unknown = undefined;
  private sequence = 0;
  private guidCounter = 0;
  private readonly openTasks = new Map<number, AtomicTask>();
  private readonly resolvedIds = new Set<number>();
  /** Actions produced by the code and not yet matched with (or written as) history. */
  private pending = new Map<number, OrchestratorAction>();
  private readonly eventWaiters = new Map<string, ExternalEventTask[]>();
  private readonly entityWaiters = new Map<string, { deliver(response: EntityResponseEvent): void }>();
  /** Entity answers that arrived before their wait was registered, and the request IDs already answered. */
  private readonly entityAnswers = new Map<string, EntityResponseEvent>();
  private readonly answeredRequests = new Set<string>();
  private readonly bufferedEvents = new Map<string, EventRaisedEvent[]>();
  /** Arrival order of buffered events, so continueAsNew carries them over in the order they came. */
  private readonly bufferedOrder = new WeakMap<EventRaisedEvent, number>();
  private bufferedCount = 0;
  private suspended = false;
  private readonly heldWhileSuspended: HistoryEvent[] = [];
  private completion: OrchestrationCompletion | undefined;
  private continueAsNewRequest: { input: string | undefined; preserve: boolean } | undefined;
  private customStatus: string | undefined;
  private readonly log: OrchestrationLogger;

  constructor(
    private readonly orchestrator: OrchestratorFunction,
    options: ExecutorOptions = {},
  ) {
    this.log = options.log ?? noLog;
    this.httpPollingDefaultDelayMs = options.httpPollingDefaultDelayMs;
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  get isComplete(): boolean {
    return this.completion !== undefined;
  }

  /** True once a replay failed; such an executor must not be used again. */
  get isBroken(): boolean {
    return this.broken !== undefined;
  }

  /**
   * Processes `pastEvents` as replay (they are already in history) and then `newEvents`. Returns the
   * actions to record. When code and history disagree (or the history cannot be read), the result's
   * `replayFailure` says why and the executor is broken from then on.
   */
  execute(pastEvents: readonly HistoryEvent[], newEvents: readonly HistoryEvent[]): ExecutionResult {
    if (this.broken) return this.failedResult(this.broken);
    const recordedEvents: HistoryEvent[] = [];
    try {
      this.isReplaying = true;
      for (const e of pastEvents) this.processPast(this.read(e));
      this.isReplaying = false;
      for (const raw of newEvents) {
        const e = this.read(raw);
        if (this.process(e)) recordedEvents.push(e);
      }
    } catch (err) {
      this.broken = err instanceof Error ? err : new Error(String(err));
      return this.failedResult(this.broken);
    }
    const actions = [...this.pending.values()].sort((a, b) => a.id - b.id);
    this.pending = new Map();
    return { actions, recordedEvents, completion: this.completion, customStatus: this.customStatus, suspended: this.suspended && !this.completion };
  }

  private failedResult(err: Error): ExecutionResult {
    this.pending = new Map();
    return { actions: [], recordedEvents: [], completion: undefined, customStatus: this.customStatus, suspended: false, replayFailure: err };
  }

  private read(e: HistoryEvent): HistoryEvent {
    if (e.type === "ExecutionStarted" && !this.started && !(e.historyFormatVersion >= 2)) this.v1 = new HistoryV1Reader();
    return this.v1 ? this.v1.read(e) : e;
  }

  private processPast(e: HistoryEvent): void {
    if (isSchedulingEvent(e)) {
      this.matchScheduled(e);
      return;
    }
    if (e.type === "OrchestratorCompleted") {
      // Every action the code produced during a recorded episode must have been recorded in it.
      const extra = [...this.pending.values()].sort((a, b) => a.id - b.id)[0];
      if (extra && !this.completion) {
        throw new NonDeterminismError(
          `The current replay execution scheduled ${describeAction(extra)} with sequence ID ${extra.id}, but a previous execution of this orchestration did not schedule anything with this sequence number at this point. Was a change made to the orchestrator code after this instance had already started running?`,
        );
      }
      return;
    }
    if (e.type === "ExecutionCompleted") {
      // Terminal records are written by the runtime from the executor's own result; nothing to resume.
      return;
    }
    this.process(e);
  }

  private matchScheduled(e: SchedulingEvent): void {
    const action = this.pending.get(e.eventId);
    const recordedAction = actionOfEvent(e);
    const recorded = describeAction(recordedAction);
    if (!action) {
      throw new NonDeterminismError(
        `A previous execution of this orchestration scheduled ${recorded} with sequence ID ${e.eventId}, but the current replay execution hasn't (yet?) scheduled this task. Was a change made to the orchestrator code after this instance had already started running?`,
      );
    }
    if (action.kind !== recordedAction.kind) {
      throw new NonDeterminismError(
        `A previous execution of this orchestration scheduled ${recorded} with sequence ID ${e.eventId}, but the current orchestration replay instead produced a ${action.kind} action (${describeAction(action)}) with this sequence number. Was a change made to the orchestrator code after this instance had already started running?`,
      );
    }
    if (actionName(action) !== actionName(recordedAction)) {
      throw new NonDeterminismError(
        `A previous execution of this orchestration scheduled ${recorded} with sequence ID ${e.eventId}, but the current orchestration replay instead scheduled ${describeAction(action)} with this sequence number. Was a change made to the orchestrator code after this instance had already started running?`,
      );
    }
    this.pending.delete(e.eventId);
  }

  /** Applies one event. Returns false when the event is a duplicate and should not be recorded. */
  private process(e: HistoryEvent): boolean {
    if (this.completion) {
      // Events that arrive in the same batch after a continueAsNew decision belong to the next execution.
      if (e.type === "EventRaised" && this.completion.carryoverEvents) this.completion.carryoverEvents.push(e);
      // A failed execution may be rewound: what arrived after the failure stays in its history so
      // the rewound run finds it; a completed or terminated one has no use for it.
      if (this.completion.status === "Failed" && e.type !== "ExecutionStarted") return !isDuplicateCompletion(e, this.resolvedIds, this.openTasks);
      return e.type === "OrchestratorStarted" || e.type === "OrchestratorCompleted";
    }
    if (this.suspended && e.type !== "ExecutionResumed" && e.type !== "ExecutionTerminated" && e.type !== "OrchestratorStarted" && e.type !== "OrchestratorCompleted" && e.type !== "ExecutionSuspended") {
      if (isDuplicateCompletion(e, this.resolvedIds, this.openTasks)) return false;
      // A second completion for the same task while suspended is a duplicate too, not a second event to hold.
      const target = completionTarget(e);
      if (target !== undefined && this.heldWhileSuspended.some((h) => completionTarget(h) === target)) return false;
      this.heldWhileSuspended.push(e);
      return true;
    }
    switch (e.type) {
      case "OrchestratorStarted":
        this.currentUtcDateTime = new Date(e.timestamp);
        return true;
      case "OrchestratorCompleted":
        return true;
      case "ExecutionStarted":
        if (this.started) return false;
        this.start(e);
        return true;
      case "TaskCompleted":
      case "SubOrchestrationInstanceCompleted":
      case "TimerFired": {
        const id = e.type === "TimerFired" ? e.timerId : e.taskScheduledId;
        const task = this.takeOpen(id);
        if (!task) return false;
        task.complete(e.type === "TimerFired" ? undefined : e.result);
        this.resume();
        return true;
      }
      case "TaskFailed":
      case "SubOrchestrationInstanceFailed": {
        const task = this.takeOpen(e.taskScheduledId);
        if (!task) return false;
        task.fail(e.failureDetails);
        this.resume();
        return true;
      }
      case "EventRaised":
        this.deliverEvent(e);
        this.resume();
        return true;
      case "ExecutionSuspended":
        this.suspended = true;
        return true;
      case "ExecutionResumed": {
        this.suspended = false;
        const held = this.heldWhileSuspended.splice(0);
        for (const h of held) this.process(h);
        return true;
      }
      case "ExecutionTerminated":
        this.finish(e.input === undefined ? { status: "Terminated" } : { status: "Terminated", result: e.input });
        return true;
      case "ExecutionRewound":
      case "ExecutionCompleted":
        return true;
      case "EntityOperationCompleted":
      case "EntityOperationFailed":
      case "EntityLockGranted":
        return this.deliverEntityAnswer(e);
      case "EntityCleanup":
        return false;
      case "TaskScheduled":
      case "TimerCreated":
      case "SubOrchestrationInstanceCreated":
      case "EventSent":
      case "EntityOperationCalled":
      case "EntityOperationSignaled":
      case "EntityLockRequested":
      case "EntityUnlockSent":
        // Scheduling events only ever come from the past; a new one is a runtime bug, not user input.
        throw new Error(`Internal error: scheduling event ${e.type} delivered as a new event.`);
      default:
        // Never skip what cannot be understood: replaying past it could take another path.
        throw new HistoryUnreadableError(`The history holds an event of unknown type ${JSON.stringify((e as { type?: unknown }).type)}; it may have been written by a newer version of Perdure.`);
    }
  }

  /** Answers are matched by request ID; a second answer to the same request is a duplicate and not recorded. */
  private deliverEntityAnswer(e: EntityResponseEvent): boolean {
    if (this.answeredRequests.has(e.requestId) || this.entityAnswers.has(e.requestId)) return false;
    const waiter = this.entityWaiters.get(e.requestId);
    if (!waiter) {
      this.entityAnswers.set(e.requestId, e);
      return true;
    }
    this.entityWaiters.delete(e.requestId);
    this.answeredRequests.add(e.requestId);
    waiter.deliver(e);
    this.resume();
    return true;
  }

  private takeOpen(id: number): AtomicTask | undefined {
    const t = this.openTasks.get(id);
    if (!t) return undefined;
    this.openTasks.delete(id);
    this.resolvedIds.add(id);
    return t;
  }

  private start(e: ExecutionStartedEvent): void {
    this.started = true;
    this.name = e.name;
    this.instanceId = e.instanceId;
    this.executionId = e.executionId;
    this.parentInstanceId = e.parentInstance?.instanceId;
    this.rawInput = e.input;
    this.generation = e.generation;
    this.version = e.version ?? "";
    this.context = new DurableOrchestrationContext(this);
    const ctx = new OrchestrationContext(e.name, this.context, this.log);
    try {
      const gen = this.orchestrator(ctx) as unknown;
      if (!isSyncGenerator(gen)) {
        // An async orchestrator returns a promise that may reject later: observe it so the rejection
        // does not surface as an unhandledRejection that takes the whole worker process down.
        if (typeof (gen as { then?: unknown } | null)?.then === "function") (gen as PromiseLike<unknown>).then(undefined, () => undefined);
        this.fail(
          new OrchestratorConstraintError(
            `Orchestrator '${e.name}' must be a synchronous generator function (function* (context) { ... }); it returned ${describeValue(gen)}. Async functions and async generators cannot be replayed.`,
          ),
        );
        return;
      }
      this.generator = gen;
    } catch (err) {
      this.fail(err);
      return;
    }
    this.resume();
  }

  /** Runs the generator as far as it can go without waiting. */
  private resume(): void {
    const gen = this.generator;
    if (!gen || this.completion || this.suspended) return;
    for (;;) {
      let step: IteratorResult<Task, unknown>;
      const waiting = this.waitingOn;
      try {
        if (this.startError !== undefined) {
          // A task refused to start (a rule broken at yield time): the code gets the error where it yielded.
          const err = this.startError;
          this.startError = undefined;
          step = gen.throw(err);
        } else if (waiting === undefined) step = gen.next();
        else if (!waiting.isDone) return;
        else if (waiting.isFaulted) step = gen.throw(waiting.result);
        else step = gen.next(waiting.result);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (this.continueAsNewRequest) {
        const { input, preserve } = this.continueAsNewRequest;
        const completion: OrchestrationCompletion = { status: "ContinuedAsNew" };
        if (input !== undefined) completion.result = input;
        if (preserve) {
          const order = (ev: EventRaisedEvent): number => this.bufferedOrder.get(ev) ?? 0;
          completion.carryoverEvents = [...this.bufferedEvents.values()].flat().sort((a, b) => order(a) - order(b));
        }
        this.finish(completion);
        return;
      }
      if (step.done) {
        let output: string | undefined;
        try {
          output = serializeBounded(step.value, this.maxPayloadBytes, `The output of orchestrator '${this.name}'`);
        } catch (err) {
          this.fail(err);
          return;
        }
        this.finish(output === undefined ? { status: "Completed" } : { status: "Completed", result: output });
        return;
      }
      const yielded = step.value as unknown;
      if (!(yielded instanceof Task)) {
        const hint = yielded === undefined ? " If you meant to call a fire-and-forget API (signalEntity, continueAsNew, sendEvent), call it without yield." : "";
        this.fail(
          new OrchestratorConstraintError(
            `Orchestration '${this.name}' yielded ${describeValue(yielded)}. Only tasks created by context.df (callActivity, createTimer, Task.all, ...) may be yielded.${hint}`,
          ),
        );
        return;
      }
      this.waitingOn = yielded;
      try {
        yielded.start(this);
      } catch (err) {
        this.startError = err;
      }
    }
  }

  /** Ends the execution; entity locks never outlive the orchestration that holds them. */
  private finish(completion: OrchestrationCompletion): void {
    this.completion = completion;
    this.context?.releaseAllLocks();
  }

  private fail(err: unknown): void {
    const failureDetails = failureFromError(err);
    const reason = `Orchestrator function '${this.name}' failed: ${failureDetails.errorMessage}`;
    this.finish({ status: "Failed", result: JSON.stringify(reason), failureDetails });
  }

  private deliverEvent(e: EventRaisedEvent): void {
    const key = e.name.toLowerCase();
    const waiters = this.eventWaiters.get(key);
    const waiter = waiters?.pop();
    if (waiter) {
      waiter.deliver(e.input);
      return;
    }
    const queue = this.bufferedEvents.get(key) ?? [];
    this.bufferedOrder.set(e, this.bufferedCount++);
    queue.push(e);
    this.bufferedEvents.set(key, queue);
  }

  // ---- TaskScheduler ----
  now(): Date {
    return this.currentUtcDateTime;
  }
  childInstanceId(sequence: number): string {
    // Durable Functions' form `<parent id>:<n>`; later executions of a continued-as-new instance
    // add the generation, so they never collide with the children of earlier executions.
    return this.generation === 0 ? `${this.instanceId}:${sequence}` : `${this.instanceId}:${this.generation}:${sequence}`;
  }
  checkSubOrchestration(): void {
    this.context?.checkSubOrchestration();
  }
  scheduleAtomic(task: AtomicTask): void {
    const id = this.sequence;
    task.id = id;
    const action = task.toAction(id);
    // Refused before anything is recorded: the code gets the error where it yielded (or called).
    this.checkActionPayload(action);
    this.sequence++;
    this.openTasks.set(id, task);
    this.pending.set(id, action);
  }

  private checkActionPayload(a: OrchestratorAction): void {
    switch (a.kind) {
      case "ScheduleTask":
        return checkPayloadSize(a.input, this.maxPayloadBytes, `The input of activity '${a.name}'`);
      case "CreateSubOrchestration":
        return checkPayloadSize(a.input, this.maxPayloadBytes, `The input of sub-orchestration '${a.name}'`);
      case "SendEvent":
        return checkPayloadSize(a.input, this.maxPayloadBytes, `The data of event '${a.name}'`);
      case "SendEntityMessage":
        if (a.request.type === "EntityOperationCalled" || a.request.type === "EntityOperationSignaled") {
          checkPayloadSize(a.request.input, this.maxPayloadBytes, `The input of entity operation '${a.request.operation}'`);
        }
        return;
      case "CreateTimer":
        return;
    }
  }

  waitForEvent(task: ExternalEventTask): void {
    const key = task.name.toLowerCase();
    const queue = this.bufferedEvents.get(key);
    const buffered = queue?.shift();
    if (queue && queue.length === 0) this.bufferedEvents.delete(key);
    if (buffered) {
      task.deliver(buffered.input);
      return;
    }
    const waiters = this.eventWaiters.get(key) ?? [];
    waiters.push(task);
    this.eventWaiters.set(key, waiters);
  }

  waitForEntityResponse(task: { readonly requestId: string; deliver(response: EntityResponseEvent): void }): void {
    const early = this.entityAnswers.get(task.requestId);
    if (early) {
      this.entityAnswers.delete(task.requestId);
      this.answeredRequests.add(task.requestId);
      task.deliver(early);
      return;
    }
    this.entityWaiters.set(task.requestId, task);
  }

  // ---- ContextHost ----
  nextGuidCounter(): number {
    return this.guidCounter++;
  }
  setCustomStatus(json: string | undefined): void {
    this.customStatus = json;
  }
  requestContinueAsNew(input: string | undefined, preserveUnprocessedEvents: boolean): void {
    checkPayloadSize(input, this.maxPayloadBytes, "The continueAsNew input");
    this.continueAsNewRequest = { input, preserve: preserveUnprocessedEvents };
  }
  scheduleNow(task: Task): void {
    task.start(this);
  }
}

function isSyncGenerator(v: unknown): v is Generator<Task, unknown, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const g = v as { next?: unknown; throw?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof g.next === "function" && typeof g.throw === "function" && g[Symbol.asyncIterator] === undefined;
}

function isDuplicateCompletion(e: HistoryEvent, resolved: Set<number>, open: Map<number, AtomicTask>): boolean {
  let id: number | undefined;
  if (e.type === "TaskCompleted" || e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceCompleted" || e.type === "SubOrchestrationInstanceFailed") id = e.taskScheduledId;
  else if (e.type === "TimerFired") id = e.timerId;
  return id !== undefined && (resolved.has(id) || !open.has(id));
}
