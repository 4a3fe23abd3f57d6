import { isoTime as iso } from "./iso-time.js";
import type { OrchestratorAction } from "./actions.js";
import { unreleasedLocks } from "./entities/locks.js";
import type { ExecutionResult, OrchestrationCompletion } from "./executor.js";
import type { FailureDetails } from "./failure.js";
import type { EventSentEvent, ExecutionStartedEvent, HistoryEvent, SubOrchestrationInstanceCreatedEvent, TimerCreatedEvent, TaskScheduledEvent } from "./history.js";
import {
  childCompletedMessage,
  childFailedMessage,
  entityRequestMessage,
  eventMessage,
  executionStarted,
  type OrchestrationMessage,
  type OutgoingMessage,
  selfMessage,
  startChildMessage,
  timerMessage,
} from "./messages.js";
import type { RewindPlan } from "./rewind.js";
import type { ActivityTaskRequest, InstanceUpdate, StepCommit } from "./step-commit.js";
import type { OrchestrationRuntimeStatus } from "./status.js";

/** What a step needs to know besides the executor's result. */
export interface StepContext {
  instanceId: string;
  /** ExecutionStarted of the running execution. */
  started: ExecutionStartedEvent;
  now: number;
  /** New execution IDs (children, continueAsNew): the caller's randomness. */
  newId: () => string;
  /** The custom status stored before this step (it carries over until the code sets another). */
  previousCustomStatus: string | undefined;
  /** The host's app version: children started without an explicit version get it, as in Durable Functions. */
  defaultVersion?: string | undefined;
}

/** Sets `input` on a record built just before, when there is one (no copy: a step makes many of these). */
function withInput<T extends { input?: string }>(o: T, input: string | undefined): T {
  if (input !== undefined) o.input = input;
  return o;
}

/**
 * The step transition: turns what the executor decided into one atomic commit — history records for
 * every action, the activity tasks, timers and messages they cause, the terminal record, and the
 * instance row update. Pure: ids and time come in through `ctx`.
 */
export function orchestrationStep(ctx: StepContext, result: ExecutionResult): StepCommit {
  const { instanceId, started, now } = ctx;
  const ts = iso(now);
  const executionId = started.executionId;
  const history: HistoryEvent[] = [...result.recordedEvents];
  const activityTasks: ActivityTaskRequest[] = [];
  const messages: OutgoingMessage[] = [];
  const completion = result.completion;
  // A finished orchestration drops pending timers (they could only resume a finished generator) and
  // everything after continueAsNew except one-way messages; the records still go to history so a
  // replay from scratch finds every action it produces.
  // A terminated one starts nothing new either (work its code scheduled in the same step stays undone).
  const oneWay = (a: OrchestratorAction): boolean => a.kind === "SendEvent" || a.kind === "SendEntityMessage";
  const dispatch = (a: OrchestratorAction): boolean =>
    completion === undefined || (completion.status === "ContinuedAsNew" || completion.status === "Terminated" ? oneWay(a) : a.kind !== "CreateTimer");

  for (const a of result.actions) {
    switch (a.kind) {
      case "ScheduleTask":
        history.push(withInput<TaskScheduledEvent>({ type: "TaskScheduled", eventId: a.id, timestamp: ts, name: a.name }, a.input));
        if (dispatch(a)) activityTasks.push(withInput<ActivityTaskRequest>({ instanceId, executionId, taskScheduledId: a.id, name: a.name }, a.input));
        break;
      case "CreateTimer":
        history.push({ type: "TimerCreated", eventId: a.id, timestamp: ts, fireAt: a.fireAt });
        if (dispatch(a)) messages.push(timerMessage(instanceId, executionId, a.id, a.fireAt));
        break;
      case "CreateSubOrchestration": {
        const version = a.version ?? ctx.defaultVersion;
        const created = withInput<SubOrchestrationInstanceCreatedEvent>({ type: "SubOrchestrationInstanceCreated", eventId: a.id, timestamp: ts, name: a.name, instanceId: a.instanceId }, a.input);
        if (version) created.version = version;
        history.push(created);
        if (dispatch(a)) {
          const child = executionStarted({
            name: a.name,
            instanceId: a.instanceId,
            executionId: ctx.newId(),
            input: a.input,
            parentInstance: { name: started.name, instanceId, executionId, taskScheduledId: a.id },
            version,
            timestamp: ts,
          });
          messages.push(startChildMessage(child));
        }
        break;
      }
      case "SendEvent":
        history.push(withInput<EventSentEvent>({ type: "EventSent", eventId: a.id, timestamp: ts, instanceId: a.instanceId, name: a.name }, a.input));
        if (dispatch(a)) messages.push(eventMessage(a.instanceId, a.name, a.input, ts));
        break;
      case "SendEntityMessage": {
        const request = { ...a.request, eventId: a.id, timestamp: ts };
        history.push(request);
        if (dispatch(a)) messages.push(entityRequestMessage(request));
        break;
      }
    }
  }

  const instance: InstanceUpdate = { runtimeStatus: result.suspended ? "Suspended" : "Running", executionId, name: started.name };
  if (started.input !== undefined) instance.input = started.input;
  const customStatus = result.customStatus ?? ctx.previousCustomStatus;
  if (customStatus !== undefined) instance.customStatus = customStatus;

  let replaceHistory = false;
  if (completion) {
    const parent = started.parentInstance;
    if (completion.status === "ContinuedAsNew") {
      // Fresh history for the same instance ID: the next execution starts from its own ExecutionStarted.
      replaceHistory = true;
      history.length = 0;
      const next = executionStarted({
        name: started.name,
        instanceId,
        executionId: ctx.newId(),
        input: completion.result,
        parentInstance: parent,
        generation: started.generation + 1,
        // An eternal orchestration keeps the version it started with, as in the Durable Task Framework.
        version: started.version,
        timestamp: ts,
      });
      messages.push(selfMessage(instanceId, next.executionId, next));
      // Bound to the new execution, so the next step can deliver them ahead of newer events.
      for (const e of completion.carryoverEvents ?? []) messages.push(selfMessage(instanceId, next.executionId, e));
      instance.runtimeStatus = "ContinuedAsNew";
      instance.executionId = next.executionId;
      delete instance.input;
      if (completion.result !== undefined) instance.input = completion.result;
    } else {
      history.push(completedRecord(completion, ts));
      applyCompletion(instance, completion);
      if (parent) messages.push(parentNotification(parent, started.name, completion, ts));
    }
  }
  if (history.length > 0 && !replaceHistory) history.push({ type: "OrchestratorCompleted", eventId: -1, timestamp: ts });
  // A step in which nothing happened (only duplicates) leaves no trace in history.
  const meaningful = history.some((e) => e.type !== "OrchestratorStarted" && e.type !== "OrchestratorCompleted");
  return { replaceHistory, newHistory: meaningful || replaceHistory ? history : [], instance, activityTasks, messages };
}

