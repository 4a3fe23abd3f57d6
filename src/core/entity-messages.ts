import type { HistoryEvent } from "./history.js";
import type { FailureDetails } from "./failure.js";

/**
 * The messages entities exchange, carried as EventRaised events in the entity's inbox (name
 * `op`, `lock` or `release`) and as EventRaised responses named after the request ID.
 */
export const ENTITY_OPERATION_EVENT = "op";
export const ENTITY_LOCK_EVENT = "lock";
export const ENTITY_RELEASE_EVENT = "release";
/** Makes an empty entity run a batch, so it removes itself in its own transaction. */
export const ENTITY_CLEANUP_EVENT = "cleanup";

export interface LockOwner {
  instanceId: string;
  executionId: string;
}

export interface OperationMessage {
  /** Request ID; a call's response comes back as an event with this name. */
  id: string;
  op: string;
  /** JSON text of the operation input. */
  input?: string;
  signal: boolean;
  /** The calling orchestration (calls only; also identifies a lock holder's own operations). */
  parent?: LockOwner;
  /** A signal sent by an orchestration (identifies the lock holder for signals too). */
  sender?: LockOwner;
}

export interface LockMessage {
  /** Lock request ID: the grant comes back as an event with this name. */
  id: string;
  owner: LockOwner;
  /** Entity instance IDs to lock, sorted: the global order that makes critical sections deadlock-free. */
  entities: string[];
  /** Index of the entity this message is addressed to. */
  position: number;
}

export interface ReleaseMessage {
  id: string;
  owner: LockOwner;
}

export interface OperationResponse {
  /** JSON text of the operation's return value. */
  result?: string;
  error?: FailureDetails;
}

/**
 * The lock requests an execution's history sent and did not release — counting only releases
 * recorded before `releasesBefore` (an index into the history). Events that merely share the names
 * (a user's own sendEvent called "lock") are skipped.
 */
export function unreleasedLocks(history: readonly HistoryEvent[], releasesBefore = history.length): LockMessage[] {
  const open = new Map<string, LockMessage>();
  history.forEach((e, i) => {
    if (e.type !== "EventSent" || e.input === undefined || (e.name !== ENTITY_LOCK_EVENT && e.name !== ENTITY_RELEASE_EVENT)) return;
    let m: Partial<LockMessage>;
    try {
      m = JSON.parse(e.input) as Partial<LockMessage>;
    } catch {
      return;
    }
    if (typeof m?.id !== "string") return;
    if (e.name === ENTITY_LOCK_EVENT) {
      if (Array.isArray(m.entities) && m.owner) open.set(m.id, m as LockMessage);
    } else if (i < releasesBefore) open.delete(m.id);
  });
  return [...open.values()];
}
