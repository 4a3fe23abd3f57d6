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

/** The history event type that records each action kind. */
export const SCHEDULING_EVENT_OF: Record<OrchestratorActionKind, string> = {
  ScheduleTask: "TaskScheduled",
  CreateTimer: "TimerCreated",
  CreateSubOrchestration: "SubOrchestrationInstanceCreated",
  SendEvent: "EventSent",
};

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
