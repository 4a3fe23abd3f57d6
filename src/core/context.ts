import { EntityId } from "./entity-id.js";
import { EntityCallTask, EntityMessageTask, EntityResponseTask, LockHandle, LockState, LockTask } from "./entity-tasks.js";
import { InvalidArgumentError, LockingRulesViolationError } from "./errors.js";
import { validateInstanceId } from "./instance-id.js";
import { checkVersion } from "./version.js";
import { nameBasedUuid } from "./guid.js";
import { buildHttpRequest, type CallHttpOptions, DEFAULT_HTTP_POLLING_DELAY_MS, HttpTask } from "./http-task.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, parsePayload, serializeBounded, serializePayload, utf8Length } from "./payload.js";
import {
  functionNameOf,
  type InputArgs,
  type OperationArgs,
  type OperationName,
  type OperationOutput,
  type OperationsOf,
  type RegisteredActivity,
  type RegisteredOrchestration,
} from "./registered-types.js";
import { RetryOptions } from "./retry-options.js";
import {
  ActivityTask,
  assertTaskArray,
  ExternalEventTask,
  RetryableTask,
  SendEventTask,
  SubOrchestrationTask,
  type Task,
  TimerTask,
  WhenAllTask,
  WhenAnyTask,
} from "./tasks.js";

/** Limit of durable-functions: custom status is at most 16 KB once serialised. */
export const MAX_CUSTOM_STATUS_BYTES = 16 * 1024;

export interface ContinueAsNewOptions {
  /**
   * Carry external events that arrived but were not consumed over to the new execution (default true),
   * so an eternal orchestration never loses an operation. Pass false to drop them, as .NET does by default.
   */
  preserveUnprocessedEvents?: boolean;
}

/** The executor-side state the context reads and writes. */
export interface ContextHost {
  readonly instanceId: string;
  readonly executionId: string;
  readonly parentInstanceId: string | undefined;
  readonly isReplaying: boolean;
  readonly currentUtcDateTime: Date;
  readonly rawInput: string | undefined;
  readonly generation: number;
  /** The version stamped on the execution when it started; "" when none was. */
  readonly version: string;
  nextGuidCounter(): number;
  setCustomStatus(json: string | undefined): void;
  requestContinueAsNew(input: string | undefined, preserveUnprocessedEvents: boolean): void;
  /** Fire-and-forget actions (signals) take a sequence number at call time. */
  scheduleNow(task: Task): void;
  /** Delay between `callHttp` polls when a 202 has no valid Retry-After (host option; default 30 s). */
  readonly httpPollingDefaultDelayMs?: number | undefined;
  /** The largest payload the code may make (host option `maxPayloadBytes`; default 16 MiB). */
  readonly maxPayloadBytes?: number | undefined;
}

/** `Task.all` / `Task.any`, reachable as `context.df.Task`. */
export interface TaskFactory {
  all(tasks: Task[]): Task;
  any(tasks: Task[]): Task;
}

const TaskStatics: TaskFactory = {
  all(tasks: Task[]): Task {
    return new WhenAllTask(assertTaskArray(tasks, "Task.all"));
  },
  any(tasks: Task[]): Task {
    return new WhenAnyTask(assertTaskArray(tasks, "Task.any"));
  },
};


/** A handle of any types (the implementations' parameter; callers see the typed overloads). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any handle, whatever its types
type AnyHandle = RegisteredActivity<any, any> | RegisteredOrchestration<any, any>;

/** The arguments after a sub-orchestration's handle: its input (optional when it may be undefined), instance ID, version. */
export type SubOrchestrationArgs<TInput> = undefined extends TInput
  ? [input?: TInput, instanceId?: string, version?: string]
  : [input: TInput, instanceId?: string, version?: string];

function requireName(name: unknown, what: string): string {
  if (typeof name !== "string" || name.trim() === "") throw new InvalidArgumentError(`A${/^[aeiou]/i.test(what) ? "n" : ""} ${what} function name must be provided (a non-empty string).`);
  return name;
}

/**
 * Accepts a RetryOptions, or any object with its five wire fields (a RetryOptions made by another copy
 * of this package, or plain data), and returns a validated copy the task can rely on.
 */
