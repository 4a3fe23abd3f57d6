import type { OrchestratorAction } from "./actions.js";
import { InvalidArgumentError, OrchestratorConstraintError, TaskFailedError } from "./errors.js";
import type { FailureDetails } from "./failure.js";
import type { EntityResponseEvent } from "./history.js";
import type { RetryOptions } from "./retry-options.js";
import { parsePayload } from "./payload.js";

const MAX_RETRY_DELAY_MS = 100 * 365 * 24 * 3600_000;

/** What tasks need from the executor that runs them. Implemented by OrchestrationExecutor. */
export interface TaskScheduler {
  /** Assigns the next sequence number to the task and records its action. */
  scheduleAtomic(task: AtomicTask): void;
  /** Delivers a buffered event at once or queues the task as a waiter for its name. */
  waitForEvent(task: ExternalEventTask): void;
  /** Delivers the entity's answer to a request once it arrives (matched by request ID, not sequence number). */
  waitForEntityResponse(task: { readonly requestId: string; deliver(response: EntityResponseEvent): void }): void;
  /** The orchestration's deterministic clock. */
  now(): Date;
  /** The ID of a sub-orchestration started without one (`<parent id>:<sequence number>`). */
  childInstanceId(sequence: number): string;
  /** Throws when the orchestration may not start a sub-orchestration now (inside a critical section). */
  checkSubOrchestration(): void;
}

type TaskState = "pending" | "completed" | "failed";

/**
 * A unit of work an orchestrator can yield. Mirrors durable-functions: `isCompleted` is true only for a
 * successful completion, `isFaulted` for a failure, and `result` holds the value or the error.
 */
export abstract class Task<TResult = unknown> {
  private state: TaskState = "pending";
  private value: unknown = undefined;
  private readonly parents: CompoundTask[] = [];
  private started = false;

  get isCompleted(): boolean {
    return this.state === "completed";
  }
  get isFaulted(): boolean {
    return this.state === "failed";
  }
  /** True once the task succeeded or failed. */
  get isDone(): boolean {
    return this.state !== "pending";
  }
  get result(): unknown {
    return this.value;
  }

  /**
   * `const value = yield* task` does what `yield task` does, with the result typed: what a plain
   * `yield` returns is `any`, as in durable-functions (a generator has one type for all it is sent),
   * while delegating to this one-step generator returns the task's own result type.
   */
  *[Symbol.iterator](): Generator<Task, TResult, unknown> {
    return (yield this) as TResult;
  }

  /** @internal Called by the executor when the task (or a compound holding it) is yielded. */
  start(scheduler: TaskScheduler): void {
    if (this.started) return;
    this.started = true;
    this.onStart(scheduler);
  }
  /** @internal */
  get isStarted(): boolean {
    return this.started;
  }
  protected abstract onStart(scheduler: TaskScheduler): void;

  /** @internal */
  addParent(parent: CompoundTask): void {
    this.parents.push(parent);
  }

  /** @internal */
  resolve(value: unknown): void {
    if (this.state !== "pending") return;
    this.state = "completed";
    this.value = value;
    for (const p of this.parents) p.onChildDone(this);
  }

  /** @internal */
  reject(error: Error): void {
    if (this.state !== "pending") return;
    this.state = "failed";
    this.value = error;
    for (const p of this.parents) p.onChildDone(this);
  }
}

/** A task that maps to one action with a sequence number (activity, timer, sub-orchestration). */
export abstract class AtomicTask extends Task {
  /** Sequence number, assigned when scheduled. */
  id = -1;
  /** @internal Builds the action once the sequence number is known. */
  abstract toAction(id: number): OrchestratorAction;
  /** @internal Applies the completion event's payload. */
  abstract complete(result: string | undefined): void;
  /** @internal */
  abstract fail(failure: FailureDetails): void;
  protected onStart(scheduler: TaskScheduler): void {
    scheduler.scheduleAtomic(this);
  }
}

export class ActivityTask extends AtomicTask {
  constructor(
    readonly name: string,
    readonly input: string | undefined,
  ) {
    super();
  }
  toAction(id: number): OrchestratorAction {
    return this.input === undefined ? { kind: "ScheduleTask", id, name: this.name } : { kind: "ScheduleTask", id, name: this.name, input: this.input };
  }
  complete(result: string | undefined): void {
    this.resolve(parsePayload(result));
  }
  fail(failure: FailureDetails): void {
    this.reject(new TaskFailedError("activity", this.name, failure, this.id));
  }
}

