/**
 * History event factories for the core executor tests. Payload arguments are plain values that the
 * factories JSON-encode (`undefined` means "no payload"), so histories stay short to write.
 * Timestamps default to T0 (2024-01-01T00:00:00Z); `at(ms)` gives T0 + ms as ISO text.
 */
import type { FailureDetails } from "../../src/core/failure.js";
import type {
  CompletedStatus,
  EventRaisedEvent,
  EventSentEvent,
  ExecutionCompletedEvent,
  ExecutionResumedEvent,
  ExecutionRewoundEvent,
  ExecutionStartedEvent,
  ExecutionSuspendedEvent,
  ExecutionTerminatedEvent,
  HistoryEvent,
  OrchestratorCompletedEvent,
  OrchestratorStartedEvent,
  ParentInstanceInfo,
  SubOrchestrationInstanceCompletedEvent,
  SubOrchestrationInstanceCreatedEvent,
  SubOrchestrationInstanceFailedEvent,
  TaskCompletedEvent,
  TaskFailedEvent,
  TaskScheduledEvent,
  TimerCreatedEvent,
  TimerFiredEvent,
} from "../../src/core/history.js";
import { HISTORY_FORMAT_VERSION } from "../../src/core/history.js";

export const T0 = Date.parse("2024-01-01T00:00:00.000Z");
export const INSTANCE_ID = "inst-1";
export const EXECUTION_ID = "exec-1";

/** ISO timestamp `ms` milliseconds after T0. */
export function at(ms = 0): string {
  return new Date(T0 + ms).toISOString();
}

