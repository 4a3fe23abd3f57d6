/** Runtime statuses, spelled as in Durable Functions. */
export const OrchestrationRuntimeStatus = {
  Running: "Running",
  Completed: "Completed",
  ContinuedAsNew: "ContinuedAsNew",
  Failed: "Failed",
  Canceled: "Canceled",
  Terminated: "Terminated",
  Pending: "Pending",
  Suspended: "Suspended",
} as const;
export type OrchestrationRuntimeStatus = (typeof OrchestrationRuntimeStatus)[keyof typeof OrchestrationRuntimeStatus];

export const ALL_RUNTIME_STATUSES = Object.values(OrchestrationRuntimeStatus) as OrchestrationRuntimeStatus[];

export function isTerminalStatus(status: OrchestrationRuntimeStatus): boolean {
  return status === "Completed" || status === "Failed" || status === "Terminated" || status === "Canceled";
}
