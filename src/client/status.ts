import type { FailureDetails } from "../core/failure.js";
import type { HistoryEvent } from "../core/history.js";
import { parsePayload } from "../core/payload.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { InstanceRecord } from "../providers/provider.js";

/** The status object of durable-functions' DurableClient.getStatus. */
export interface DurableOrchestrationStatus {
  name: string;
  instanceId: string;
  createdTime: Date;
  lastUpdatedTime: Date;
  input: unknown;
  output: unknown;
  runtimeStatus: OrchestrationRuntimeStatus;
  customStatus: unknown;
  /** Structured failure of a Failed instance (type, message, stack). */
  failureDetails?: FailureDetails;
  parentInstanceId?: string;
  /** With showHistory: the current execution's history, payloads parsed. */
  history?: HistoryEventView[];
}

type Viewed<E> = E extends HistoryEvent ? Omit<E, "input" | "result"> & { input?: unknown; result?: unknown } : never;
/** A history event with its payloads parsed (distributed over the union, so `type` still narrows). */
export type HistoryEventView = Viewed<HistoryEvent>;

export interface GetStatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  /** Default true, as in Durable Functions. */
  showInput?: boolean;
}

export function toStatus(r: InstanceRecord, showInput: boolean): DurableOrchestrationStatus {
  const s: DurableOrchestrationStatus = {
    name: r.name,
    instanceId: r.instanceId,
    createdTime: new Date(r.createdAt),
    lastUpdatedTime: new Date(r.lastUpdatedAt),
    input: showInput ? (parsePayload(r.input) ?? null) : null,
    output: parsePayload(r.output) ?? null,
    runtimeStatus: r.runtimeStatus,
    customStatus: parsePayload(r.customStatus) ?? null,
  };
  if (r.failureDetails) s.failureDetails = r.failureDetails;
  if (r.parentInstanceId) s.parentInstanceId = r.parentInstanceId;
  return s;
}

/** Payloads parsed; inputs only with showInput, results only with showHistoryOutput. */
export function toHistoryView(events: HistoryEvent[], showInput: boolean, showOutput: boolean): HistoryEventView[] {
  return events.map((e) => {
    const v: Record<string, unknown> = { ...e };
    if ("input" in e) {
      if (showInput) v.input = parsePayload(e.input);
      else delete v.input;
    }
    if ("result" in e) {
      if (showOutput) v.result = parsePayload(e.result);
      else delete v.result;
    }
    return v as HistoryEventView;
  });
}