function requireOperation(name: unknown): string {
  if (typeof name !== "string" || name === "") throw new InvalidArgumentError("An entity operation name must be a non-empty string.");
  return name;
}

export function requireRetryOptions(o: unknown): RetryOptions {
  if (typeof o !== "object" || o === null) {
    throw new InvalidArgumentError("retryOptions must be created with new df.RetryOptions(firstRetryIntervalInMilliseconds, maxNumberOfAttempts).");
  }
  const r = o as Partial<Record<keyof RetryOptions, unknown>>;
  const copy = new RetryOptions(r.firstRetryIntervalInMilliseconds as number, r.maxNumberOfAttempts as number);
  if (r.backoffCoefficient !== undefined) copy.backoffCoefficient = r.backoffCoefficient as number;
  if (r.maxRetryIntervalInMilliseconds !== undefined) copy.maxRetryIntervalInMilliseconds = r.maxRetryIntervalInMilliseconds as number;
  if (r.retryTimeoutInMilliseconds !== undefined) copy.retryTimeoutInMilliseconds = r.retryTimeoutInMilliseconds as number;
  copy.validate();
  return copy;
}

/** `context.df` of an orchestrator: the durable-functions v3 surface. */
export class DurableOrchestrationContext {
  readonly Task: TaskFactory = TaskStatics;
  private parsedInput: { value: unknown } | undefined;
  private customStatusValue: unknown = undefined;
  private criticalSection: { id: string; entities: Set<string>; calling: Set<string>; granted: boolean } | undefined;

  constructor(private readonly host: ContextHost) {}

  get instanceId(): string {
    return this.host.instanceId;
  }
  get parentInstanceId(): string | undefined {
    return this.host.parentInstanceId;
  }
  get isReplaying(): boolean {
    return this.host.isReplaying;
  }
  /** The orchestration's clock: the start time of the current episode, from history, never the wall clock. */
  get currentUtcDateTime(): Date {
    return new Date(this.host.currentUtcDateTime.getTime());
  }
  get customStatus(): unknown {
    return this.customStatusValue;
  }
  /**
   * The app version stamped on this instance when it started (the host's version, or the one the
   * caller passed); "" when none. Branch on it to keep old instances on the code path they began with.
   */
  get version(): string {
    return this.host.version;
  }

  getInput<T = unknown>(): T {
    if (!this.parsedInput) this.parsedInput = { value: parsePayload(this.host.rawInput) };
    return this.parsedInput.value as T;
  }

  /** A payload the code makes, serialized and held to the host's limit: an oversized one throws here, at the call. */
  private payload(value: unknown, what: string): string | undefined {
    return serializeBounded(value, this.host.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, what);
  }

  /** By name, or by the handle `df.app.activity` returned (then input and output are typed: `yield*` gives the output). */
  callActivity<TInput, TOutput>(activity: RegisteredActivity<TInput, TOutput>, ...args: InputArgs<TInput>): Task<TOutput>;
  callActivity(name: string, input?: unknown): Task;
  callActivity(nameOrHandle: string | AnyHandle, input?: unknown): Task {
    const name = requireName(functionNameOf(nameOrHandle), "activity");
    return new ActivityTask(name, this.payload(input, `The input of activity '${name}'`));
  }

  callActivityWithRetry<TInput, TOutput>(activity: RegisteredActivity<TInput, TOutput>, retryOptions: RetryOptions, ...args: InputArgs<TInput>): Task<TOutput>;
  callActivityWithRetry(name: string, retryOptions: RetryOptions, input?: unknown): Task;
  callActivityWithRetry(nameOrHandle: string | AnyHandle, retryOptions: RetryOptions, input?: unknown): Task {
    const name = requireName(functionNameOf(nameOrHandle), "activity");
    const options = requireRetryOptions(retryOptions);
    const payload = this.payload(input, `The input of activity '${name}'`);
    return new RetryableTask(options, () => new ActivityTask(name, payload));
  }

