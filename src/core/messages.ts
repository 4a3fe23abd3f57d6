import { InstanceAlreadyExistsError } from "./errors.js";
import { type FailureDetails, failureFromError } from "./failure.js";
import type { ExecutionStartedEvent, HistoryEvent, ParentInstanceInfo } from "./history.js";

/** A message in an instance's inbox. */
export interface OrchestrationMessage {
  event: HistoryEvent;
  /**
   * Completions are bound to the execution that scheduled them; a message for another execution
   * (older, before continueAsNew or a restart) is dropped by the worker.
   */
  executionId?: string;
}

/** A message a step or a client sends to an instance (itself included). */
export interface OutgoingMessage {
  instanceId: string;
  message: OrchestrationMessage;
  /** Timers: invisible until then. */
  visibleAt?: number;
}

/**
 * When a parent starts a child whose instance ID is taken by a running instance, the start is refused
 * and the parent hears about it as a failed sub-orchestration (instead of the message vanishing).
 */
export function subOrchestrationRejection(started: ExecutionStartedEvent, existingStatus: string, now: number): OutgoingMessage | undefined {
  const parent = started.parentInstance;
  if (!parent) return undefined;
  const failureDetails = failureFromError(new InstanceAlreadyExistsError(started.instanceId, existingStatus));
  delete failureDetails.stack;
  return childFailedMessage(parent, failureDetails.message, failureDetails, new Date(now).toISOString());
}

/** The SubOrchestrationInstanceFailed a parent's execution receives about one of its children. */
export function childFailedMessage(parent: ParentInstanceInfo, reason: string, failureDetails: FailureDetails, timestamp: string): OutgoingMessage {
  return {
    instanceId: parent.instanceId,
    message: {
      executionId: parent.executionId,
      event: { type: "SubOrchestrationInstanceFailed", eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId, reason, failureDetails },
    },
  };
}
