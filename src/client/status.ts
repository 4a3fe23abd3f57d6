import type { FailureDetails } from "../core/failure.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import { dfTime, type HistoryRow, type StatusPayload } from "./wire.js";

/** Why an instance is parked: its step cannot complete on the hosts that tried, and is retried. */
export interface ParkedStatus {
  /** Stable code: FUNCTION_NOT_FOUND, NONDETERMINISM, POISON_MESSAGE, STORAGE_ERROR, ... */
  code: string;
  message: string;
  since: Date;
  /** Deliveries of its pending messages so far. */
  attempts: number;
  /** Next retry; absent while it waits for a host that has its function. */
  retryAt?: Date;
}

/**
 * The status object of durable-functions' DurableClient.getStatus, the same from the in-process and
 * the remote client (both read it from the management API's wire shape). `history` holds the
 * Durable Functions `historyEvents` projection. Times have second precision, as on the wire.
 */
export interface DurableOrchestrationStatus {
  name: string;
  instanceId: string;
  createdTime: Date;
  lastUpdatedTime: Date;
  input: unknown;
  output: unknown;
  runtimeStatus: OrchestrationRuntimeStatus;
  customStatus: unknown;
  /** With showHistory: the Durable Functions projection of the current execution's history. */
  history?: HistoryRow[];
  /** Perdure: structured failure of a Failed instance (durable-functions field names). */
  failureDetails?: FailureDetails;
  /** Perdure: the instance that started this one as a sub-orchestration. */
  parentInstanceId?: string;
  /** Perdure: the current execution (it changes with continueAsNew and restarts). */
  executionId?: string;
  /** Perdure: the orchestration version the instance was started with (`context.df.version`); absent for none. */
  version?: string;
  /** Perdure: set while the instance is parked. */
  parked?: ParkedStatus;
}

export interface GetStatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  /** Default true, as in Durable Functions. */
  showInput?: boolean;
}

/** Reads a status payload: times become Date objects. */
export function statusFromPayload(p: StatusPayload): DurableOrchestrationStatus {
  const s: DurableOrchestrationStatus = {
    name: p.name,
    instanceId: p.instanceId,
    runtimeStatus: p.runtimeStatus as OrchestrationRuntimeStatus,
    input: p.input ?? null,
    customStatus: p.customStatus ?? null,
    output: p.output ?? null,
    createdTime: new Date(p.createdTime),
    lastUpdatedTime: new Date(p.lastUpdatedTime),
  };
  if (p.historyEvents) s.history = p.historyEvents;
  if (p.failureDetails) s.failureDetails = p.failureDetails;
  if (p.parentInstanceId) s.parentInstanceId = p.parentInstanceId;
  if (p.executionId) s.executionId = p.executionId;
  if (p.version) s.version = p.version;
  if (p.parked) {
    const parked: ParkedStatus = { code: p.parked.code, message: p.parked.message, since: new Date(p.parked.since), attempts: p.parked.attempts };
    if (p.parked.retryAt !== undefined) parked.retryAt = new Date(p.parked.retryAt);
    s.parked = parked;
  }
  return s;
}

/** Writes a status object back as its payload (the management API answers with it). */
export function payloadFromStatus(s: DurableOrchestrationStatus): StatusPayload {
  const p: StatusPayload = {
    name: s.name,
    instanceId: s.instanceId,
    runtimeStatus: s.runtimeStatus,
    input: s.input ?? null,
    customStatus: s.customStatus ?? null,
    output: s.output ?? null,
    createdTime: dfTime(s.createdTime),
    lastUpdatedTime: dfTime(s.lastUpdatedTime),
  };
  if (s.history) p.historyEvents = s.history;
  if (s.failureDetails) p.failureDetails = s.failureDetails;
  if (s.parentInstanceId) p.parentInstanceId = s.parentInstanceId;
  if (s.executionId) p.executionId = s.executionId;
  if (s.version) p.version = s.version;
  if (s.parked) {
    p.parked = { code: s.parked.code, message: s.parked.message, since: s.parked.since.toISOString(), attempts: s.parked.attempts };
    if (s.parked.retryAt) p.parked.retryAt = s.parked.retryAt.toISOString();
  }
  return p;
}
