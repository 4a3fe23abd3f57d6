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
  /** Recently released lock IDs: a lock request that arrives after its own release is dropped. */
  released: string[];
}

export const MAX_REMEMBERED_RELEASES = 100;

export function readEntityRecord(text: string | undefined): EntityRecord {
  if (!text) return { exists: false, queue: [], released: [] };
  const r = JSON.parse(text) as EntityRecord;
  return { exists: r.exists, ...(r.state !== undefined ? { state: r.state } : {}), ...(r.lock ? { lock: r.lock } : {}), queue: r.queue ?? [], released: r.released ?? [] };
}


/** Nothing worth keeping: no state, no lock, nothing waiting. */
export function isEmptyEntity(r: EntityRecord): boolean {
  return !r.exists && !r.lock && r.queue.length === 0;
}
