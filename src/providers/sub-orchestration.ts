import { InstanceAlreadyExistsError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import type { ExecutionStartedEvent } from "../core/history.js";
import type { OutgoingMessage } from "./provider.js";

/**
 * When a parent starts a child whose instance ID is taken by a running instance, the start is refused
 * and the parent hears about it as a failed sub-orchestration (instead of the message vanishing).
 */
export function subOrchestrationRejection(started: ExecutionStartedEvent, existingStatus: string, now: number): OutgoingMessage | undefined {
  const parent = started.parentInstance;
  if (!parent) return undefined;
  const failureDetails = failureFromError(new InstanceAlreadyExistsError(started.instanceId, existingStatus));
  delete failureDetails.stack;
  return {
    instanceId: parent.instanceId,
    message: {
      executionId: parent.executionId,
      event: {
        type: "SubOrchestrationInstanceFailed",
        eventId: -1,
        timestamp: new Date(now).toISOString(),
        taskScheduledId: parent.taskScheduledId,
        reason: failureDetails.message,
        failureDetails,
      },
    },
  };
}
