/**
 * The dashboard's only way to the data: the host's HTTP management API (so it works against any host
 * of a fleet behind a load balancer). Every request carries the session's key in a header.
 */
import type { HistoryEvent } from "../core/history.js";
import { storedKey } from "./session.js";

export const STATUSES = ["Running", "Pending", "Suspended", "ContinuedAsNew", "Completed", "Failed", "Terminated", "Canceled"] as const;
export type RuntimeStatus = (typeof STATUSES)[number];
export const FINISHED: ReadonlySet<string> = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

export interface FailureDetails {
  errorType: string;
  errorMessage: string;
  stackTrace?: string;
  innerFailure?: FailureDetails;
  isNonRetriable?: boolean;
  code?: string;
}

export interface Parked {
  code: string;
  message: string;
  since: string;
  attempts: number;
  retryAt?: string;
}

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  executionId?: string;
  parentInstanceId?: string;
  /** The orchestration version the instance was started with; absent for none. */
  version?: string;
  failureDetails?: FailureDetails;
  parked?: Parked;
}

export interface EntityRow {
  entityId: { name: string; key: string };
  lastOperationTime: string;
  state?: unknown;
}

export interface Page<T> {
  items: T[];
  continuationToken: string | undefined;
}

export interface InstanceFilter {
  runtimeStatus?: string[];
  name?: string;
  instanceIdPrefix?: string;
  version?: string;
  createdTimeFrom?: string;
  createdTimeTo?: string;
}

/** An answer other than 2xx, with the API's stable error code when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The management API's base path, next to wherever the dashboard is mounted (a proxy may add a prefix). */
function apiBase(): string {
  const mount = location.pathname.replace(/\/dashboard(\/.*)?$/, "");
  return `${mount}/runtime/webhooks/durabletask`;
}

const seg = encodeURIComponent;

async function request(method: string, path: string, options: { query?: Record<string, string | undefined>; json?: string; token?: string } = {}): Promise<Response> {
  const url = new URL(apiBase() + path, location.origin);
  for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: "application/json" };
  const key = storedKey();
  if (key !== undefined) headers["x-functions-key"] = key;
  if (options.token) headers["x-ms-continuation-token"] = options.token;
  if (options.json !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: options.json ?? null, cache: "no-store", credentials: "omit" });
  } catch (err) {
    throw new ApiError(0, "NETWORK", `The host did not answer (${(err as Error).message}).`);
  }
  if (res.status >= 400) {
    let code = `HTTP_${res.status}`;
    let message = `${method} ${path} answered ${res.status}.`;
    try {
      const e = (await res.json()) as { code?: string; message?: string; error?: { code?: string; message?: string } };
      code = e.code ?? e.error?.code ?? code;
      message = e.message ?? e.error?.message ?? message;
    } catch {
      // Not a JSON error body (a proxy's page): the status says enough.
    }
    unauthorizedListener?.(res.status === 401);
    throw new ApiError(res.status, code, message);
  }
  return res;
}

let unauthorizedListener: ((unauthorized: boolean) => void) | undefined;

/** Told whenever the host refuses the key (or there is none and the host wants one). */
export function onUnauthorized(listener: (unauthorized: boolean) => void): void {
  unauthorizedListener = listener;
}

function filterQuery(f: InstanceFilter): Record<string, string | undefined> {
  return {
    runtimeStatus: f.runtimeStatus && f.runtimeStatus.length > 0 ? f.runtimeStatus.join(",") : undefined,
    name: f.name,
    instanceIdPrefix: f.instanceIdPrefix,
    version: f.version,
    createdTimeFrom: f.createdTimeFrom,
    createdTimeTo: f.createdTimeTo,
  };
}

export const api = {
  async listInstances(filter: InstanceFilter, top: number, token?: string): Promise<Page<InstanceStatus>> {
    const res = await request("GET", "/instances", { query: { ...filterQuery(filter), top: String(top), showInput: "false" }, ...(token ? { token } : {}) });
    return { items: (await res.json()) as InstanceStatus[], continuationToken: res.headers.get("x-ms-continuation-token") ?? undefined };
  },
  async countInstances(filter: InstanceFilter): Promise<Record<RuntimeStatus, number>> {
    const res = await request("GET", "/counts", { query: filterQuery(filter) });
    return (await res.json()) as Record<RuntimeStatus, number>;
  },
  async getInstance(id: string): Promise<InstanceStatus> {
    const res = await request("GET", `/instances/${seg(id)}`, { query: { showInput: "true" } });
    return (await res.json()) as InstanceStatus;
  },
  async historyPage(id: string, from: number, limit: number): Promise<{ events: HistoryEvent[]; nextFrom?: number }> {
    const res = await request("GET", `/instances/${seg(id)}/history`, { query: { from: String(from), limit: String(limit) } });
    return (await res.json()) as { events: HistoryEvent[]; nextFrom?: number };
  },
  async raiseEvent(id: string, name: string, data: unknown): Promise<void> {
    await request("POST", `/instances/${seg(id)}/raiseEvent/${seg(name)}`, { json: data === undefined ? "" : JSON.stringify(data) });
  },
  async control(id: string, action: "terminate" | "suspend" | "resume" | "rewind", reason: string): Promise<void> {
    await request("POST", `/instances/${seg(id)}/${action}`, { query: { reason } });
  },
  async restart(id: string, newInstanceId: boolean): Promise<string> {
    const res = await request("POST", `/instances/${seg(id)}/restart`, { query: { restartWithNewInstanceId: String(newInstanceId) } });
    return ((await res.json()) as { id: string }).id;
  },
  async purge(id: string): Promise<void> {
    await request("DELETE", `/instances/${seg(id)}`);
  },
  async listEntities(filter: { name?: string; from?: string; to?: string }, top: number, token?: string): Promise<Page<EntityRow>> {
    const path = filter.name ? `/entities/${seg(filter.name)}` : "/entities";
    const res = await request("GET", path, {
      query: { top: String(top), fetchState: "true", lastOperationTimeFrom: filter.from, lastOperationTimeTo: filter.to },
      ...(token ? { token } : {}),
    });
    return { items: (await res.json()) as EntityRow[], continuationToken: res.headers.get("x-ms-continuation-token") ?? undefined };
  },
  async getEntity(name: string, key: string): Promise<unknown> {
    const res = await request("GET", `/entities/${seg(name)}/${seg(key)}`);
    return (await res.json()) as unknown;
  },
  async signalEntity(name: string, key: string, op: string, input: unknown): Promise<void> {
    await request("POST", `/entities/${seg(name)}/${seg(key)}`, { query: { op }, ...(input === undefined ? {} : { json: JSON.stringify(input) }) });
  },
  async deleteEntity(name: string, key: string): Promise<void> {
    await request("DELETE", `/entities/${seg(name)}/${seg(key)}`);
  },
};