export class SubOrchestrationTask extends AtomicTask {
  private childId: ((id: number) => string) | undefined;
  /** @internal Set when context.df made it: the critical-section rule was checked at the call, as in Durable Functions. */
  checkedAtCall = false;
  constructor(
    readonly name: string,
    readonly input: string | undefined,
    /** Fixed child id, or undefined to derive one from the sequence number. */
    readonly requestedInstanceId: string | undefined,
    /** The child's version; undefined: the host's default version, as Durable Functions does. */
    readonly version?: string,
  ) {
    super();
  }
  protected override onStart(scheduler: TaskScheduler): void {
    // Checked when scheduled, not when created: a task made by a registered function's handle
    // (`yield child(input)`) meets its orchestration only here.
    if (!this.checkedAtCall) scheduler.checkSubOrchestration();
    this.childId = (id) => scheduler.childInstanceId(id);
    scheduler.scheduleAtomic(this);
  }
  toAction(id: number): OrchestratorAction {
    const action: OrchestratorAction = { kind: "CreateSubOrchestration", id, name: this.name, instanceId: this.requestedInstanceId ?? this.childId!(id) };
    if (this.input !== undefined) action.input = this.input;
    if (this.version !== undefined) action.version = this.version;
    return action;
  }
  complete(result: string | undefined): void {
    this.resolve(parsePayload(result));
  }
  fail(failure: FailureDetails): void {
    this.reject(new TaskFailedError("orchestrator", this.name, failure, this.id));
  }
}

/** A one-way event to another orchestration (`sendEvent`); resolves as soon as it is scheduled. */
export class SendEventTask extends AtomicTask {
  constructor(
    readonly instanceId: string,
    readonly name: string,
    readonly input: string | undefined,
  ) {
    super();
  }
  toAction(id: number): OrchestratorAction {
    const a: OrchestratorAction = { kind: "SendEvent", id, instanceId: this.instanceId, name: this.name };
    if (this.input !== undefined) a.input = this.input;
    return a;
  }
  complete(): void {
    this.resolve(undefined);
  }
  fail(failure: FailureDetails): void {
    this.reject(new TaskFailedError("activity", this.name, failure, this.id));
  }
}

export class TimerTask extends AtomicTask {
  private canceled = false;
  constructor(readonly fireAt: Date) {
    super();
  }
  get isCanceled(): boolean {
    return this.canceled;
  }
  /** Stops the timer from ever resuming the orchestration. Pending timers are also dropped when the orchestration returns. */
  cancel(): void {
    if (this.isDone) throw new InvalidArgumentError("Cannot cancel a completed task.");
    this.canceled = true;
  }
  toAction(id: number): OrchestratorAction {
    return { kind: "CreateTimer", id, fireAt: this.fireAt.toISOString() };
  }
  complete(): void {
    if (!this.canceled) this.resolve(undefined);
  }
  fail(failure: FailureDetails): void {
    this.reject(new TaskFailedError("activity", "timer", failure));
  }
}

export class ExternalEventTask extends Task {
  constructor(readonly name: string) {
    super();
  }
  protected onStart(scheduler: TaskScheduler): void {
    scheduler.waitForEvent(this);
  }
  /** @internal */
  deliver(payload: string | undefined): void {
    this.resolve(parsePayload(payload));
  }
}

export abstract class CompoundTask extends Task {
  constructor(readonly children: readonly Task[]) {
    super();
    for (const c of children) c.addParent(this);
  }
  protected onStart(scheduler: TaskScheduler): void {
    for (const c of this.children) c.start(scheduler);
    // Children may already be done (yielded earlier, or an event was buffered).
    for (const c of this.children) if (c.isDone) this.onChildDone(c);
  }
  /** @internal */
  abstract onChildDone(child: Task): void;
}

/** Resolves to the array of child results in order; fails with the first child error. */
export class WhenAllTask extends CompoundTask {
  // Counted, not rescanned: a fan-out of n children must cost O(n), not O(n²).
  private readonly succeeded = new Set<Task>();
  private readonly distinct = new Set(this.children).size;

