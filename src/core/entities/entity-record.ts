import { entityRequestFromV1 } from "../history-v1.js";
import type { EntityRequestEvent } from "../history.js";

/** The critical section that holds an entity. */
export interface EntityLock {
  requestId: string;
  parentInstanceId: string;
  parentExecutionId: string;
}

/** What an entity keeps between batches (the instance row's entityState). */
export interface EntityRecord {
  exists: boolean;
  /** JSON text of the state. */
  state?: string;
  lock?: EntityLock;
  /** Requests from others, held while the entity is locked, in arrival order. */
  queue: EntityRequestEvent[];
  /**
   * Recently released lock IDs with the time of the release: a lock request that arrives after its
   * own release is dropped. While one is remembered the entity keeps its row (even when empty).
   */
  released: { id: string; at: number }[];
}

/** How long a release is remembered: far longer than a lock request can be in flight. */
export const RELEASE_MEMORY_MS = 10 * 60_000;

export const MAX_REMEMBERED_RELEASES = 100;

interface StoredRecord {
  exists?: boolean;
  state?: string;
  lock?: EntityLock & { id?: string; owner?: { instanceId: string; executionId: string } };
  queue?: (EntityRequestEvent | { name: string; input: string })[];
  released?: (string | { id: string; at: number })[];
}

/**
 * Reads the stored record of entity `entityInstanceId`. Records written before history format 2
 * held the lock as `{ id, owner }` and the queue as raw `{ name, input }` envelopes; they are read
 * as typed requests (an envelope that cannot be read is dropped, as it was then).
 */
export function readEntityRecord(text: string | undefined, entityInstanceId: string): EntityRecord {
  if (!text) return { exists: false, queue: [], released: [] };
  const r = JSON.parse(text) as StoredRecord;
  const record: EntityRecord = {
    exists: r.exists === true,
    queue: [],
    released: (r.released ?? []).map((x) => (typeof x === "string" ? { id: x, at: 0 } : x)),
  };
  if (r.state !== undefined) record.state = r.state;
  if (r.lock) {
    const l = r.lock;
    record.lock = l.owner
      ? { requestId: l.id ?? "", parentInstanceId: l.owner.instanceId, parentExecutionId: l.owner.executionId }
      : { requestId: l.requestId, parentInstanceId: l.parentInstanceId, parentExecutionId: l.parentExecutionId };
  }
  for (const q of r.queue ?? []) {
    if ("type" in q) record.queue.push(q);
    else {
      const typed = entityRequestFromV1(q.name, q.input, entityInstanceId, -1, "");
      if (typed && typed.type !== "EntityCleanup") record.queue.push(typed);
    }
  }
  return record;
}

/** Nothing worth keeping: no state, no lock, nothing waiting, no release still worth remembering. */
export function isEmptyEntity(r: EntityRecord, now: number): boolean {
  return !r.exists && !r.lock && r.queue.length === 0 && r.released.every((x) => now - x.at > RELEASE_MEMORY_MS);
}
