import { normalizeFailure, type FailureDetails } from "../core/failure.js";
import { readHistory } from "../core/history-v1.js";
import type { HistoryEvent } from "../core/history.js";
import { parsePayload } from "../core/payload.js";
import type { ParkInfo } from "../core/step-policy.js";
import type { InstanceRecord } from "../providers/provider.js";

/**
 * The wire shapes of the HTTP management API, which both clients speak: the in-process client builds
 * them from storage, the remote client reads them from HTTP, and one function turns them into the
 * objects a caller gets. So the two clients return the same objects, field for field.
 */

/** Durable Functions prints times without fractions: `yyyy-MM-ddTHH:mm:ssZ`. */
export function dfTime(d: Date | string | number): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Why an instance is parked, on the wire (times as ISO 8601). */
export interface ParkedPayload {
  code: string;
  message: string;
  since: string;
  attempts: number;
  retryAt?: string;
}

/** One row of the `historyEvents` projection (PascalCase, as Durable Functions returns it). */
export type HistoryRow = Record<string, unknown>;

/**
 * The camelCase status payload of the management API: Durable Functions' fields, then Perdure's
 * (failure details, parent, execution, orchestration version, park reason), present only when they
 * have a value.
 */
export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: HistoryRow[];
  failureDetails?: FailureDetails;
  parentInstanceId?: string;
  executionId?: string;
  version?: string;
  parked?: ParkedPayload;
}

export interface ProjectionOptions {
  showInput: boolean;
  showHistory: boolean;
  showHistoryOutput: boolean;
}

function parkedPayload(p: ParkInfo): ParkedPayload {
  const out: ParkedPayload = { code: p.code, message: p.message, since: new Date(p.since).toISOString(), attempts: p.attempts };
  if (p.retryAt !== undefined) out.retryAt = new Date(p.retryAt).toISOString();
  return out;
}

/** The payload of an instance as storage holds it (with its history when asked). */
export function statusPayloadOf(r: InstanceRecord, history: readonly HistoryEvent[] | undefined, o: ProjectionOptions): StatusPayload {
  const p: StatusPayload = {
    name: r.name,
    instanceId: r.instanceId,
    runtimeStatus: r.runtimeStatus,
    input: o.showInput ? (parsePayload(r.input) ?? null) : null,
    customStatus: parsePayload(r.customStatus) ?? null,
    output: parsePayload(r.output) ?? null,
    createdTime: dfTime(r.createdAt),
    lastUpdatedTime: dfTime(r.lastUpdatedAt),
  };
  if (o.showHistory && history) p.historyEvents = projectHistory(history, o.showInput, o.showHistoryOutput);
  if (r.failureDetails) p.failureDetails = normalizeFailure(r.failureDetails);
  if (r.parentInstanceId) p.parentInstanceId = r.parentInstanceId;
  if (r.executionId) p.executionId = r.executionId;
  if (r.version) p.version = r.version;
  if (r.parked) p.parked = parkedPayload(r.parked);
  return p;
}

/**
 * The `historyEvents` projection of Durable Functions: PascalCase fields, event type names, no
 * OrchestratorStarted/Completed rows, scheduled rows merged into their completion rows (which gain
 * FunctionName, ScheduledTime and, with showInput, Input), results only with showHistoryOutput.
 * Entity requests and answers (Perdure's typed events) appear with their operation and request ID.
 */
