import type { SchedulingEvent } from "./history.js";

/**
 * What an orchestrator asks for in one episode. Each action's `id` is its sequence number and equals
 * the `eventId` of the scheduling event that records it in history.
 */
export interface ScheduleTaskAction { kind: "ScheduleTask"; id: number; name: string; input?: string }
export interface CreateTimerAction { kind: "CreateTimer"; id: number; fireAt: string }
export interface CreateSubOrchestrationAction { kind: "CreateSubOrchestration"; id: number; name: string; instanceId: string; input?: string }
export interface SendEventAction { kind: "SendEvent"; id: number; instanceId: string; name: string; input?: string }

export type OrchestratorAction = ScheduleTaskAction | CreateTimerAction | CreateSubOrchestrationAction | SendEventAction;
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
  }
}

/** What replay compares besides kind: names, case-insensitively (timers have none). */
export function actionName(a: OrchestratorAction): string {
  return a.kind === "CreateTimer" ? "" : a.name.toLowerCase();
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
  }
}
