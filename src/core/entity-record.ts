import type { LockOwner } from "./entity-messages.js";

/** A request waiting in the entity: raw, as it arrived. */
export interface Envelope {
  name: string;
  input: string;
}

/** What an entity keeps between batches (the instance row's entityState). */
export interface EntityRecord {
  exists: boolean;
  /** JSON text of the state. */
  state?: string;
  /** The critical section holding the entity. */
  lock?: { id: string; owner: LockOwner };
  /** Requests from others, held while the entity is locked, in arrival order. */
  queue: Envelope[];
  /**
   * Recently released lock IDs with the time of the release: a lock request that arrives after its
   * own release is dropped. While one is remembered the entity keeps its row (even when empty).
   */
  released: { id: string; at: number }[];
}

/** How long a release is remembered: far longer than a lock request can be in flight. */
export const RELEASE_MEMORY_MS = 10 * 60_000;

export const MAX_REMEMBERED_RELEASES = 100;

export function readEntityRecord(text: string | undefined): EntityRecord {
  if (!text) return { exists: false, queue: [], released: [] };
  const r = JSON.parse(text) as EntityRecord;
  const released = (r.released ?? []).map((x: string | { id: string; at: number }) => (typeof x === "string" ? { id: x, at: 0 } : x));
  return { exists: r.exists, ...(r.state !== undefined ? { state: r.state } : {}), ...(r.lock ? { lock: r.lock } : {}), queue: r.queue ?? [], released };
}


/** Nothing worth keeping: no state, no lock, nothing waiting, no release still worth remembering. */
export function isEmptyEntity(r: EntityRecord, now: number): boolean {
  return !r.exists && !r.lock && r.queue.length === 0 && r.released.every((x) => now - x.at > RELEASE_MEMORY_MS);
}
