import type { HistoryEvent } from "../core/history.js";
import {
  DurableError,
  FunctionNotFoundError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  InvalidArgumentError,
  InvalidInstanceStateError,
  PayloadError,
} from "../core/errors.js";
import type { EntityId } from "../core/entity-id.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import { DurableClientCore } from "./client-core.js";
import type { CleanEntityStorageResult } from "./durable-client.js";
import type { HttpEndpoint } from "./http-helpers.js";
import { DEFAULT_TASK_HUB, WEBHOOK_BASE_PATH } from "./management-urls.js";
import type { ClientTransport, ControlOperation, EntityListQuery, EntityRow, InstanceCountQuery, InstanceListQuery, InstanceWatch } from "./transport.js";
import { traceHeaders } from "../runtime/telemetry.js";
import type { StatusPayload } from "./wire.js";

export interface RemoteClientOptions {
  /** The host's management key; sent in the `x-functions-key` header (never in a request URL) and put in the management URLs. */
  key?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Reported as `taskHub=` in management URLs (default "perdure", as the host). */
  taskHub?: string;
}

/**
 * A non-success answer the client has no typed error for: an unexpected status, or no answer at all
 * (`status` undefined). The message follows durable-functions: "The operation failed with an
 * unexpected status code: <n>. Details: <body>".
 */
