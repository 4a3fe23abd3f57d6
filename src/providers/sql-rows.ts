import type { FailureDetails } from "../core/failure.js";
import type { InstanceKind } from "../core/outbox.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { ParkInfo } from "../core/step-policy.js";
import type { InstanceRecord, TimerOccurrenceRecord } from "./provider.js";

/** An `instances` row as the SQL stores (SQLite, PostgreSQL) return it: the same columns in both. */
export interface InstanceRow {
  instance_id: string;
  kind: string;
  name: string;
  execution_id: string;
  runtime_status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  failure_details: string | null;
  parent_instance_id: string | null;
  version: string | null;
  created_at: number;
  last_updated_at: number;
  history_length: number;
  entity_state: string | null;
  parked: string | null;
  lock_token: string | null;
  locked_until: number;
}

/** The record of a row; stored JSON that cannot be parsed throws (callers say which instance). */
export function instanceFromRow(r: InstanceRow): InstanceRecord {
  const rec: InstanceRecord = {
    instanceId: r.instance_id,
    kind: r.kind as InstanceKind,
    name: r.name,
    executionId: r.execution_id,
    runtimeStatus: r.runtime_status as OrchestrationRuntimeStatus,
    createdAt: r.created_at,
    lastUpdatedAt: r.last_updated_at,
    historyLength: r.history_length,
  };
  if (r.input !== null) rec.input = r.input;
  if (r.output !== null) rec.output = r.output;
  if (r.custom_status !== null) rec.customStatus = r.custom_status;
  if (r.failure_details !== null) rec.failureDetails = JSON.parse(r.failure_details) as FailureDetails;
  if (r.parent_instance_id !== null) rec.parentInstanceId = r.parent_instance_id;
  if (r.version !== null) rec.version = r.version;
  if (r.entity_state !== null) rec.entityState = r.entity_state;
  if (r.parked !== null) rec.parked = JSON.parse(r.parked) as ParkInfo;
  return rec;
}

/** A `timer_occurrences` row, the same columns in SQLite and PostgreSQL. */
export interface TimerRow {
  last_occurrence: number;
  done_occurrence: number | null;
  worker_id: string;
  lease_until: number;
}

export function timerRecord(row: TimerRow): TimerOccurrenceRecord {
  const record: TimerOccurrenceRecord = { last: row.last_occurrence, workerId: row.worker_id, leaseUntil: row.lease_until };
  if (row.done_occurrence !== null) record.done = row.done_occurrence;
  return record;
}
