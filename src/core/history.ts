import type { FailureDetails } from "./failure.js";

/**
 * History events, named as in the Durable Task Framework. `eventId` is the sequence number of the
 * action that produced a scheduling event (TaskScheduled, TimerCreated, ...), -1 otherwise.
 * Payloads (`input`, `result`) are JSON text the core never parses; `undefined` means "no payload".
 */
interface EventBase {
  eventId: number;
  /** ISO 8601 timestamp. */
  timestamp: string;
}

export interface ParentInstanceInfo {
  name: string;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
}

export interface OrchestratorStartedEvent extends EventBase { type: "OrchestratorStarted" }
export interface OrchestratorCompletedEvent extends EventBase { type: "OrchestratorCompleted" }
export interface ExecutionStartedEvent extends EventBase {
  type: "ExecutionStarted";
  name: string;
  instanceId: string;
  executionId: string;
  input?: string;
  parentInstance?: ParentInstanceInfo;
  /** How many times this instance has continued-as-new before this execution. */
  generation: number;
  /** Bumped when replay semantics change, so old histories keep replaying the old way. */
  historyFormatVersion: number;
  /** The app's version when the instance started (`context.df.version`); absent: none set. */
  version?: string;
  /**
   * W3C trace context of the span that started this execution (a client call, or the parent's
   * step): every step of the execution is traced as its child, whichever host runs it.
   */
  traceContext?: TraceContext;
}

/** A W3C trace context as stored with events and messages. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}
export type CompletedStatus = "Completed" | "Failed" | "ContinuedAsNew" | "Terminated";
export interface ExecutionCompletedEvent extends EventBase {
  type: "ExecutionCompleted";
  orchestrationStatus: CompletedStatus;
  result?: string;
  failureDetails?: FailureDetails;
}
export interface ExecutionTerminatedEvent extends EventBase { type: "ExecutionTerminated"; input?: string }
export interface ExecutionSuspendedEvent extends EventBase { type: "ExecutionSuspended"; reason?: string }
export interface ExecutionResumedEvent extends EventBase { type: "ExecutionResumed"; reason?: string }
export interface ExecutionRewoundEvent extends EventBase { type: "ExecutionRewound"; reason?: string }
export interface TaskScheduledEvent extends EventBase { type: "TaskScheduled"; name: string; input?: string }
export interface TaskCompletedEvent extends EventBase { type: "TaskCompleted"; taskScheduledId: number; result?: string }
export interface TaskFailedEvent extends EventBase {
  type: "TaskFailed";
  taskScheduledId: number;
  reason: string;
  failureDetails: FailureDetails;
}
export interface SubOrchestrationInstanceCreatedEvent extends EventBase {
  type: "SubOrchestrationInstanceCreated";
  name: string;
  instanceId: string;
  input?: string;
  /** The version the child was started with. */
  version?: string;
}
export interface SubOrchestrationInstanceCompletedEvent extends EventBase {
  type: "SubOrchestrationInstanceCompleted";
  taskScheduledId: number;
  result?: string;
}
export interface SubOrchestrationInstanceFailedEvent extends EventBase {
  type: "SubOrchestrationInstanceFailed";
  taskScheduledId: number;
  reason: string;
  failureDetails: FailureDetails;
}
export interface TimerCreatedEvent extends EventBase { type: "TimerCreated"; fireAt: string }
export interface TimerFiredEvent extends EventBase { type: "TimerFired"; timerId: number; fireAt: string }
export interface EventRaisedEvent extends EventBase { type: "EventRaised"; name: string; input?: string }
export interface EventSentEvent extends EventBase { type: "EventSent"; instanceId: string; name: string; input?: string }

/** The orchestration (and execution) that sent an entity request: calls are answered there, locks belong to it. */
export interface EntityRequester {
  parentInstanceId: string;
  parentExecutionId: string;
}

/**
 * Entity requests (history format 2). The same event is recorded in the sending orchestration's
 * history (a scheduling event: `eventId` is its sequence number, checked on replay) and delivered to
 * the entity's inbox. `requestId` is a deterministic GUID; answers carry it back.
 */