export class RemoteHttpError extends DurableError {
  constructor(
    readonly status: number | undefined,
    readonly body: string,
    message: string,
  ) {
    super("HTTP_ERROR", message);
  }
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

interface ErrorBody {
  Message?: unknown;
  error?: { code?: unknown; message?: unknown };
}

const MAX_DETAILS = 2000;
// Visible ASCII only: anything else cannot travel in an HTTP header.
const HEADER_SAFE = /^[\x21-\x7e]*$/;

/**
 * The client transport over the HTTP management API of a Perdure host (`perdure start`): the same
 * requests as in process, as HTTP calls, with the server's error codes mapped back to the same typed
 * errors. Nothing wakes a wait early over HTTP: waits poll.
 */
export class RemoteTransport implements ClientTransport {
  /** The task hub named in management URLs. */
  readonly taskHubName: string;
  readonly base: string;
  private readonly key: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(baseUrl: string, options: RemoteClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new InvalidArgumentError(`The base URL ${JSON.stringify(baseUrl)} is not a valid URL; pass the host's URL, such as http://127.0.0.1:7071.`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError(`The base URL must be http: or https: (got ${url.protocol}).`);
    if (url.search || url.hash || url.username || url.password) {
      throw new InvalidArgumentError("The base URL must not carry a query, fragment or credentials; pass the key as the `key` option.");
    }
    // Accept the host's URL, a URL under a path prefix (reverse proxy) or the webhook base itself.
    let path = url.pathname.replace(/\/+$/, "");
    if (path.endsWith(WEBHOOK_BASE_PATH)) path = path.slice(0, -WEBHOOK_BASE_PATH.length);
    this.base = `${url.origin}${path}`;
    const key = options.key === "" ? undefined : options.key;
    if (key !== undefined && (typeof key !== "string" || !HEADER_SAFE.test(key))) {
      throw new InvalidArgumentError("The management key must be a string of visible ASCII characters (it travels in the x-functions-key header).");
    }
    this.key = key;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.taskHubName = options.taskHub ?? DEFAULT_TASK_HUB;
  }

  endpoint(): HttpEndpoint {
    return { origin: this.base, key: this.key, taskHub: this.taskHubName };
  }

  async startNew(name: string, instanceId: string | undefined, input: string | undefined, version?: string): Promise<string> {
    const segments = ["orchestrators", pathSafe(name, "Function name")];
    if (instanceId !== undefined) segments.push(instanceId);
    const answer = await this.request("POST", segments, { body: input ?? "", ...(version !== undefined ? { query: { version } } : {}) });
    if (answer.status !== 202 && answer.status !== 200) throw this.failure(answer, { instanceId, functionName: name });
    return this.payloadId(answer);
  }

  async getStatus(instanceId: string, o: { showHistory: boolean; showHistoryOutput: boolean; showInput: boolean }): Promise<StatusPayload | undefined> {
    const query: Record<string, string> = {};
    if (o.showHistory) query.showHistory = "true";
    if (o.showHistoryOutput) query.showHistoryOutput = "true";
    if (!o.showInput) query.showInput = "false";
    const answer = await this.request("GET", ["instances", instanceId], { query });
    // 202 (still running) and 200 (finished) are both answers.
    if (answer.status === 200 || answer.status === 202) return this.json<StatusPayload>(answer);
    if (answer.status === 404 && isInstanceNotFound(answer)) return undefined;
    throw this.failure(answer, { instanceId });
  }

  /** Up to `limit` events from `from`, in as many requests as the route's page size (5,000) takes. */
  async historyPage(instanceId: string, from: number, limit: number): Promise<HistoryEvent[] | undefined> {
    const events: HistoryEvent[] = [];
    let at = from;
    while (events.length < limit) {
      const want = Math.min(HISTORY_ROUTE_MAX_LIMIT, limit - events.length);
      const answer = await this.request("GET", ["instances", instanceId, "history"], { query: { from: String(at), limit: String(want) } });
      if (answer.status === 404 && isInstanceNotFound(answer)) return undefined;
      if (answer.status !== 200) throw this.failure(answer, { instanceId });
      const page = this.json<{ events?: unknown; nextFrom?: unknown }>(answer);
      if (!page || !Array.isArray(page.events)) throw this.unexpected(answer);
      events.push(...(page.events as HistoryEvent[]));
      if (typeof page.nextFrom !== "number" || page.events.length === 0) break;
      at = page.nextFrom;
    }
    return events;
  }

  async countInstances(q: InstanceCountQuery): Promise<Partial<Record<OrchestrationRuntimeStatus, number>>> {
    const query: Record<string, string> = {};
    if (q.runtimeStatus && q.runtimeStatus.length > 0) query.runtimeStatus = q.runtimeStatus.join(",");
    if (q.createdTimeFrom) query.createdTimeFrom = q.createdTimeFrom.toISOString();
    if (q.createdTimeTo) query.createdTimeTo = q.createdTimeTo.toISOString();
    if (q.instanceIdPrefix) query.instanceIdPrefix = q.instanceIdPrefix;
    if (q.name) query.name = q.name;
    if (q.version) query.version = q.version;
    const answer = await this.request("GET", ["counts"], { query });
    if (answer.status !== 200) throw this.failure(answer, {});
    const counts = this.json<Partial<Record<OrchestrationRuntimeStatus, number>>>(answer);
    if (!counts || typeof counts !== "object" || Array.isArray(counts)) throw this.unexpected(answer);
    return counts;
  }

  async listInstances(q: InstanceListQuery): Promise<{ rows: StatusPayload[]; continuationToken?: string }> {
    const query: Record<string, string> = { top: String(q.pageSize) };
    if (q.runtimeStatus && q.runtimeStatus.length > 0) query.runtimeStatus = q.runtimeStatus.join(",");
    if (q.createdTimeFrom) query.createdTimeFrom = q.createdTimeFrom.toISOString();
    if (q.createdTimeTo) query.createdTimeTo = q.createdTimeTo.toISOString();
    if (q.instanceIdPrefix) query.instanceIdPrefix = q.instanceIdPrefix;
    if (q.name) query.name = q.name;
    if (q.version) query.version = q.version;
    if (!q.showInput) query.showInput = "false";
    const headers: Record<string, string> = q.continuationToken ? { "x-ms-continuation-token": q.continuationToken } : {};
    // "instances/" with the trailing slash, as Durable Functions' own client calls it.
    const answer = await this.request("GET", ["instances", ""], { query, headers });
    if (answer.status !== 200) throw this.failure(answer, {});
    const rows = this.json<StatusPayload[]>(answer);
    if (!Array.isArray(rows)) throw this.unexpected(answer);
    const next = answer.headers.get("x-ms-continuation-token");
    return next ? { rows, continuationToken: next } : { rows };
  }

  async raiseEvent(instanceId: string, eventName: string, input: string | undefined): Promise<void> {
    const answer = await this.request("POST", ["instances", instanceId, "raiseEvent", eventName], { body: input ?? "" });
    // 410: the instance has finished; the event is discarded, as durable-functions does.
    if (answer.status === 202 || answer.status === 200 || answer.status === 410) return;
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async control(instanceId: string, op: ControlOperation, reason: string): Promise<void> {
    const answer = await this.request("POST", ["instances", instanceId, op], { query: { reason }, body: "" });
    if (answer.status === 202 || answer.status === 200) return;
    if (op === "rewind" && (answer.status === 409 || answer.status === 410)) {
      // As durable-functions words it, with the server's reason when it adds one.
      const server = errorMessage(answer);
      const base = "The rewind operation is only supported on failed orchestration instances.";
      throw new InvalidInstanceStateError(this.scrub(server && !server.startsWith(base.slice(0, -1)) ? `${base} ${server}` : (server ?? base)));
    }
    if (answer.status === 410) return;
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async restart(instanceId: string, newInstanceId: boolean): Promise<string> {
    const answer = await this.request("POST", ["instances", instanceId, "restart"], { query: { restartWithNewInstanceId: String(newInstanceId) }, body: "" });
    if (answer.status === 202 || answer.status === 200) return this.payloadId(answer);
    // The API answers an unknown instance with 400 "InstanceId does not match a valid orchestration
    // instance." (as Durable Functions does); the ID was validated, so that 400 means "not found".
    if (answer.status === 400 && errorCode(answer) === "INVALID_ARGUMENT") throw new InstanceNotFoundError(instanceId);
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async purge(instanceId: string): Promise<number> {
    const answer = await this.request("DELETE", ["instances", instanceId], {});
    if (answer.status === 404 && isInstanceNotFound(answer)) return 0;
    if (answer.status !== 200) throw this.failure(answer, { instanceId });
    return this.deletedCount(answer);
  }

  async purgeBy(f: { createdTimeFrom: Date; createdTimeTo?: Date; runtimeStatus?: OrchestrationRuntimeStatus[] }): Promise<number> {
    const query: Record<string, string> = { createdTimeFrom: f.createdTimeFrom.toISOString() };
    if (f.createdTimeTo) query.createdTimeTo = f.createdTimeTo.toISOString();
    if (f.runtimeStatus) query.runtimeStatus = f.runtimeStatus.join(",");
    const answer = await this.request("DELETE", ["instances", ""], { query });
    // 404 = nothing matched (Durable Functions' answer for zero purged instances).
    if (answer.status === 404 && isInstanceNotFound(answer)) return 0;
    if (answer.status !== 200) throw this.failure(answer, {});
    return this.deletedCount(answer);
  }

  async signalEntity(id: EntityId, operation: string, input: string | undefined, signalTime: Date | undefined): Promise<void> {
    const query: Record<string, string> = { op: operation };
    if (signalTime) query.signalTime = signalTime.toISOString();
    const answer = await this.request("POST", ["entities", id.name, id.key], { query, body: input ?? "" });
    if (answer.status === 202 || answer.status === 200) return;
    throw this.failure(answer, { functionName: id.name, functionKind: "entity" });
  }

  async readEntityState(id: EntityId): Promise<{ entityExists: boolean; entityState?: unknown }> {
    const answer = await this.request("GET", ["entities", id.name, id.key], {});
    if (answer.status === 404) return { entityExists: false };
    if (answer.status !== 200) throw this.failure(answer, {});
    return { entityExists: true, entityState: this.json<unknown>(answer) };
  }

  async listEntities(q: EntityListQuery): Promise<{ rows: EntityRow[]; continuationToken?: string }> {
    const query: Record<string, string> = { top: String(q.pageSize) };
    if (q.lastOperationTimeFrom) query.lastOperationTimeFrom = q.lastOperationTimeFrom.toISOString();
    if (q.lastOperationTimeTo) query.lastOperationTimeTo = q.lastOperationTimeTo.toISOString();
    if (q.fetchState) query.fetchState = "true";
    const headers: Record<string, string> = q.continuationToken ? { "x-ms-continuation-token": q.continuationToken } : {};
    const answer = await this.request("GET", q.entityName ? ["entities", q.entityName] : ["entities"], { query, headers });
    if (answer.status !== 200) throw this.failure(answer, {});
    const rows = this.json<EntityRow[]>(answer);
    if (!Array.isArray(rows)) throw this.unexpected(answer);
    const next = answer.headers.get("x-ms-continuation-token");
    return next ? { rows, continuationToken: next } : { rows };
  }

  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    const answer = await this.request("POST", ["entities"], { body: "" });
    if (answer.status !== 200) throw this.failure(answer, {});
    return this.json<CleanEntityStorageResult>(answer);
  }

  /** Over HTTP nothing announces a change: a watch only waits, and the caller polls. */
  watch(): InstanceWatch {
    const timers = new Set<NodeJS.Timeout>();
    return {
      pushes: false,
      next: (timeoutMs) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, timeoutMs);
          timers.add(t);
        }),
      close: () => {
        for (const t of timers) clearTimeout(t);
      },
    };
  }