export function projectHistory(stored: readonly HistoryEvent[], showInput: boolean, showOutput: boolean): HistoryRow[] {
  const events = readHistory(stored);
  const scheduled = new Map<number, HistoryEvent>();
  const answered = new Set<number>();
  for (const e of events) {
    if (e.type === "TaskScheduled" || e.type === "SubOrchestrationInstanceCreated") scheduled.set(e.eventId, e);
    if (e.type === "TaskCompleted" || e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceCompleted" || e.type === "SubOrchestrationInstanceFailed") {
      answered.add(e.taskScheduledId);
    }
  }
  const input = (text: string | undefined): HistoryRow => (showInput && text !== undefined ? { Input: parsePayload(text) } : {});
  const result = (text: string | undefined): HistoryRow => (showOutput && text !== undefined ? { Result: parsePayload(text) } : {});
  const failure = (f: FailureDetails): HistoryRow => ({ FailureDetails: { ErrorType: f.errorType, ErrorMessage: f.errorMessage, ...(f.code ? { Code: f.code } : {}) } });
  const out: HistoryRow[] = [];
  for (const e of events) {
    const base = { EventType: e.type, Timestamp: e.timestamp };
    switch (e.type) {
      case "OrchestratorStarted":
      case "OrchestratorCompleted":
      case "EntityCleanup":
        break;
      case "ExecutionStarted":
        out.push({ ...base, FunctionName: e.name, ...input(e.input) });
        break;
      case "ExecutionCompleted":
        out.push({ ...base, OrchestrationStatus: e.orchestrationStatus, ...result(e.result), ...(e.failureDetails ? failure(e.failureDetails) : {}) });
        break;
      case "ExecutionTerminated":
        out.push({ ...base, ...input(e.input) });
        break;
      case "ExecutionSuspended":
      case "ExecutionResumed":
      case "ExecutionRewound":
        out.push({ ...base, ...(e.reason !== undefined ? { Reason: e.reason } : {}) });
        break;
      case "TaskScheduled":
      case "SubOrchestrationInstanceCreated":
        if (answered.has(e.eventId)) break; // shown merged into its completion row
        out.push({ ...base, Name: e.name, ...(e.type === "SubOrchestrationInstanceCreated" ? { InstanceId: e.instanceId } : {}), ...input(e.input) });
        break;
      case "TaskCompleted":
      case "SubOrchestrationInstanceCompleted":
      case "TaskFailed":
      case "SubOrchestrationInstanceFailed": {
        const origin = scheduled.get(e.taskScheduledId);
        const merged: HistoryRow = { ...base };
        if (origin && (origin.type === "TaskScheduled" || origin.type === "SubOrchestrationInstanceCreated")) {
          merged.FunctionName = origin.name;
          merged.ScheduledTime = origin.timestamp;
          if (origin.type === "SubOrchestrationInstanceCreated") merged.InstanceId = origin.instanceId;
          Object.assign(merged, input(origin.input));
        }
        if (e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceFailed") {
          merged.Reason = e.reason;
          merged.Details = e.failureDetails.stackTrace ?? e.failureDetails.errorMessage;
          Object.assign(merged, failure(e.failureDetails));
        } else Object.assign(merged, result(e.result));
        out.push(merged);
        break;
      }
      case "TimerCreated":
      case "TimerFired":
        out.push({ ...base, FireAt: e.fireAt });
        break;
      case "EventRaised":
        out.push({ ...base, Name: e.name, ...input(e.input) });
        break;
      case "EventSent":
        out.push({ ...base, InstanceId: e.instanceId, Name: e.name, ...input(e.input) });
        break;
      case "EntityOperationCalled":
      case "EntityOperationSignaled":
        out.push({ ...base, InstanceId: e.targetInstanceId, Name: e.operation, RequestId: e.requestId, ...input(e.input), ...(e.type === "EntityOperationSignaled" && e.scheduledTime ? { ScheduledTime: e.scheduledTime } : {}) });
        break;
      case "EntityLockRequested":
        out.push({ ...base, InstanceId: e.targetInstanceId, LockSet: e.lockSet, RequestId: e.requestId });
        break;
      case "EntityUnlockSent":
        out.push({ ...base, InstanceId: e.targetInstanceId, RequestId: e.requestId });
        break;
      case "EntityOperationCompleted":
        out.push({ ...base, RequestId: e.requestId, ...result(e.result) });
        break;
      case "EntityOperationFailed":
        out.push({ ...base, RequestId: e.requestId, ...failure(e.failureDetails) });
        break;
      case "EntityLockGranted":
        out.push({ ...base, RequestId: e.requestId });
        break;
    }
  }
  return out;
}
