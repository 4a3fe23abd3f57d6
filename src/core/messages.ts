import { isoTime as iso } from "./iso-time.js";
import { InstanceAlreadyExistsError } from "./errors.js";
import { type FailureDetails, failureFromError } from "./failure.js";
import {
  type EntityRequestEvent,
  type EntityResponseEvent,
  type ExecutionStartedEvent,
  HISTORY_FORMAT_VERSION,
  type HistoryEvent,
  type ParentInstanceInfo,
  type SubOrchestrationInstanceCompletedEvent,
} from "./history.js";

/** Free-form key/values carried with a message or an activity task (trace context travels here). */
export type MessageMetadata = Record<string, string>;

/** A message in an instance's inbox. */
export interface OrchestrationMessage {
  event: HistoryEvent;
  /**
   * Completions are bound to the execution that scheduled them; a message for another execution
   * (older, before continueAsNew or a restart) is dropped by the worker.
   */
  executionId?: string;
  metadata?: MessageMetadata;
}

/**
 * What a message is, which decides how it is delivered (see outbox.ts):
 * - `event`: to an existing orchestration (raised events, terminate/suspend/resume/rewind, sendEvent);
 * - `self`: to the instance that sends it (timers, the next execution of continueAsNew, carried-over events);
 * - `startChild`: the ExecutionStarted of a sub-orchestration: creates the child, replaces a finished one,
 *   or is refused (the parent is told) when one with that ID is still running;
 * - `toParent`: an answer bound to the execution that asked (child completions, entity answers, lock grants);
 * - `entity`: a request to an entity, which exists from its first message on.
 */
export type MessageKind = "event" | "self" | "startChild" | "toParent" | "entity";

/** A message a step or a client sends to an instance (itself included). */
export interface OutgoingMessage {
  kind: MessageKind;
  instanceId: string;
  message: OrchestrationMessage;
  /** Invisible until then (timers, scheduled signals). */
  visibleAt?: number;
  /** Ends a retry delay of the target (a parked instance's backoff), so an operator's terminate or rewind acts at once. */
  wake?: boolean;
}

export interface ExecutionStartSpec {
  name: string;
  instanceId: string;
  executionId: string;
  input?: string | undefined;
  parentInstance?: ParentInstanceInfo | undefined;
  generation?: number;
  version?: string | undefined;
  timestamp: string;
}

/** The one place an ExecutionStarted is built: client starts, restarts, children, continueAsNew. */
export function executionStarted(spec: ExecutionStartSpec): ExecutionStartedEvent {
  const e: ExecutionStartedEvent = {
    type: "ExecutionStarted",
    eventId: -1,
    timestamp: spec.timestamp,
    name: spec.name,
    instanceId: spec.instanceId,
    executionId: spec.executionId,
    generation: spec.generation ?? 0,
    historyFormatVersion: HISTORY_FORMAT_VERSION,
  };
  if (spec.input !== undefined) e.input = spec.input;
  if (spec.parentInstance) e.parentInstance = spec.parentInstance;
  if (spec.version !== undefined && spec.version !== "") e.version = spec.version;
  return e;
}

/** A sub-orchestration's start, sent by its parent's step. */
export function startChildMessage(started: ExecutionStartedEvent): OutgoingMessage {
  return { kind: "startChild", instanceId: started.instanceId, message: { executionId: started.executionId, event: started } };
}

/** A message to the sending instance itself, bound to one execution. */
export function selfMessage(instanceId: string, executionId: string, event: HistoryEvent, visibleAt?: number): OutgoingMessage {
  const m: OutgoingMessage = { kind: "self", instanceId, message: { executionId, event } };
  if (visibleAt !== undefined) m.visibleAt = visibleAt;
  return m;
}

/** The TimerFired a timer delivers to its own execution at `fireAt`. */
export function timerMessage(instanceId: string, executionId: string, timerId: number, fireAt: string): OutgoingMessage {
  return selfMessage(instanceId, executionId, { type: "TimerFired", eventId: -1, timestamp: fireAt, timerId, fireAt }, Date.parse(fireAt));
}

/** An event raised on an orchestration (sendEvent from another orchestration, raiseEvent from a client). */
export function eventMessage(instanceId: string, name: string, input: string | undefined, timestamp: string): OutgoingMessage {
  const event: HistoryEvent = { type: "EventRaised", eventId: -1, timestamp, name };
  if (input !== undefined) event.input = input;
  return { kind: "event", instanceId, message: { event } };
}

/**
 * An operator's message to an orchestration: terminate, suspend, resume or rewind. Terminate and
 * rewind wake a parked instance, so they act at once instead of after its retry delay.
 */
export function controlMessage(instanceId: string, event: Extract<HistoryEvent, { type: "ExecutionTerminated" | "ExecutionSuspended" | "ExecutionResumed" | "ExecutionRewound" }>): OutgoingMessage {
  const m: OutgoingMessage = { kind: "event", instanceId, message: { event } };
  if (event.type === "ExecutionTerminated" || event.type === "ExecutionRewound") m.wake = true;
  return m;
}

/** An entity request, to the entity's inbox (a scheduled signal becomes visible at its time). */
export function entityRequestMessage(request: EntityRequestEvent, visibleAt?: number): OutgoingMessage {
  const m: OutgoingMessage = { kind: "entity", instanceId: request.targetInstanceId, message: { event: { ...request, eventId: -1 } } };
  if (visibleAt !== undefined) m.visibleAt = visibleAt;
  return m;
}

/** An answer to the execution that asked: an entity's result, failure or lock grant. */
export function entityAnswerMessage(parentInstanceId: string, parentExecutionId: string, answer: EntityResponseEvent): OutgoingMessage {
  return { kind: "toParent", instanceId: parentInstanceId, message: { executionId: parentExecutionId, event: answer } };
}

/** The SubOrchestrationInstanceCompleted a parent's execution receives about one of its children. */
export function childCompletedMessage(parent: ParentInstanceInfo, result: string | undefined, timestamp: string): OutgoingMessage {
  const event: SubOrchestrationInstanceCompletedEvent = { type: "SubOrchestrationInstanceCompleted", eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId };
  if (result !== undefined) event.result = result;
  return { kind: "toParent", instanceId: parent.instanceId, message: { executionId: parent.executionId, event } };
}

/** The SubOrchestrationInstanceFailed a parent's execution receives about one of its children. */
export function childFailedMessage(parent: ParentInstanceInfo, reason: string, failureDetails: FailureDetails, timestamp: string): OutgoingMessage {
  return {
    kind: "toParent",
    instanceId: parent.instanceId,
    message: {
      executionId: parent.executionId,
      event: { type: "SubOrchestrationInstanceFailed", eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId, reason, failureDetails },
    },
  };
}

/**
 * When a parent starts a child whose instance ID is taken by a running instance, the start is refused
 * and the parent hears about it as a failed sub-orchestration (instead of the message vanishing).
 */
export function childRejectedMessage(started: ExecutionStartedEvent, existingStatus: string, now: number): OutgoingMessage | undefined {
  const parent = started.parentInstance;
  if (!parent) return undefined;
  const failureDetails = failureFromError(new InstanceAlreadyExistsError(started.instanceId, existingStatus));
  delete failureDetails.stackTrace;
  return childFailedMessage(parent, failureDetails.errorMessage, failureDetails, iso(now));
}