export interface EntityOperationCalledEvent extends EventBase, EntityRequester {
  type: "EntityOperationCalled";
  requestId: string;
  /** The entity's instance ID, `@name@key`. */
  targetInstanceId: string;
  operation: string;
  input?: string;
}
export interface EntityOperationSignaledEvent extends EventBase, Partial<EntityRequester> {
  type: "EntityOperationSignaled";
  requestId: string;
  targetInstanceId: string;
  operation: string;
  input?: string;
  /** ISO time a scheduled signal is delivered. */
  scheduledTime?: string;
}
export interface EntityLockRequestedEvent extends EventBase, EntityRequester {
  type: "EntityLockRequested";
  /** The critical section's ID; the grant comes back with it. */
  requestId: string;
  targetInstanceId: string;
  /** Every entity of the section, sorted: the global order that makes critical sections deadlock-free. */
  lockSet: string[];
  /** Index in `lockSet` of the entity this copy of the request is addressed to. */
  position: number;
}
export interface EntityUnlockSentEvent extends EventBase, EntityRequester {
  type: "EntityUnlockSent";
  requestId: string;
  targetInstanceId: string;
}
/** Answers an entity sends to an orchestration. */
export interface EntityOperationCompletedEvent extends EventBase { type: "EntityOperationCompleted"; requestId: string; result?: string }
export interface EntityOperationFailedEvent extends EventBase { type: "EntityOperationFailed"; requestId: string; failureDetails: FailureDetails }
export interface EntityLockGrantedEvent extends EventBase { type: "EntityLockGranted"; requestId: string }
/** Makes an idle entity run a batch, so an empty one removes itself in its own transaction. Never in a history. */
export interface EntityCleanupEvent extends EventBase { type: "EntityCleanup" }

export type HistoryEvent =
  | OrchestratorStartedEvent
  | OrchestratorCompletedEvent
  | ExecutionStartedEvent
  | ExecutionCompletedEvent
  | ExecutionTerminatedEvent
  | ExecutionSuspendedEvent
  | ExecutionResumedEvent
  | ExecutionRewoundEvent
  | TaskScheduledEvent
  | TaskCompletedEvent
  | TaskFailedEvent
  | SubOrchestrationInstanceCreatedEvent
  | SubOrchestrationInstanceCompletedEvent
  | SubOrchestrationInstanceFailedEvent
  | TimerCreatedEvent
  | TimerFiredEvent
  | EventRaisedEvent
  | EventSentEvent
  | EntityOperationCalledEvent
  | EntityOperationSignaledEvent
  | EntityLockRequestedEvent
  | EntityUnlockSentEvent
  | EntityOperationCompletedEvent
  | EntityOperationFailedEvent
  | EntityLockGrantedEvent
  | EntityCleanupEvent;

export type HistoryEventType = HistoryEvent["type"];

/** Entity requests an orchestration sends; they are scheduling events in its history. */
export type EntityRequestEvent = EntityOperationCalledEvent | EntityOperationSignaledEvent | EntityLockRequestedEvent | EntityUnlockSentEvent;

/** Answers of an entity to an orchestration, matched to the request by `requestId`. */
export type EntityResponseEvent = EntityOperationCompletedEvent | EntityOperationFailedEvent | EntityLockGrantedEvent;

/** Events that record an action of the orchestrator and are checked against the code on replay. */
export type SchedulingEvent = TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent | EventSentEvent | EntityRequestEvent;

export function isSchedulingEvent(e: HistoryEvent): e is SchedulingEvent {
  switch (e.type) {
    case "TaskScheduled":
    case "TimerCreated":
    case "SubOrchestrationInstanceCreated":
    case "EventSent":
    case "EntityOperationCalled":
    case "EntityOperationSignaled":
    case "EntityLockRequested":
    case "EntityUnlockSent":
      return true;
    default:
      return false;
  }
}

export function isEntityRequest(e: HistoryEvent): e is EntityRequestEvent {
  return e.type === "EntityOperationCalled" || e.type === "EntityOperationSignaled" || e.type === "EntityLockRequested" || e.type === "EntityUnlockSent";
}

export function isEntityResponse(e: HistoryEvent): e is EntityResponseEvent {
  return e.type === "EntityOperationCompleted" || e.type === "EntityOperationFailed" || e.type === "EntityLockGranted";
}

/** Events that resolve a task scheduled earlier; they carry the sequence number they answer. */
export type CompletionEvent =
  | TaskCompletedEvent
  | TaskFailedEvent
  | SubOrchestrationInstanceCompletedEvent
  | SubOrchestrationInstanceFailedEvent
  | TimerFiredEvent;

export function completionTarget(e: HistoryEvent): number | undefined {
  switch (e.type) {
    case "TaskCompleted":
    case "TaskFailed":
    case "SubOrchestrationInstanceCompleted":
    case "SubOrchestrationInstanceFailed":
      return e.taskScheduledId;
    case "TimerFired":
      return e.timerId;
    default:
      return undefined;
  }
}

/**
 * 1: entity requests were EventSent events named op/lock/release with JSON in `input`, answers were
 * EventRaised events named after the request ID, failure details had `message`/`stack`.
 * 2: entity requests and answers are typed events; failure details use the durable-functions names.
 * The executor reads both (see history-v1.ts).
 */
export const HISTORY_FORMAT_VERSION = 2;