function completedRecord(completion: OrchestrationCompletion, ts: string): HistoryEvent {
  const done: HistoryEvent = { type: "ExecutionCompleted", eventId: -1, timestamp: ts, orchestrationStatus: completion.status };
  if (completion.result !== undefined) done.result = completion.result;
  if (completion.failureDetails) done.failureDetails = completion.failureDetails;
  return done;
}

function applyCompletion(instance: InstanceUpdate, completion: OrchestrationCompletion): void {
  instance.runtimeStatus = completion.status;
  if (completion.result !== undefined) instance.output = completion.result;
  if (completion.failureDetails) instance.failureDetails = completion.failureDetails;
}

function parentNotification(parent: NonNullable<ExecutionStartedEvent["parentInstance"]>, childName: string, completion: OrchestrationCompletion, ts: string): OutgoingMessage {
  if (completion.status === "Completed") return childCompletedMessage(parent, completion.result, ts);
  const failureDetails: FailureDetails = completion.failureDetails ?? {
    errorType: "TerminatedError",
    errorMessage: `The sub-orchestration was terminated${completion.result ? `: ${completion.result}` : "."}`,
    isNonRetriable: false,
  };
  return childFailedMessage(parent, `Orchestrator function '${childName}' failed: ${failureDetails.errorMessage}`, failureDetails, ts);
}

/**
 * Terminates an execution without running its code: for an instance whose code cannot run here (the
 * function is missing, or its history no longer replays). Records what arrived, the termination and
 * the terminal record; releases the entity locks the history holds; tells the parent.
 */
export function terminateWithoutCode(ctx: StepContext, history: readonly HistoryEvent[], arrived: readonly HistoryEvent[], reason: string | undefined): StepCommit {
  const ts = iso(ctx.now);
  const completion: OrchestrationCompletion = reason === undefined ? { status: "Terminated" } : { status: "Terminated", result: reason };
  const instance: InstanceUpdate = { runtimeStatus: "Running", executionId: ctx.started.executionId, name: ctx.started.name };
  if (ctx.started.input !== undefined) instance.input = ctx.started.input;
  if (ctx.previousCustomStatus !== undefined) instance.customStatus = ctx.previousCustomStatus;
  applyCompletion(instance, completion);
  const messages = lockReleases(history, ctx.now);
  if (ctx.started.parentInstance) messages.push(parentNotification(ctx.started.parentInstance, ctx.started.name, completion, ts));
  return {
    replaceHistory: false,
    newHistory: [{ type: "OrchestratorStarted", eventId: -1, timestamp: ts }, ...arrived, completedRecord(completion, ts), { type: "OrchestratorCompleted", eventId: -1, timestamp: ts }],
    instance,
    activityTasks: [],
    messages,
  };
}

