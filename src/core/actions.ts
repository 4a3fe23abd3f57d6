import type { EntityRequestEvent, SchedulingEvent } from "./history.js";

type WithoutEventFields<E> = E extends unknown ? Omit<E, "eventId" | "timestamp"> : never;
/** An entity request as the orchestrator makes it; the step gives it its sequence number and time. */
export type EntityRequest = WithoutEventFields<EntityRequestEvent>;

/**
 * What an orchestrator asks for in one episode. Each action's `id` is its sequence number and equals
 * the `eventId` of the scheduling event that records it in history.
 */
export interface ScheduleTaskAction { kind: "ScheduleTask"; id: number; name: string; input?: string }
export interface CreateTimerAction { kind: "CreateTimer"; id: number; fireAt: string }
export interface CreateSubOrchestrationAction { kind: "CreateSubOrchestration"; id: number; name: string; instanceId: string; input?: string; version?: string }
export interface SendEventAction { kind: "SendEvent"; id: number; instanceId: string; name: string; input?: string }
export interface SendEntityMessageAction { kind: "SendEntityMessage"; id: number; request: EntityRequest }

export type OrchestratorAction = ScheduleTaskAction | CreateTimerAction | CreateSubOrchestrationAction | SendEventAction | SendEntityMessageAction;
export type OrchestratorActionKind = OrchestratorAction["kind"];

/** The action a scheduling event records, so replay can compare like with like. */
export function actionOfEvent(e: SchedulingEvent): OrchestratorAction {
  switch (e.type) {
    case "TaskScheduled":
      return { kind: "ScheduleTask", id: e.eventId, name: e.name };
    case "TimerCreated":
      return { kind: "CreateTimer", id: e.eventId, fireAt: e.fireAt };
    case "SubOrchestrationInstanceCreated":
      return { kind: "CreateSubOrchestration", id: e.eventId, name: e.name, instanceId: e.instanceId };
    case "EventSent":
      return { kind: "SendEvent", id: e.eventId, instanceId: e.instanceId, name: e.name };
    case "EntityOperationCalled":
    case "EntityOperationSignaled":
    case "EntityLockRequested":
    case "EntityUnlockSent": {
      // The action has no time of its own: the step that records it gives one.
      const { eventId, timestamp, ...request } = e;
      return { kind: "SendEntityMessage", id: eventId, request };
    }
  }
}

/**
 * What replay compares besides kind, case-insensitively: the function or event name; for entity
 * requests what is asked of which entity (timers have nothing to compare).
 */
export function actionName(a: OrchestratorAction): string {
  switch (a.kind) {
    case "CreateTimer":
      return "";
    case "SendEntityMessage":
      return entityRequestKey(a.request).toLowerCase();
    default:
      return a.name.toLowerCase();
  }
}

function entityRequestKey(r: EntityRequest): string {
  switch (r.type) {
    case "EntityOperationCalled":
    case "EntityOperationSignaled":
      return `${r.type} ${r.targetInstanceId} ${r.operation}`;
    case "EntityLockRequested":
      return `${r.type} ${r.lockSet.join(" ")}`;
    case "EntityUnlockSent":
      return `${r.type} ${r.targetInstanceId}`;
  }
}

/** Human wording for nondeterminism messages. */
export function describeAction(a: OrchestratorAction): string {
  switch (a.kind) {
    case "ScheduleTask":
      return `an activity task named '${a.name}'`;
    case "CreateTimer":
      return `a timer firing at ${a.fireAt}`;
    case "CreateSubOrchestration":
      return `a sub-orchestration named '${a.name}' (instance ID '${a.instanceId}')`;
    case "SendEvent":
      return `an event named '${a.name}' sent to instance '${a.instanceId}'`;
    case "SendEntityMessage":
      return describeEntityRequest(a.request);
  }
}

function describeEntityRequest(r: EntityRequest): string {
  switch (r.type) {
    case "EntityOperationCalled":
      return `a call of operation '${r.operation}' on entity ${r.targetInstanceId}`;
    case "EntityOperationSignaled":
      return `a signal of operation '${r.operation}' to entity ${r.targetInstanceId}`;
    case "EntityLockRequested":
      return `a lock of the entities ${r.lockSet.join(", ")}`;
    case "EntityUnlockSent":
      return `the release of the lock on entity ${r.targetInstanceId}`;
  }
}