function json(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function withInput<T extends object>(o: T, value: unknown): T & { input?: string } {
  const text = json(value);
  return text === undefined ? o : { ...o, input: text };
}

function withResult<T extends object>(o: T, value: unknown): T & { result?: string } {
  const text = json(value);
  return text === undefined ? o : { ...o, result: text };
}

export function newOrchestratorStarted(timestamp: string = at()): OrchestratorStartedEvent {
  return { type: "OrchestratorStarted", eventId: -1, timestamp };
}

export function newOrchestratorCompleted(timestamp: string = at()): OrchestratorCompletedEvent {
  return { type: "OrchestratorCompleted", eventId: -1, timestamp };
}

export interface ExecutionStartedOptions {
  instanceId?: string;
  executionId?: string;
  parentInstance?: ParentInstanceInfo;
  generation?: number;
  timestamp?: string;
}

export function newExecutionStarted(name: string, input?: unknown, options: ExecutionStartedOptions = {}): ExecutionStartedEvent {
  const e: ExecutionStartedEvent = withInput(
    {
      type: "ExecutionStarted",
      eventId: -1,
      timestamp: options.timestamp ?? at(),
      name,
      instanceId: options.instanceId ?? INSTANCE_ID,
      executionId: options.executionId ?? EXECUTION_ID,
      generation: options.generation ?? 0,
      historyFormatVersion: HISTORY_FORMAT_VERSION,
    } satisfies ExecutionStartedEvent,
    input,
  );
  if (options.parentInstance) e.parentInstance = options.parentInstance;
  return e;
}

export function newExecutionCompleted(status: CompletedStatus, result?: unknown, failureDetails?: FailureDetails): ExecutionCompletedEvent {
  const e: ExecutionCompletedEvent = withResult({ type: "ExecutionCompleted", eventId: -1, timestamp: at(), orchestrationStatus: status } satisfies ExecutionCompletedEvent, result);
  if (failureDetails) e.failureDetails = failureDetails;
  return e;
}

export function newExecutionTerminated(reason?: unknown): ExecutionTerminatedEvent {
  return withInput({ type: "ExecutionTerminated", eventId: -1, timestamp: at() } satisfies ExecutionTerminatedEvent, reason);
}

export function newExecutionSuspended(reason?: string): ExecutionSuspendedEvent {
  const e: ExecutionSuspendedEvent = { type: "ExecutionSuspended", eventId: -1, timestamp: at() };
  if (reason !== undefined) e.reason = reason;
  return e;
}

export function newExecutionResumed(reason?: string): ExecutionResumedEvent {
  const e: ExecutionResumedEvent = { type: "ExecutionResumed", eventId: -1, timestamp: at() };
  if (reason !== undefined) e.reason = reason;
  return e;
}

export function newExecutionRewound(reason?: string): ExecutionRewoundEvent {
  const e: ExecutionRewoundEvent = { type: "ExecutionRewound", eventId: -1, timestamp: at() };
  if (reason !== undefined) e.reason = reason;
  return e;
}

export function newTaskScheduled(id: number, name: string, input?: unknown): TaskScheduledEvent {
  return withInput({ type: "TaskScheduled", eventId: id, timestamp: at(), name } satisfies TaskScheduledEvent, input);
}

export function newTaskCompleted(taskScheduledId: number, result?: unknown): TaskCompletedEvent {
  return withResult({ type: "TaskCompleted", eventId: -1, timestamp: at(), taskScheduledId } satisfies TaskCompletedEvent, result);
}

/** A failure as an activity worker records it: type, message and stack of the original error. */
export function failure(message: string, errorType = "Error"): FailureDetails {
  return { errorType, errorMessage: message, stackTrace: `${errorType}: ${message}\n    at activity (activity.ts:1:1)`, isNonRetriable: false };
}

export function newTaskFailed(taskScheduledId: number, activityName: string, details: FailureDetails | string): TaskFailedEvent {
  const failureDetails = typeof details === "string" ? failure(details) : details;
  return {
    type: "TaskFailed",
    eventId: -1,
    timestamp: at(),
    taskScheduledId,
    reason: `Activity function '${activityName}' failed: ${failureDetails.errorMessage}`,
    failureDetails,
  };
}

export function newTimerCreated(id: number, fireAt: Date | string): TimerCreatedEvent {
  return { type: "TimerCreated", eventId: id, timestamp: at(), fireAt: typeof fireAt === "string" ? fireAt : fireAt.toISOString() };
}

export function newTimerFired(timerId: number, fireAt: Date | string = at()): TimerFiredEvent {
  const iso = typeof fireAt === "string" ? fireAt : fireAt.toISOString();
  return { type: "TimerFired", eventId: -1, timestamp: iso, timerId, fireAt: iso };
}

export function newEventRaised(name: string, input?: unknown): EventRaisedEvent {
  return withInput({ type: "EventRaised", eventId: -1, timestamp: at(), name } satisfies EventRaisedEvent, input);
}

export function newEventSent(id: number, instanceId: string, name: string, input?: unknown): EventSentEvent {
  return withInput({ type: "EventSent", eventId: id, timestamp: at(), instanceId, name } satisfies EventSentEvent, input);
}

export function newSubOrchestrationCreated(id: number, name: string, instanceId: string, input?: unknown): SubOrchestrationInstanceCreatedEvent {
  return withInput({ type: "SubOrchestrationInstanceCreated", eventId: id, timestamp: at(), name, instanceId } satisfies SubOrchestrationInstanceCreatedEvent, input);
}

export function newSubOrchestrationCompleted(taskScheduledId: number, result?: unknown): SubOrchestrationInstanceCompletedEvent {
  return withResult({ type: "SubOrchestrationInstanceCompleted", eventId: -1, timestamp: at(), taskScheduledId } satisfies SubOrchestrationInstanceCompletedEvent, result);
}

export function newSubOrchestrationFailed(taskScheduledId: number, childName: string, details: FailureDetails | string): SubOrchestrationInstanceFailedEvent {
  const failureDetails = typeof details === "string" ? failure(details) : details;
  return {
    type: "SubOrchestrationInstanceFailed",
    eventId: -1,
    timestamp: at(),
    taskScheduledId,
    reason: `Orchestrator function '${childName}' failed: ${failureDetails.errorMessage}`,
    failureDetails,
  };
}

/** One recorded episode: OrchestratorStarted(at ms), the events, OrchestratorCompleted. */
export function episode(ms: number, ...events: HistoryEvent[]): HistoryEvent[] {
  return [newOrchestratorStarted(at(ms)), ...events, newOrchestratorCompleted(at(ms))];
}

/** The first episode's history prefix: OrchestratorStarted + ExecutionStarted (no OrchestratorCompleted). */
export function startEvents(name: string, input?: unknown, options: ExecutionStartedOptions = {}): HistoryEvent[] {
  return [newOrchestratorStarted(options.timestamp ?? at()), newExecutionStarted(name, input, options)];
}

/** New events for one step: OrchestratorStarted(at ms) then the events (the worker adds no OrchestratorCompleted to new events). */
export function batch(ms: number, ...events: HistoryEvent[]): HistoryEvent[] {
  return [newOrchestratorStarted(at(ms)), ...events];
}
