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
  | EventSentEvent;

export type HistoryEventType = HistoryEvent["type"];

/** Events that record an action of the orchestrator and are checked against the code on replay. */
export type SchedulingEvent = TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent | EventSentEvent;

export function isSchedulingEvent(e: HistoryEvent): e is SchedulingEvent {
  return e.type === "TaskScheduled" || e.type === "TimerCreated" || e.type === "SubOrchestrationInstanceCreated" || e.type === "EventSent";
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

export const HISTORY_FORMAT_VERSION = 1;
