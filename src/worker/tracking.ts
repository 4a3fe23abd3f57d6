import type { HistoryEvent } from "../core/history.js";
import type { ActivityWorkItem, OrchestrationCommit } from "../providers/provider.js";
import { commitInstanceId } from "../providers/provider.js";
import type { LogFields, Logger } from "../runtime/logger.js";

/**
 * The runtime's tracking events (Durable Functions' "tracking data"), written at debug level as
 * structured records. They are emitted for what a committed step recorded, never while replaying:
 * a replay re-derives events that were reported when they first happened, so `isReplaying` is
 * always false here. Nothing is built when the logger does not take debug records.
 */
export function trackStep(logger: Logger, commit: OrchestrationCommit): void {
  if (!logger.debug) return;
  const u = commit.instance;
  const base: LogFields = { instanceId: commitInstanceId(commit), executionId: u.executionId, functionName: u.name, functionType: "orchestration", isReplaying: false };
  for (const e of commit.newHistory) {
    const t = describe(e);
    if (t) logger.debug(t.message, { ...base, event: e.type, ...t.fields });
  }
}

export function trackActivity(logger: Logger, item: ActivityWorkItem, phase: "start" | "end", end?: { ok: boolean; durationMs: number; error?: string }): void {
  if (!logger.debug) return;
  const fields: LogFields = {
    instanceId: item.instanceId,
    executionId: item.executionId,
    functionName: item.name,
    functionType: "activity",
    taskScheduledId: item.taskScheduledId,
    attempt: item.dequeueCount,
    isReplaying: false,
  };
  if (phase === "start") logger.debug(`Activity '${item.name}' starting`, { ...fields, event: "ActivityStarting" });
  else if (end?.ok) logger.debug(`Activity '${item.name}' completed`, { ...fields, event: "ActivityCompleted", durationMs: end.durationMs });
  else logger.debug(`Activity '${item.name}' failed: ${end?.error ?? ""}`, { ...fields, event: "ActivityFailed", durationMs: end?.durationMs, reason: end?.error });
}

function describe(e: HistoryEvent): { message: string; fields?: LogFields } | undefined {
  switch (e.type) {
    case "ExecutionStarted":
      return { message: `Orchestration '${e.name}' started` };
    case "ExecutionCompleted":
      return { message: `Orchestration ${e.orchestrationStatus.toLowerCase()}`, fields: { state: e.orchestrationStatus, reason: e.failureDetails?.errorMessage } };
    case "ExecutionTerminated":
      return { message: "Orchestration terminated", fields: { reason: e.input } };
    case "ExecutionSuspended":
      return { message: "Orchestration suspended", fields: { reason: e.reason } };
    case "ExecutionResumed":
      return { message: "Orchestration resumed", fields: { reason: e.reason } };
    case "ExecutionRewound":
      return { message: "Orchestration rewound", fields: { reason: e.reason } };
    case "TaskScheduled":
      return { message: `Activity '${e.name}' scheduled`, fields: { target: e.name, taskId: e.eventId } };
    case "TaskCompleted":
      return { message: `Activity result received (task ${e.taskScheduledId})`, fields: { taskId: e.taskScheduledId } };
    case "TaskFailed":
      return { message: `Activity failure received (task ${e.taskScheduledId})`, fields: { taskId: e.taskScheduledId, reason: e.failureDetails?.errorMessage } };
    case "SubOrchestrationInstanceCreated":
      return { message: `Sub-orchestration '${e.name}' scheduled as '${e.instanceId}'`, fields: { target: e.name, targetInstanceId: e.instanceId, taskId: e.eventId } };
    case "SubOrchestrationInstanceCompleted":
      return { message: `Sub-orchestration result received (task ${e.taskScheduledId})`, fields: { taskId: e.taskScheduledId } };
    case "SubOrchestrationInstanceFailed":
      return { message: `Sub-orchestration failure received (task ${e.taskScheduledId})`, fields: { taskId: e.taskScheduledId, reason: e.failureDetails?.errorMessage } };
    case "TimerCreated":
      return { message: `Timer created for ${e.fireAt}`, fields: { fireAt: e.fireAt, taskId: e.eventId } };
    case "TimerFired":
      return { message: `Timer fired (${e.fireAt})`, fields: { fireAt: e.fireAt, taskId: e.timerId } };
    case "EventRaised":
      return { message: `External event '${e.name}' received`, fields: { eventName: e.name } };
    case "EventSent":
      return { message: `Event '${e.name}' sent to '${e.instanceId}'`, fields: { eventName: e.name, targetInstanceId: e.instanceId } };
    case "EntityOperationCalled":
    case "EntityOperationSignaled":
      return { message: `Entity operation '${e.operation}' ${e.type === "EntityOperationCalled" ? "called" : "signaled"} on '${e.targetInstanceId}'`, fields: { target: e.operation, targetInstanceId: e.targetInstanceId } };
    case "EntityOperationCompleted":
    case "EntityOperationFailed":
      return { message: `Entity ${e.type === "EntityOperationCompleted" ? "result" : "failure"} received`, fields: { requestId: e.requestId } };
    default:
      return undefined;
  }
}
