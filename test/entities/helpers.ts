import assert from "node:assert/strict";
import type { DurableClient } from "../../src/client/durable-client.js";
import type { DurableOrchestrationStatus } from "../../src/client/status.js";
import { EntityId } from "../../src/core/entity-id.js";
import { eventually } from "../helpers/hosts.js";

/** What an orchestration reports about an error it caught (errors do not survive JSON as objects). */
export interface CaughtError {
  name: string;
  code: string | undefined;
  message: string;
  entityId?: string;
  operationName?: string;
  failureMessage?: string;
}

/** Replay-safe: a pure function of the error, so replays produce the same output. */
export function caught(err: unknown): CaughtError {
  const e = err as Error & { code?: string; entityId?: string; operationName?: string; failureDetails?: { errorMessage: string } };
  const out: CaughtError = { name: e.constructor?.name ?? "?", code: e.code, message: e.message };
  if (e.entityId !== undefined) out.entityId = e.entityId;
  if (e.operationName !== undefined) out.operationName = e.operationName;
  if (e.failureDetails !== undefined) out.failureMessage = e.failureDetails.errorMessage;
  return out;
}

/** Polls the entity's committed state until `accept` says yes; returns it. */
export async function stateEventually<T>(client: DurableClient, id: EntityId, accept: (state: T | undefined, exists: boolean) => boolean, timeoutMs = 10_000, what?: string): Promise<T | undefined> {
  let last: { entityExists: boolean; entityState?: T } | undefined;
  try {
    return await eventually(
      async () => {
        last = await client.readEntityState<T>(id);
        return accept(last.entityState, last.entityExists) ? { v: last.entityState } : undefined;
      },
      timeoutMs,
      what ?? `state of ${id.toString()}`,
    ).then((x) => x.v);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last read: ${JSON.stringify(last)}`);
  }
}

/** waitForCompletion that insists on Completed and says why not. */
export async function completed(client: DurableClient, instanceId: string, timeoutInMilliseconds = 15_000): Promise<DurableOrchestrationStatus> {
  const status = await client.waitForCompletion(instanceId, { timeoutInMilliseconds });
  assert.equal(status.runtimeStatus, "Completed", `${instanceId} completed (output: ${JSON.stringify(status.output)})`);
  return status;
}

export const eid = (name: string, key: string): EntityId => new EntityId(name, key);
