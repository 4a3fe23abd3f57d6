import type { OrchestratorAction } from "../core/actions.js";
import type { ExecutionResult } from "../core/executor.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../core/history.js";
import { HISTORY_FORMAT_VERSION } from "../core/history.js";
import type { ActivityTaskRequest, InstanceUpdate, OrchestrationCommit, OrchestrationWorkItem, OutgoingMessage } from "../providers/provider.js";
import { childFailedMessage } from "../core/messages.js";

export interface StepContext {
  item: OrchestrationWorkItem;
  /** ExecutionStarted of the running execution. */
  started: ExecutionStartedEvent;
  now: number;
  newId: () => string;
}

/**
 * Turns what the executor decided into one atomic commit: history records for every action, the
 * activity tasks, timers and messages they cause, the terminal record, and the instance row update.
 */
export function buildCommit(ctx: StepContext, result: ExecutionResult, consumedMessageIds: number[]): OrchestrationCommit {
  const { item, started, now } = ctx;
  const ts = new Date(now).toISOString();
  const executionId = started.executionId;
  const history: HistoryEvent[] = [...result.recordedEvents];
  const activityTasks: ActivityTaskRequest[] = [];
  const messages: OutgoingMessage[] = [];
  const completion = result.completion;
  // A finished orchestration drops pending timers (they could only resume a finished generator) and
  // everything after continueAsNew except one-way messages; the records still go to history so a
  // replay from scratch finds every action it produces.
  // A terminated one starts nothing new either (work its code scheduled in the same step stays undone).
  const dispatch = (kind: OrchestratorAction["kind"]): boolean =>
    completion === undefined || (completion.status === "ContinuedAsNew" || completion.status === "Terminated" ? kind === "SendEvent" : kind !== "CreateTimer");

  for (const a of result.actions) {
    switch (a.kind) {
      case "ScheduleTask": {
        history.push(withInput({ type: "TaskScheduled", eventId: a.id, timestamp: ts, name: a.name }, a.input));
        if (dispatch(a.kind)) activityTasks.push(withInput({ instanceId: item.instanceId, executionId, taskScheduledId: a.id, name: a.name }, a.input));
        break;
      }
      case "CreateTimer": {
        history.push({ type: "TimerCreated", eventId: a.id, timestamp: ts, fireAt: a.fireAt });
        if (dispatch(a.kind)) {
          messages.push({
            instanceId: item.instanceId,
            visibleAt: Date.parse(a.fireAt),
            message: { executionId, event: { type: "TimerFired", eventId: -1, timestamp: a.fireAt, timerId: a.id, fireAt: a.fireAt } },
          });
        }
        break;
      }
      case "CreateSubOrchestration": {
        history.push(withInput({ type: "SubOrchestrationInstanceCreated", eventId: a.id, timestamp: ts, name: a.name, instanceId: a.instanceId }, a.input));
        if (dispatch(a.kind)) {
          const childExecutionId = ctx.newId();
          const childStarted: ExecutionStartedEvent = withInput(
            {
              type: "ExecutionStarted",
              eventId: -1,
              timestamp: ts,
              name: a.name,
              instanceId: a.instanceId,
              executionId: childExecutionId,
              parentInstance: { name: started.name, instanceId: item.instanceId, executionId, taskScheduledId: a.id },
              generation: 0,
              historyFormatVersion: HISTORY_FORMAT_VERSION,
            } satisfies ExecutionStartedEvent,
            a.input,
          );
          messages.push({ instanceId: a.instanceId, message: { executionId: childExecutionId, event: childStarted } });
        }
        break;
      }
      case "SendEvent": {
        history.push(withInput({ type: "EventSent", eventId: a.id, timestamp: ts, instanceId: a.instanceId, name: a.name }, a.input));
        if (dispatch(a.kind)) messages.push({ instanceId: a.instanceId, message: { event: withInput({ type: "EventRaised", eventId: -1, timestamp: ts, name: a.name }, a.input) } });
        break;
      }
    }
  }

  const prev = item.instance;
  const instance: InstanceUpdate = {
    runtimeStatus: result.suspended ? "Suspended" : "Running",
    executionId,
    name: started.name,
  };
  if (started.input !== undefined) instance.input = started.input;
  const customStatus = result.customStatus ?? prev.customStatus;
  if (customStatus !== undefined) instance.customStatus = customStatus;

  let replaceHistory = false;
  if (completion) {
    const parent = started.parentInstance;
    if (completion.status === "ContinuedAsNew") {
      // Fresh history for the same instance ID: the next execution starts from its own ExecutionStarted.
      replaceHistory = true;
      history.length = 0;
      const nextExecutionId = ctx.newId();
      const next: ExecutionStartedEvent = withInput(
        {
          type: "ExecutionStarted",
          eventId: -1,
          timestamp: ts,
          name: started.name,
          instanceId: item.instanceId,
          executionId: nextExecutionId,
          generation: started.generation + 1,
          historyFormatVersion: HISTORY_FORMAT_VERSION,
        } satisfies ExecutionStartedEvent,
        completion.result,
      );
      if (parent) next.parentInstance = parent;
      messages.push({ instanceId: item.instanceId, message: { executionId: nextExecutionId, event: next } });
      // Bound to the new execution, so the next step can deliver them ahead of newer events.
      for (const e of completion.carryoverEvents ?? []) messages.push({ instanceId: item.instanceId, message: { executionId: nextExecutionId, event: e } });
      instance.runtimeStatus = "ContinuedAsNew";
      instance.executionId = nextExecutionId;
      delete instance.input;
      if (completion.result !== undefined) instance.input = completion.result;
    } else {
      const done: HistoryEvent = { type: "ExecutionCompleted", eventId: -1, timestamp: ts, orchestrationStatus: completion.status };
      if (completion.result !== undefined) done.result = completion.result;
      if (completion.failureDetails) done.failureDetails = completion.failureDetails;
      history.push(done);
      instance.runtimeStatus = completion.status;
      if (completion.result !== undefined) instance.output = completion.result;
      if (completion.failureDetails) instance.failureDetails = completion.failureDetails;
      if (parent) messages.push(parentNotification(parent, started.name, completion, ts));
    }
  }
  if (history.length > 0 || replaceHistory) {
    if (!replaceHistory) history.push({ type: "OrchestratorCompleted", eventId: -1, timestamp: ts });
  }
  // A step in which nothing happened (only duplicates) leaves no trace in history.
  const meaningful = history.some((e) => e.type !== "OrchestratorStarted" && e.type !== "OrchestratorCompleted");
  return {
    item,
    replaceHistory,
    newHistory: meaningful || replaceHistory ? history : [],
    consumedMessageIds,
    instance,
    activityTasks,
    messages,
  };
}

function parentNotification(
  parent: NonNullable<ExecutionStartedEvent["parentInstance"]>,
  childName: string,
  completion: NonNullable<ExecutionResult["completion"]>,
  ts: string,
): OutgoingMessage {
  if (completion.status === "Completed") {
    return {
      instanceId: parent.instanceId,
      message: { executionId: parent.executionId, event: withResult({ type: "SubOrchestrationInstanceCompleted", eventId: -1, timestamp: ts, taskScheduledId: parent.taskScheduledId }, completion.result) },
    };
  }
  const failureDetails =
    completion.failureDetails ?? { errorType: "TerminatedError", message: `The sub-orchestration was terminated${completion.result ? `: ${completion.result}` : "."}` };
  return childFailedMessage(parent, `Orchestrator function '${childName}' failed: ${failureDetails.message}`, failureDetails, ts);
}

function withInput<T extends object>(o: T, input: string | undefined): T & { input?: string } {
  return input === undefined ? o : { ...o, input };
}
function withResult<T extends object>(o: T, result: string | undefined): T & { result?: string } {
  return result === undefined ? o : { ...o, result };
}
