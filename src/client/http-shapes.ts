import type { HistoryEvent } from "../core/history.js";
import { parsePayload } from "../core/payload.js";
import type { DurableOrchestrationStatus } from "./status.js";

/** Durable Functions prints times without fractions: `yyyy-MM-ddTHH:mm:ssZ`. */
export function dfTime(d: Date | string | number): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The camelCase status payload of the management API. */
export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export function statusPayload(s: DurableOrchestrationStatus, historyEvents?: Record<string, unknown>[]): StatusPayload {
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
  if (historyEvents) p.historyEvents = historyEvents;
  return p;
}

/** Reads a status payload back (remote client): dates become Date objects again. */
export function statusFromPayload(p: StatusPayload): DurableOrchestrationStatus {
  return {
    name: p.name,
    instanceId: p.instanceId,
    runtimeStatus: p.runtimeStatus as DurableOrchestrationStatus["runtimeStatus"],
    input: p.input ?? null,
    customStatus: p.customStatus ?? null,
    output: p.output ?? null,
    createdTime: new Date(p.createdTime),
    lastUpdatedTime: new Date(p.lastUpdatedTime),
  };
}

/**
 * The `historyEvents` projection of Durable Functions: PascalCase fields, event type names, no
 * OrchestratorStarted/Completed rows, scheduled rows merged into their completion rows (which gain
 * FunctionName, ScheduledTime and, with showInput, Input), results only with showHistoryOutput.
 */
export function projectHistory(events: readonly HistoryEvent[], showInput: boolean, showOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const answered = new Set<number>();
  for (const e of events) {
    if (e.type === "TaskScheduled" || e.type === "SubOrchestrationInstanceCreated") scheduled.set(e.eventId, e);
    if (e.type === "TaskCompleted" || e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceCompleted" || e.type === "SubOrchestrationInstanceFailed") {
      answered.add(e.taskScheduledId);
    }
  }
  const input = (text: string | undefined): Record<string, unknown> => (showInput && text !== undefined ? { Input: parsePayload(text) } : {});
  const result = (text: string | undefined): Record<string, unknown> => (showOutput && text !== undefined ? { Result: parsePayload(text) } : {});
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    const base = { EventType: e.type, Timestamp: e.timestamp };
    switch (e.type) {
      case "OrchestratorStarted":
      case "OrchestratorCompleted":
        break;
      case "ExecutionStarted":
        out.push({ ...base, FunctionName: e.name, ...input(e.input) });
        break;
      case "ExecutionCompleted":
        out.push({
          ...base,
          OrchestrationStatus: e.orchestrationStatus,
          ...result(e.result),
          ...(e.failureDetails ? { FailureDetails: { ErrorType: e.failureDetails.errorType, ErrorMessage: e.failureDetails.message } } : {}),
        });
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
        const merged: Record<string, unknown> = { ...base };
        if (origin && (origin.type === "TaskScheduled" || origin.type === "SubOrchestrationInstanceCreated")) {
          merged.FunctionName = origin.name;
          merged.ScheduledTime = origin.timestamp;
          if (origin.type === "SubOrchestrationInstanceCreated") merged.InstanceId = origin.instanceId;
          Object.assign(merged, input(origin.input));
        }
        if (e.type === "TaskFailed" || e.type === "SubOrchestrationInstanceFailed") {
          merged.Reason = e.reason;
          merged.Details = e.failureDetails.stack ?? e.failureDetails.message;
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
    }
  }
  return out;
}