  /**
   * By name, or by the handle `df.app.orchestration` returned (then input and output are typed).
   * `version` overrides the child's version; by default it gets the host's, as in Durable Functions.
   */
  callSubOrchestrator<TInput, TOutput>(orchestration: RegisteredOrchestration<TInput, TOutput>, ...args: SubOrchestrationArgs<TInput>): Task<TOutput>;
  callSubOrchestrator(name: string, input?: unknown, instanceId?: string, version?: string): Task;
  callSubOrchestrator(nameOrHandle: string | AnyHandle, input?: unknown, instanceId?: string, version?: string): Task {
    this.noSubOrchestrationInCriticalSection();
    const name = requireName(functionNameOf(nameOrHandle), "sub-orchestration");
    return this.subOrchestrationTask(name, this.payload(input, `The input of sub-orchestration '${name}'`), instanceId, version);
  }

  private noSubOrchestrationInCriticalSection(): void {
    if (this.criticalSection) throw new LockingRulesViolationError("Sub-orchestrations cannot be called inside a critical section: release the locks first.");
  }

  callSubOrchestratorWithRetry<TInput, TOutput>(orchestration: RegisteredOrchestration<TInput, TOutput>, retryOptions: RetryOptions, ...args: SubOrchestrationArgs<TInput>): Task<TOutput>;
  callSubOrchestratorWithRetry(name: string, retryOptions: RetryOptions, input?: unknown, instanceId?: string, version?: string): Task;
  callSubOrchestratorWithRetry(nameOrHandle: string | AnyHandle, retryOptions: RetryOptions, input?: unknown, instanceId?: string, version?: string): Task {
    this.noSubOrchestrationInCriticalSection();
    const name = requireName(functionNameOf(nameOrHandle), "sub-orchestration");
    const options = requireRetryOptions(retryOptions);
    const payload = this.payload(input, `The input of sub-orchestration '${name}'`);
    return new RetryableTask(options, () => this.subOrchestrationTask(name, payload, instanceId, version));
  }

  private subOrchestrationTask(name: string, payload: string | undefined, instanceId: string | undefined, version: string | undefined): SubOrchestrationTask {
    // The child's ID follows the same rules as any instance ID (an '@' ID would be taken for an entity).
    if (instanceId !== undefined) validateInstanceId(instanceId);
    const task = new SubOrchestrationTask(name, payload, instanceId, checkVersion(version, `The version of sub-orchestration '${name}'`));
    task.checkedAtCall = true;
    return task;
  }

  /** @internal Throws inside a critical section: sub-orchestrations may not be started there. */
  checkSubOrchestration(): void {
    this.noSubOrchestrationInCriticalSection();
  }

  createTimer(fireAt: Date): TimerTask {
    if (!(fireAt instanceof Date) || Number.isNaN(fireAt.getTime())) {
      throw new TypeError(`fireAt: Expected valid Date object but got ${String(fireAt)}`);
    }
    return new TimerTask(new Date(fireAt.getTime()));
  }

  waitForExternalEvent(name: string): Task {
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError("waitForExternalEvent needs a non-empty event name.");
    return new ExternalEventTask(name);
  }

  /** Raises an event on another orchestration instance (fire-and-forget; do not yield). */
  sendEvent(instanceId: string, eventName: string, eventData?: unknown): void {
    if (typeof instanceId !== "string" || instanceId === "") throw new InvalidArgumentError("sendEvent needs a target instance ID.");
    if (instanceId.startsWith("@")) {
      throw new InvalidArgumentError(`sendEvent targets orchestration instances; '${instanceId}' is an entity. Use context.df.signalEntity or callEntity to reach an entity.`);
    }
    validateInstanceId(instanceId);
    if (typeof eventName !== "string" || eventName === "") throw new InvalidArgumentError("sendEvent needs a non-empty event name.");
    this.host.scheduleNow(new SendEventTask(instanceId, eventName, this.payload(eventData, `The data of event '${eventName}'`)));
  }

  continueAsNew(input: unknown, options: ContinueAsNewOptions = {}): void {
    this.host.requestContinueAsNew(this.payload(input, "The continueAsNew input"), options.preserveUnprocessedEvents ?? true);
  }

  setCustomStatus(value: unknown): void {
    const json = serializePayload(value, "The custom status");
    const bytes = json === undefined ? 0 : utf8Length(json);
    if (bytes > MAX_CUSTOM_STATUS_BYTES) {
      throw new InvalidArgumentError(`The custom status is ${bytes} bytes once serialised; the limit is ${MAX_CUSTOM_STATUS_BYTES}. Store large data elsewhere and keep a reference.`);
    }
    this.customStatusValue = value;
    this.host.setCustomStatus(json);
  }

