import { HttpResponse } from "../runtime/http-messages.js";

/** The task hub name reported in management URLs unless the host names another. */
export const DEFAULT_TASK_HUB = "perdure";

/** Where the Durable Functions management webhooks live on a Perdure host. */
export const WEBHOOK_BASE_PATH = "/runtime/webhooks/durabletask";

/** The URL set Durable Functions hands to callers for one instance (`createHttpManagementPayload`). */
export interface HttpManagementPayload {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

export interface ManagementUrlOptions {
  /** Scheme, host and port the caller used, e.g. `http://127.0.0.1:7071`. */
  origin: string;
  /** The management key; when set, every URL carries it as `code=`. */
  key?: string | undefined;
  /** Reported as `taskHub=` for fidelity with Durable Functions URLs. */
  taskHub: string;
}

function suffix(o: ManagementUrlOptions): string {
  const q = new URLSearchParams({ taskHub: o.taskHub, connection: "Storage" });
  if (o.key) q.set("code", o.key);
  return q.toString();
}

/**
 * Builds the management URLs for an instance, in the exact shape of Durable Functions (literal
 * `{eventName}` and `{text}` placeholders included), so existing clients can follow them.
 */
export function managementPayload(instanceId: string, o: ManagementUrlOptions): HttpManagementPayload {
  const base = `${o.origin.replace(/\/$/, "")}${WEBHOOK_BASE_PATH}/instances/${encodeURIComponent(instanceId)}`;
  const s = suffix(o);
  return {
    id: instanceId,
    statusQueryGetUri: `${base}?${s}`,
    sendEventPostUri: `${base}/raiseEvent/{eventName}?${s}`,
    terminatePostUri: `${base}/terminate?reason={text}&${s}`,
    rewindPostUri: `${base}/rewind?reason={text}&${s}`,
    purgeHistoryDeleteUri: `${base}?${s}`,
    restartPostUri: `${base}/restart?${s}`,
    suspendPostUri: `${base}/suspend?reason={text}&${s}`,
    resumePostUri: `${base}/resume?reason={text}&${s}`,
  };
}

/** The 202 answer of a start: the payload, `Location` = status URL, `Retry-After: 10`. */
export function checkStatusResponse(instanceId: string, o: ManagementUrlOptions): HttpResponse {
  const payload = managementPayload(instanceId, o);
  return new HttpResponse({
    status: 202,
    jsonBody: payload,
    headers: { "content-type": "application/json; charset=utf-8", location: payload.statusQueryGetUri, "retry-after": "10" },
  });
}
