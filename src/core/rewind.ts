import { unreleasedLocks } from "./entities/locks.js";
import { completionTarget, type HistoryEvent, type TaskScheduledEvent, type TimerCreatedEvent } from "./history.js";

export interface RewindPlan {
  /** The history to keep (the failure records of the last episode removed). */
  history: HistoryEvent[];
  /**
   * Activities with no result in the kept history, so they must run again: those whose failure was
   * removed, and those whose result never reached history because the instance had already failed
   * (a fan-out sibling finishing in the same batch as, or after, the failure).
   */
  activitiesToRetry: TaskScheduledEvent[];
  /** Sub-orchestrations with no result in the kept history (failure removed, or outcome dropped): rewind them too. */
  childrenToRewind: string[];
  /** Timers with no TimerFired in the kept history: pending when the instance failed, so never delivered. */
  timersToRearm: TimerCreatedEvent[];
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
  const kept: HistoryEvent[] = [];
  history.forEach((e, i) => {
    if (i === completedAt) return;
    // The failed episode is reopened: replay may now take another path in it without tripping the
    // end-of-episode determinism check.
    if (i > episodeStart && e.type === "OrchestratorCompleted") return;
    if (i > episodeStart && (e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceFailed")) return;
    kept.push(e);
  });
  // Every activity or child still open in the kept history must produce a result again. Results that
  // arrived after the failure were dropped, so only listing the removed failures would leave a fan-out
  // waiting forever on its siblings.
  const answered = new Set<number>();
  for (const e of kept) {
    const target = completionTarget(e);
    if (target !== undefined) answered.add(target);
  }
  const activitiesToRetry: TaskScheduledEvent[] = [];
  const childrenToRewind: string[] = [];
  const timersToRearm: TimerCreatedEvent[] = [];
  for (const e of kept) {
    if (e.type === "TimerCreated" && !answered.has(e.eventId)) timersToRearm.push(e);
    if (e.type === "TaskScheduled" && !answered.has(e.eventId)) activitiesToRetry.push(e);
    if (e.type === "SubOrchestrationInstanceCreated" && !answered.has(e.eventId)) childrenToRewind.push(e.instanceId);
  }
  return { history: kept, activitiesToRetry, childrenToRewind, timersToRearm };
}

/**
 * Why a failed execution cannot be rewound, or undefined. An orchestration that failed inside a
 * critical section had its entity locks released at the failure: replaying it as if it still held
 * them would let it touch those entities unprotected.
 */
export function rewindBlocker(history: readonly HistoryEvent[]): string | undefined {
  const completedAt = history.findLastIndex((e) => e.type === "ExecutionCompleted");
  if (completedAt < 0) return undefined;
  const episodeStart = history.findLastIndex((e, i) => i < completedAt && e.type === "OrchestratorStarted");
  // A lock requested and not released before the failing step was released by the failure itself
  // (recorded in that step, or sent by the runtime after a replay failure).
  return unreleasedLocks(history, episodeStart).length > 0
    ? "The orchestration failed inside a critical section and its entity locks were released when it failed, so it cannot be rewound. Restart it instead."
    : undefined;
}