  /**
   * Deterministic GUID: the same call position gives the same value on every replay. The argument
   * defaults to the instance ID (durable-functions names the parameter `instanceId`).
   */
  newGuid(instanceId: string = this.host.instanceId): string {
    // After continueAsNew the counter starts over: the generation keeps the executions' GUIDs apart.
    const generation = this.host.generation > 0 ? `_${this.host.generation}` : "";
    const name = `${instanceId}${generation}_${this.host.currentUtcDateTime.toISOString()}_${this.host.nextGuidCounter()}`;
    return nameBasedUuid(name);
  }

  /**
   * A durable HTTP request, run on a worker by the built-in activity `BuiltIn::HttpActivity`; yields
   * `{ statusCode, content, headers }`. With polling on (default), a 202 with a Location header is
   * followed by a durable timer (Retry-After, else the host's default) and a GET of the Location,
   * until another status comes back.
   */
  callHttp(options: CallHttpOptions): HttpTask {
    const { request, enablePolling } = buildHttpRequest(options);
    return new HttpTask(request, enablePolling, this.host.httpPollingDefaultDelayMs ?? DEFAULT_HTTP_POLLING_DELAY_MS);
  }

  // ---- durable entities ----

  private get requester(): { parentInstanceId: string; parentExecutionId: string } {
    return { parentInstanceId: this.host.instanceId, parentExecutionId: this.host.executionId };
  }

  /**
   * Calls an entity operation and yields its return value (EntityOperationFailedError if it throws).
   * Through a typed ID (`handle.id(key)`) the operation's name and input are checked and `yield*`
   * gives its output's type.
   */
  callEntity<I extends EntityId, K extends OperationName<OperationsOf<I>>>(entityId: I, operationName: K, ...args: OperationArgs<OperationsOf<I>, K>): Task<OperationOutput<OperationsOf<I>[K]>>;
  callEntity(entityId: EntityId, operationName: string, operationInput?: unknown): Task {
    const id = EntityId.from(entityId);
    const operation = requireOperation(operationName);
    const key = id.toString();
    const section = this.criticalSection;
    if (section && !section.entities.has(key)) {
      throw new LockingRulesViolationError(`Inside a critical section an orchestration may only call the entities it locked; ${key} is not one of them.`);
    }
    const input = this.payload(operationInput, `The input of entity operation '${operation}'`);
    const requestId = this.newGuid();
    const send = new EntityMessageTask({
      type: "EntityOperationCalled",
      requestId,
      targetInstanceId: key,
      operation,
      ...(input !== undefined ? { input } : {}),
      ...this.requester,
    });
    // A call is outstanding from when it is sent (yielded) until its answer arrives.
    const onSend = (): void => {
      if (!section || this.criticalSection !== section) return;
      if (section.calling.has(key)) {
        throw new LockingRulesViolationError(`Inside a critical section calls to one entity must not run in parallel; a call to ${key} is still outstanding.`);
      }
      section.calling.add(key);
    };
    return new EntityCallTask(send, new EntityResponseTask(requestId), id, operation, onSend, () => section?.calling.delete(key));
  }

  /** Sends a one-way operation to an entity (fire-and-forget; do not yield). Checked through a typed ID. */
  signalEntity<I extends EntityId, K extends OperationName<OperationsOf<I>>>(entityId: I, operationName: K, ...args: OperationArgs<OperationsOf<I>, K>): void;
  signalEntity(entityId: EntityId, operationName: string, operationInput?: unknown): void {
    const id = EntityId.from(entityId);
    const operation = requireOperation(operationName);
    if (this.criticalSection?.entities.has(id.toString())) {
      throw new LockingRulesViolationError(`Inside a critical section an orchestration must not signal an entity it locked (${id.toString()}); call it instead.`);
    }
    const input = this.payload(operationInput, `The input of entity operation '${operation}'`);
    this.host.scheduleNow(
      new EntityMessageTask({
        type: "EntityOperationSignaled",
        requestId: this.newGuid(),
        targetInstanceId: id.toString(),
        operation,
        ...(input !== undefined ? { input } : {}),
        ...this.requester,
      }),
    );
  }