  private async request(
    method: string,
    segments: string[],
    options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string },
  ): Promise<Answer> {
    const path = segments.map((s) => encodeURIComponent(s)).join("/");
    const search = options.query && Object.keys(options.query).length > 0 ? `?${new URLSearchParams(options.query).toString()}` : "";
    const url = `${this.base}${WEBHOOK_BASE_PATH}/${path}${search}`;
    const headers: Record<string, string> = { accept: "application/json", ...traceHeaders(), ...options.headers };
    if (this.key !== undefined) headers["x-functions-key"] = this.key;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) });
    } catch (err) {
      const cause = err as Error & { cause?: { code?: unknown; message?: unknown } };
      const detail = typeof cause.cause?.code === "string" ? cause.cause.code : typeof cause.cause?.message === "string" ? cause.cause.message : cause.message;
      throw new RemoteHttpError(undefined, "", this.scrub(`Could not reach the Perdure host at ${this.base} (${method} ${WEBHOOK_BASE_PATH}/${path}): ${String(detail)}.`));
    }
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  }

  private json<T>(answer: Answer): T {
    try {
      return JSON.parse(answer.text) as T;
    } catch {
      throw this.unexpected(answer);
    }
  }

  private payloadId(answer: Answer): string {
    const payload = this.json<{ id?: unknown }>(answer);
    if (!payload || typeof payload.id !== "string") throw this.unexpected(answer);
    return payload.id;
  }

  private deletedCount(answer: Answer): number {
    const body = this.json<{ instancesDeleted?: unknown }>(answer);
    if (!body || typeof body.instancesDeleted !== "number") throw this.unexpected(answer);
    return body.instancesDeleted;
  }

  private unexpected(answer: Answer): RemoteHttpError {
    const details = this.scrub(answer.text.length > MAX_DETAILS ? `${answer.text.slice(0, MAX_DETAILS)}…` : answer.text);
    return new RemoteHttpError(answer.status, details, `The operation failed with an unexpected status code: ${answer.status}. Details: ${details}`);
  }

  /** Maps the server's error body back to the typed errors of the in-process client, keeping the server's message. */
  private failure(
    answer: Answer,
    context: { instanceId?: string | undefined; functionName?: string; functionKind?: "orchestrator" | "entity"; notFoundWithoutBody?: boolean },
  ): DurableError {
    const code = errorCode(answer);
    const message = errorMessage(answer);
    const keep = <E extends DurableError>(err: E): E => {
      if (message) err.message = this.scrub(message);
      return err;
    };
    switch (code) {
      case "INSTANCE_NOT_FOUND":
        return keep(new InstanceNotFoundError(context.instanceId ?? ""));
      case "INSTANCE_ALREADY_EXISTS":
        return keep(new InstanceAlreadyExistsError(context.instanceId ?? "", "unknown"));
      case "FUNCTION_NOT_FOUND":
        return keep(new FunctionNotFoundError(context.functionKind ?? "orchestrator", context.functionName ?? "", []));
      case "INVALID_INSTANCE_STATE":
        return new InvalidInstanceStateError(this.scrub(message ?? "The instance is not in a state that allows this operation."));
      case "PAYLOAD_NOT_SERIALIZABLE":
        return new PayloadError(this.scrub(message ?? "The payload is not JSON-serializable."));
      case "INVALID_ARGUMENT":
      case "INVALID_QUERY_PARAMETER":
      case "INVALID_JSON":
      case "UNSUPPORTED_CONTENT_TYPE":
      case "BAD_REQUEST":
        return new InvalidArgumentError(this.scrub(message ?? "One or more of the arguments submitted is incorrect."));
      case "UNAUTHORIZED":
        return new DurableError("UNAUTHORIZED", this.scrub(message ?? "The management key was refused."));
    }
    if (code === undefined) {
      // Bodyless answers (a proxy, or a Durable Functions host): 404 on an instance route means not found.
      if (answer.status === 404 && context.notFoundWithoutBody && answer.text.trim() === "" && context.instanceId !== undefined) return new InstanceNotFoundError(context.instanceId);
      if (answer.status === 401) return new DurableError("UNAUTHORIZED", "The host refused the request (401 Unauthorized): pass the right management key.");
    }
    return this.unexpected(answer);
  }

  /** Keeps the key out of every message, whatever a server or proxy echoes back (as a whole token, so a key "k" leaves "token" alone). */
  private scrub(text: string): string {
    if (!this.key) return text;
    const escaped = this.key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return text.replace(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, "g"), "***");
  }
}