/**
 * Releases for every lock the history requested and did not release. Used when the executor cannot
 * be trusted (a failed replay): the history says which locks are held.
 */
export function lockReleases(history: readonly HistoryEvent[], now: number): OutgoingMessage[] {
  const ts = iso(now);
  return unreleasedLocks(history).flatMap((lock) =>
    lock.lockSet.map((entity) =>
      entityRequestMessage({ type: "EntityUnlockSent", eventId: -1, timestamp: ts, requestId: lock.requestId, targetInstanceId: entity, parentInstanceId: lock.parentInstanceId, parentExecutionId: lock.parentExecutionId }),
    ),
  );
}

/** A step that only consumes messages (to a finished instance): the row stays as it is. */
export function consumeOnly(current: InstanceUpdate & { lastUpdatedAt: number }): StepCommit {
  return { replaceHistory: false, newHistory: [], instance: current, activityTasks: [], messages: [] };
}

/**
 * Delivery order within one step: the execution's start first, then events carried over from the
 * previous execution (they were raised earlier), then everything else in arrival order. Without
 * this, events raised while a continueAsNew step was committing would overtake the carried-over ones.
 * Messages bound to another execution are dropped.
 */
export function eventsForStep(messages: readonly OrchestrationMessage[], executionId: string): HistoryEvent[] {
  const mine = messages.filter((m) => m.executionId === undefined || m.executionId === executionId);
  // Carried-over events can only be in the batch that starts the execution; in later batches the
  // events bound to it are entity answers and lock grants, which keep their arrival order.
  const starts = mine.some((m) => m.event.type === "ExecutionStarted");
  const rank = (m: OrchestrationMessage): number => (m.event.type === "ExecutionStarted" ? 0 : starts && m.event.type === "EventRaised" && m.executionId === executionId ? 1 : 2);
  return mine
    .map((m, i) => ({ m, i, r: rank(m) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.m.event);
}

/** What a worker read about a child of a rewound instance (undefined: the child no longer exists). */
export interface ChildState {
  runtimeStatus: OrchestrationRuntimeStatus;
  output?: string;
}

/**
 * The commit of a rewind: the rewritten history plus the step the executor ran on it, activities to
 * run again, timers to arm again, and for each child without an answer: its result delivered again
 * (it completed after the parent failed), a rewind of its own (it failed), or a failure (it was
 * terminated or purged). Running children report back when they finish.
 */
export function rewindStep(ctx: StepContext, plan: RewindPlan, result: ExecutionResult, rewound: HistoryEvent, children: ReadonlyMap<string, ChildState | undefined>): StepCommit {
  const commit = orchestrationStep(ctx, result);
  const { instanceId, started } = ctx;
  const ts = iso(ctx.now);
  commit.replaceHistory = true;
  commit.newHistory = [...plan.history, ...commit.newHistory];
  for (const t of plan.activitiesToRetry) commit.activityTasks.push(retryTask(instanceId, started.executionId, t));
  for (const t of plan.timersToRearm) commit.messages.push(rearmedTimer(instanceId, started.executionId, t));
  for (const childId of plan.childrenToRewind) {
    const child = children.get(childId);
    const created = plan.history.findLast((e) => e.type === "SubOrchestrationInstanceCreated" && e.instanceId === childId);
    if (!created || created.type !== "SubOrchestrationInstanceCreated") continue;
    const parent = { name: started.name, instanceId, executionId: started.executionId, taskScheduledId: created.eventId };
    if (child?.runtimeStatus === "Completed") {
      commit.messages.push(childCompletedMessage(parent, child.output, ts));
    } else if (child?.runtimeStatus === "Failed") {
      commit.messages.push({ kind: "event", instanceId: childId, message: { event: { ...rewound, timestamp: ts } }, wake: true });
    } else if (!child || child.runtimeStatus === "Terminated" || child.runtimeStatus === "Canceled") {
      const failureDetails: FailureDetails = {
        errorType: "RewindError",
        errorMessage: child ? `The sub-orchestration '${childId}' was ${child.runtimeStatus.toLowerCase()} and cannot be rewound.` : `The sub-orchestration '${childId}' no longer exists.`,
        isNonRetriable: false,
      };
      commit.messages.push(childFailedMessage(parent, `Orchestrator function '${created.name}' failed: ${failureDetails.errorMessage}`, failureDetails, ts));
    }
  }
  return commit;
}

function retryTask(instanceId: string, executionId: string, t: TaskScheduledEvent): ActivityTaskRequest {
  return withInput<ActivityTaskRequest>({ instanceId, executionId, taskScheduledId: t.eventId, name: t.name }, t.input);
}

function rearmedTimer(instanceId: string, executionId: string, t: TimerCreatedEvent): OutgoingMessage {
  return timerMessage(instanceId, executionId, t.eventId, t.fireAt);
}
