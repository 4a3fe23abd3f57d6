import { type FailureDetails, type TaskFailureDetails, taskFailureDetails } from "./failure-details.js";

/**
 * Base of every error Perdure raises on purpose. `code` is stable across releases so callers and the
 * HTTP layer can branch on it without parsing messages; docs/errors.md lists every code.
 */
/** Marks Perdure's errors across copies of the package (a CLI from one install, an app importing another). */
const DURABLE_ERROR = Symbol.for("perdure.DurableError");

export class DurableError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, DURABLE_ERROR, { value: true });
  }
}

/** A DurableError, also one made by another copy of Perdure in the same process (where instanceof says no). */
export function isDurableError(err: unknown): err is DurableError {
  return err instanceof DurableError || (typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[DURABLE_ERROR] === true);
}

/** The orchestrator code no longer matches the history it is replayed against. */
export class NonDeterminismError extends DurableError {
  constructor(message: string) {
    super("NONDETERMINISM", `Non-Deterministic workflow detected: ${message}`);
  }
}

/** A stored history or message could not be read (corrupt, or written by a newer version). */
export class HistoryUnreadableError extends DurableError {
  constructor(message: string) {
    super("HISTORY_UNREADABLE", message);
  }
}

/** User code broke a rule of orchestrator functions (yielded a non-task, async orchestrator, ...). */
export class OrchestratorConstraintError extends DurableError {
  constructor(message: string) {
    super("ORCHESTRATOR_CONSTRAINT_VIOLATION", `Durable Functions programming constraint violation: ${message}`);
  }
}

/**
 * Thrown into an orchestrator when an activity or sub-orchestration failed. Carries the structured
 * failure (type, message, stack, inner failure) exactly as it was recorded in history.
 */
export class TaskFailedError extends DurableError {
  readonly taskName: string;
  readonly taskKind: "activity" | "orchestrator";
  readonly failureDetails: TaskFailureDetails;
  /** The failed task's sequence number in the orchestration (durable-functions 3.5's `taskId`). */
  readonly taskId?: number;
  constructor(taskKind: "activity" | "orchestrator", taskName: string, failureDetails: FailureDetails, taskId?: number) {
    const label = taskKind === "activity" ? "Activity" : "Orchestrator";
    super("TASK_FAILED", `${label} function '${taskName}' failed: ${failureDetails.errorMessage}`);
    this.taskKind = taskKind;
    this.taskName = taskName;
    this.failureDetails = taskFailureDetails(failureDetails);
    if (taskId !== undefined) this.taskId = taskId;
    // Keep the original stack visible: the orchestrator's own stack says little about the activity.
    if (failureDetails.stackTrace) this.stack = `${this.name}: ${this.message}\n--- original error ---\n${failureDetails.stackTrace}`;
  }
}

export class InvalidArgumentError extends DurableError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

export class InstanceNotFoundError extends DurableError {
  readonly instanceId: string;
  constructor(instanceId: string) {
    super("INSTANCE_NOT_FOUND", `No instance with ID '${instanceId}' found.`);
    this.instanceId = instanceId;
  }
}

export class InstanceAlreadyExistsError extends DurableError {
  readonly instanceId: string;
  constructor(instanceId: string, status: string) {
    super(
      "INSTANCE_ALREADY_EXISTS",
      `An orchestration instance with ID '${instanceId}' and status ${status} already exists. ` +
        "Wait for it to finish, terminate it, or start with another instance ID.",
    );
    this.instanceId = instanceId;
  }
}

export class InvalidInstanceStateError extends DurableError {
  constructor(message: string) {
    super("INVALID_INSTANCE_STATE", message);
  }
}

export class FunctionNotFoundError extends DurableError {
  constructor(kind: string, name: string, known: string[]) {
    super(
      "FUNCTION_NOT_FOUND",
      `The function '${name}' doesn't exist, is disabled, or is not an ${kind} function. ` +
        `Additional info: The following are the known ${kind} functions: ${known.map((k) => `'${k}'`).join(", ") || "(none)"}.`,
    );
  }
}

export class DuplicateFunctionError extends DurableError {
  constructor(name: string) {
    super(
      "DUPLICATE_FUNCTION",
      `A function named '${name}' is already registered. Function names are case-insensitive and must be unique; rename one of them.`,
    );
  }
}

/** The lease on a work item expired or was taken over; the commit was refused and nothing was written. */
export class LockLostError extends DurableError {
  constructor(what: string) {
    super("LOCK_LOST", `The lease on ${what} was lost (expired or taken over by another worker); the result was not committed.`);
  }
}

export class WaitTimeoutError extends DurableError {
  constructor(instanceId: string, timeoutMs: number) {
    super("WAIT_TIMEOUT", `Instance '${instanceId}' did not reach a final state within ${timeoutMs} ms.`);
  }
}

export class PayloadError extends DurableError {
  constructor(message: string) {
    super("PAYLOAD_NOT_SERIALIZABLE", message);
  }
}

/** An execution whose history would pass the host's limit (`maxHistoryEvents`): the instance fails with it. */
export class HistoryTooLongError extends DurableError {
  constructor(orchestration: string, events: number, limit: number) {
    super(
      "HISTORY_TOO_LONG",
      `The history of orchestration '${orchestration}' would reach ${events.toLocaleString("en-US")} events, over the limit of ${limit.toLocaleString("en-US")} (maxHistoryEvents). An orchestration that runs for ever must call context.df.continueAsNew(...) now and then (every few thousand events) to start over with an empty history; or raise maxHistoryEvents.`,
    );
    this.name = "HistoryTooLongError";
  }
}

/** A payload over the host's limit (`maxPayloadBytes`), refused where it was produced. */
export class PayloadTooLargeError extends DurableError {
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      "PAYLOAD_TOO_LARGE",
      `${what} is ${formatBytes(bytes)}, over the payload limit of ${formatBytes(limit)} (maxPayloadBytes). Keep large data elsewhere (a file, a blob) and pass a reference to it, or raise the host's maxPayloadBytes.`,
    );
    this.name = "PayloadTooLargeError";
  }
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB (${n.toLocaleString("en-US")} bytes)`;
  return `${n.toLocaleString("en-US")} bytes`;
}

/** Thrown into an orchestrator when an entity operation it called failed; the entity's state change was rolled back. */
export class EntityOperationFailedError extends DurableError {
  readonly entityId: string;
  readonly operationName: string;
  readonly failureDetails: FailureDetails;
  constructor(entityId: string, operationName: string, failureDetails: FailureDetails) {
    super("ENTITY_OPERATION_FAILED", `Operation '${operationName}' of entity ${entityId} failed: ${failureDetails.errorMessage}`);
    this.entityId = entityId;
    this.operationName = operationName;
    this.failureDetails = failureDetails;
  }
}

/** A critical-section rule was broken (nesting, calling an entity not locked, signalling a locked one, ...). */
export class LockingRulesViolationError extends DurableError {
  constructor(message: string) {
    super("LOCKING_RULES_VIOLATION", message);
  }
}

/**
 * The store cannot be reached or written (a lost database, a read-only or full disk). The request can
 * be retried once the store is back; the reason says when its outcome is unknown (the connection was
 * lost while committing).
 */
export class StoreUnavailableError extends DurableError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super("STORE_UNAVAILABLE", `The store is unavailable: ${reason}. Retry once it is back.`, options);
  }
}
