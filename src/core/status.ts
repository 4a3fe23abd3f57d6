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

/** The statuses an instance ends in: nothing it runs changes them (a rewind or restart starts over). */
export const TERMINAL_STATUSES: readonly OrchestrationRuntimeStatus[] = ["Completed", "Failed", "Terminated", "Canceled"];

export function isTerminalStatus(status: OrchestrationRuntimeStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