  /**
   * Starts a critical section: locks the entities (in a global order, so two sections can never
   * deadlock) and yields a LockHandle once all are held. While it is held, only this orchestration's
   * operations reach them. It ends with `handle.release()` or when the orchestration ends, in any way.
   */
  lock(...entityIds: (EntityId | EntityId[])[]): Task {
    if (this.criticalSection) throw new LockingRulesViolationError("Critical sections cannot be nested: release the held locks before locking again.");
    const ids = entityIds.flat().map((e) => EntityId.from(e));
    if (ids.length === 0) throw new InvalidArgumentError("lock needs at least one entity ID.");
    const entities = [...new Set(ids.map((e) => e.toString()))].sort();
    const lockId = this.newGuid();
    const section = { id: lockId, entities: new Set(entities), calling: new Set<string>(), granted: false };
    this.criticalSection = section;
    const send = new EntityMessageTask({ type: "EntityLockRequested", requestId: lockId, targetInstanceId: entities[0]!, lockSet: entities, position: 0, ...this.requester });
    const handle = new LockHandle(
      entities.map((e) => EntityId.fromInstanceId(e)),
      () => this.releaseLocks(section.id),
    );
    return new LockTask(send, new EntityResponseTask(lockId), handle, () => (section.granted = true));
  }

  /** The entities of the current critical section (empty outside one). */
  get lockedEntities(): EntityId[] {
    return [...(this.criticalSection?.entities ?? [])].map((e) => EntityId.fromInstanceId(e));
  }
  /** durable-functions 3.5: whether this orchestration holds locks (a critical section), and which. */
  isLocked(): LockState {
    const owned = this.lockedEntities;
    return new LockState(owned.length > 0, owned);
  }


  /** Sends the release to every entity of the section (held or still queued) and ends it. */
  private releaseLocks(lockId: string): void {
    const section = this.criticalSection;
    if (!section || section.id !== lockId) return;
    this.criticalSection = undefined;
    for (const e of section.entities) {
      this.host.scheduleNow(new EntityMessageTask({ type: "EntityUnlockSent", requestId: section.id, targetInstanceId: e, ...this.requester }));
    }
  }

  /** @internal Called by the executor when the orchestration ends in any way: locks never outlive it. */
  releaseAllLocks(): void {
    if (this.criticalSection) this.releaseLocks(this.criticalSection.id);
  }
}

export interface OrchestrationLogger {
  (level: "debug" | "info" | "warn" | "error", message: string): void;
}

/**
 * Where each context's logger is kept: off the class, so the class has only public members and any
 * object with them — `DummyOrchestrationContext` in a unit test — passes where a handler wants one.
 */
const loggers = new WeakMap<object, OrchestrationLogger>();

function write(context: OrchestrationContext, level: "debug" | "info" | "warn" | "error", args: unknown[]): void {
  if (!context.df.isReplaying) loggers.get(context)?.(level, args.map(String).join(" "));
}

/** The first argument of an orchestrator: an invocation context with `df`. */
export class OrchestrationContext {
  readonly df: DurableOrchestrationContext;
  readonly functionName: string;
  readonly invocationId: string;
  constructor(functionName: string, df: DurableOrchestrationContext, logger: OrchestrationLogger) {
    this.functionName = functionName;
    this.df = df;
    this.invocationId = df.instanceId;
    loggers.set(this, logger);
  }
  /**
   * Replay-safe logging: each line is written once, when the orchestrator runs the code after it
   * for the first time, and not again when a replay passes it.
   */
  log(...args: unknown[]): void {
    write(this, "info", args);
  }
  info(...args: unknown[]): void {
    write(this, "info", args);
  }
  warn(...args: unknown[]): void {
    write(this, "warn", args);
  }
  error(...args: unknown[]): void {
    write(this, "error", args);
  }
  debug(...args: unknown[]): void {
    write(this, "debug", args);
  }
  /** As `debug` (the host's logs have no level below it). */
  trace(...args: unknown[]): void {
    write(this, "debug", args);
  }

}

/**
 * An orchestrator: a synchronous generator that yields tasks. What `yield` returns is typed `any`, as in
 * durable-functions, so `const x: number = yield context.df.callActivity(...)` reads naturally.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the value sent back into the generator is whatever the task produced
export type OrchestratorFunction = (context: OrchestrationContext) => Generator<Task, unknown, any>;