  onChildDone(child: Task): void {
    if (this.isDone || !this.isStarted) return;
    if (child.isFaulted) {
      this.reject(child.result as Error);
      return;
    }
    this.succeeded.add(child);
    if (this.succeeded.size === this.distinct) this.resolve(this.children.map((c) => c.result));
  }
}

/** Resolves to the first child task that finishes (success or failure); never throws. */
export class WhenAnyTask extends CompoundTask {
  onChildDone(child: Task): void {
    if (this.isDone || !this.isStarted) return;
    this.resolve(child);
  }
}

/**
 * An activity or sub-orchestration with a retry policy. Each attempt and each delay is its own
 * scheduled task, so retries are recorded in history and the delays are durable timers.
 */
export class RetryableTask extends CompoundTask {
  private attempt = 0;
  private firstAttemptAt = 0;
  private current: AtomicTask | undefined;
  private scheduler: TaskScheduler | undefined;
  private lastError: Error | undefined;

  constructor(
    private readonly options: RetryOptions,
    private readonly makeAttempt: () => AtomicTask,
  ) {
    super([]);
  }

  protected override onStart(scheduler: TaskScheduler): void {
    this.scheduler = scheduler;
    this.firstAttemptAt = scheduler.now().getTime();
    this.startAttempt();
  }

  private startAttempt(): void {
    this.attempt++;
    const t = this.makeAttempt();
    this.current = t;
    t.addParent(this);
    t.start(this.scheduler!);
  }

  onChildDone(child: Task): void {
    if (this.isDone || child !== this.current) return;
    if (child instanceof TimerTask) {
      this.startAttempt();
      return;
    }
    if (child.isCompleted) {
      this.resolve(child.result);
      return;
    }
    this.lastError = child.result as Error;
    const delay = this.nextDelay(child);
    if (delay === undefined) {
      this.reject(this.lastError);
      return;
    }
    const timer = new TimerTask(new Date(this.scheduler!.now().getTime() + delay));
    this.current = timer;
    timer.addParent(this);
    timer.start(this.scheduler!);
  }

  /** Delay before the next attempt in ms, or undefined when the policy says stop (DTFx RetryInterceptor semantics). */
  private nextDelay(failed: Task): number | undefined {
    const o = this.options;
    const err = failed.result;
    if (err instanceof TaskFailedError && err.failureDetails.isNonRetriable) return undefined;
    if (this.attempt >= o.maxNumberOfAttempts) return undefined;
    const now = this.scheduler!.now().getTime();
    if (o.retryTimeoutInMilliseconds !== undefined && now >= this.firstAttemptAt + o.retryTimeoutInMilliseconds) return undefined;
    let delay = o.firstRetryIntervalInMilliseconds * Math.pow(o.backoffCoefficient, this.attempt - 1);
    if (o.maxRetryIntervalInMilliseconds !== undefined) delay = Math.min(delay, o.maxRetryIntervalInMilliseconds);
    // Keep the timer's fire time a valid date whatever the options say (about a century at most).
    return Math.min(Math.max(0, Math.round(delay)), MAX_RETRY_DELAY_MS);
  }
}

export function assertTaskArray(tasks: unknown, what: string): Task[] {
  if (!Array.isArray(tasks)) throw new OrchestratorConstraintError(`${what} expects an array of tasks.`);
  if (tasks.length === 0) {
    throw new OrchestratorConstraintError("When constructing a CompoundTask (such as Task.all() or Task.any()), you must specify at least one Task.");
  }
  tasks.forEach((t, i) => {
    if (!(t instanceof Task)) {
      throw new OrchestratorConstraintError(`${what} received a non-valid input at position ${i}: expected a Task created by context.df, got ${describeValue(t)}.`);
    }
  });
  return tasks as Task[];
}

export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "object" && typeof (v as { then?: unknown }).then === "function") return "a Promise";
  if (typeof v === "object" && Symbol.asyncIterator in v && typeof (v as { next?: unknown }).next === "function") return "an async generator";
  if (typeof v === "object") return `an object of type ${(v).constructor?.name ?? "Object"}`;
  return `a value of type ${typeof v}`;
}