/**
 * The DurableClient over the HTTP management API of a Perdure host (`perdure start`), for scripts,
 * other processes and tests: the same methods, typed errors (same `code`s) and returned objects as
 * the in-process client, because both are the same client core over another transport.
 */
export class RemoteDurableClient extends DurableClientCore {
  constructor(baseUrl: string, options: RemoteClientOptions = {}) {
    super(new RemoteTransport(baseUrl, options));
  }

  /** The host's base URL this client talks to. */
  get baseUrl(): string {
    return (this.transport as RemoteTransport).base;
  }

  /** The task hub named in management URLs. */
  get taskHubName(): string {
    return (this.transport as RemoteTransport).taskHubName;
  }
}

/** The most events the history route answers at once. */
const HISTORY_ROUTE_MAX_LIMIT = 5_000;

export function createRemoteClient(baseUrl: string, options?: RemoteClientOptions): RemoteDurableClient {
  return new RemoteDurableClient(baseUrl, options);
}

function parseError(answer: Answer): ErrorBody | undefined {
  try {
    const v = JSON.parse(answer.text) as unknown;
    return v && typeof v === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}

function errorCode(answer: Answer): string | undefined {
  const code = parseError(answer)?.error?.code;
  return typeof code === "string" ? code : undefined;
}

function errorMessage(answer: Answer): string | undefined {
  const body = parseError(answer);
  const m = body?.error?.message ?? body?.Message;
  return typeof m === "string" && m !== "" ? m : undefined;
}

/** 404 from an instance route: the instance is unknown (not a missing route, which is NOT_FOUND). */
function isInstanceNotFound(answer: Answer): boolean {
  const code = errorCode(answer);
  return code === "INSTANCE_NOT_FOUND" || (code === undefined && answer.text.trim() === "");
}

/**
 * URLs treat "." and ".." path segments as relative references (even percent-encoded), so such a
 * name would reach another route: refuse it before sending anything.
 */
function pathSafe(value: string, what: string): string {
  if (value === "." || value === "..") {
    throw new InvalidArgumentError(`${what} '${value}' cannot be addressed over HTTP: URLs read '.' and '..' path segments as relative references. Use another ${what.toLowerCase()}.`);
  }
  return value;
}

