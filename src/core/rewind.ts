import type { HistoryEvent, TaskScheduledEvent } from "./history.js";

export interface RewindPlan {
  /** The history to keep (the failure records of the last episode removed). */
  history: HistoryEvent[];
  /** Activities whose failure was removed: they must run again. */
  activitiesToRetry: TaskScheduledEvent[];
  /** Sub-orchestrations whose failure was removed: they must be rewound themselves. */
  childrenToRewind: string[];
}

/**
 * Rewinds a failed execution: drops the terminal record and the task failures of the episode that
 * ended the instance, so replay finds those tasks still open and they run again. Failures that the
 * orchestrator had already handled in earlier episodes stay, so replay still follows the same path.
 * Returns undefined when the history does not end in a failure.
 */
export function planRewind(history: readonly HistoryEvent[]): RewindPlan | undefined {
  const completedAt = history.findLastIndex((e) => e.type === "ExecutionCompleted");
  const completed = history[completedAt];
  if (!completed || completed.type !== "ExecutionCompleted" || completed.orchestrationStatus !== "Failed") return undefined;
  const episodeStart = history.findLastIndex((e, i) => i < completedAt && e.type === "OrchestratorStarted");
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of history) if (e.type === "TaskScheduled" || e.type === "SubOrchestrationInstanceCreated") scheduled.set(e.eventId, e);
  const activitiesToRetry: TaskScheduledEvent[] = [];
  const childrenToRewind: string[] = [];
  const kept: HistoryEvent[] = [];
  history.forEach((e, i) => {
    if (i === completedAt) return;
    // The failed episode is reopened: replay may now take another path in it without tripping the
    // end-of-episode determinism check.
    if (i > episodeStart && e.type === "OrchestratorCompleted") return;
    if (i > episodeStart && (e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceFailed")) {
      const origin = scheduled.get(e.taskScheduledId);
      if (origin?.type === "TaskScheduled") activitiesToRetry.push(origin);
      if (origin?.type === "SubOrchestrationInstanceCreated") childrenToRewind.push(origin.instanceId);
      return;
    }
    kept.push(e);
  });
  return { history: kept, activitiesToRetry, childrenToRewind };
}
