import { readHistory } from "../history-v1.js";
import type { EntityLockRequestedEvent, HistoryEvent } from "../history.js";

/**
 * The lock requests an execution's history sent and did not release — counting only releases
 * recorded before `releasesBefore` (an index into the history). Reads histories of any format.
 */
export function unreleasedLocks(history: readonly HistoryEvent[], releasesBefore = history.length): EntityLockRequestedEvent[] {
  const open = new Map<string, EntityLockRequestedEvent>();
  readHistory(history).forEach((e, i) => {
    if (e.type === "EntityLockRequested") open.set(e.requestId, e);
    else if (e.type === "EntityUnlockSent" && i < releasesBefore) open.delete(e.requestId);
  });
  return [...open.values()];
}
