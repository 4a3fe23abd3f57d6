import {
  DurableError,
  FunctionNotFoundError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  InvalidArgumentError,
  InvalidInstanceStateError,
  PayloadError,
  WaitTimeoutError,
} from "../core/errors.js";
import { EntityId } from "../core/entity-id.js";
import { serializePayload } from "../core/payload.js";
import { ALL_RUNTIME_STATUSES, isTerminalStatus } from "../core/status.js";
import type {
  DurableClient,
  OrchestrationFilter,
  PageRequest,
  PurgeFilterOptions,
  PurgeHistoryResult,
  RestartOptions,
  StartNewOptions,
  StatusPage,
  WaitOptions,
  WaitOrCheckStatusOptions,
  CleanEntityStorageResult,
  EntityMetadata,
  EntityPage,
  EntityQuery,
  EntityStateResponse,
  SignalEntityOptions,
} from "./durable-client.js";
import { createCheckStatus, type HttpEndpoint, httpManagementPayload, waitOrCheckStatus } from "./http-helpers.js";
import { type StatusPayload, statusFromPayload } from "./http-shapes.js";
import { validateEventName, validateInstanceId } from "../core/instance-id.js";
import { DEFAULT_TASK_HUB, type HttpManagementPayload, WEBHOOK_BASE_PATH } from "./management-urls.js";
import type { DurableOrchestrationStatus, GetStatusOptions, HistoryEventView } from "./status.js";

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
 * The DurableClient over the HTTP management API of a Perdure host (`perdure start`), for scripts,
 * other processes and tests. Same methods, same typed errors (same `code`s) as the in-process client.
 *
 * Differences that follow from HTTP: statuses carry no `failureDetails` or `parentInstanceId`
 * (the status payload has no such fields; a failed instance's message is in `output`), and
 * `history` (with `showHistory`) holds the rows of the API's `historyEvents` projection — scheduled
 * rows merged into their completion rows, no OrchestratorStarted/Completed rows, no `eventId` —
 * with their field names in camelCase (`EventType` becomes `type`, `Result` becomes `result`, ...).
 */
export class RemoteDurableClient implements DurableClient {
  /** The task hub named in management URLs. */
  readonly taskHubName: string;
  private readonly base: string;
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

  /** The host's base URL this client talks to. */
  get baseUrl(): string {
    return this.base;
  }

  private endpoint(): HttpEndpoint {
    return { origin: this.base, key: this.key, taskHub: this.taskHubName };
  }

  createHttpManagementPayload(instanceId: string, request?: Request): HttpManagementPayload {
    return httpManagementPayload(this.endpoint(), instanceId, request);
  }

  createCheckStatusResponse(request: Request | undefined, instanceId: string): Response {
    return createCheckStatus(this.endpoint(), request, instanceId);
  }

  waitForCompletionOrCreateCheckStatusResponse(request: Request | undefined, instanceId: string, options?: WaitOrCheckStatusOptions): Promise<Response> {
    return waitOrCheckStatus(this, this.endpoint(), request, instanceId, options);
  }

  async startNew(orchestratorFunctionName: string, options: StartNewOptions = {}): Promise<string> {
    if (typeof orchestratorFunctionName !== "string" || orchestratorFunctionName === "") throw new InvalidArgumentError("orchestratorFunctionName must be a valid string.");
    const segments = ["orchestrators", pathSafe(orchestratorFunctionName, "Function name")];
    if (options.instanceId !== undefined) segments.push(instanceIdOf(options.instanceId));
    const body = serializePayload(options.input, "The orchestration input");
    const answer = await this.request("POST", segments, { body: body ?? "" });
    if (answer.status !== 202 && answer.status !== 200) throw this.failure(answer, { instanceId: options.instanceId, functionName: orchestratorFunctionName });
    return this.payloadId(answer);
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<DurableOrchestrationStatus> {
    instanceIdOf(instanceId);
    const query: Record<string, string> = {};
    if (options.showHistory) query.showHistory = "true";
    if (options.showHistoryOutput) query.showHistoryOutput = "true";
    if (options.showInput === false) query.showInput = "false";
    const answer = await this.request("GET", ["instances", instanceId], { query });
    // 202 (still running) and 200 (finished) are both answers.
    if (answer.status !== 200 && answer.status !== 202) throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
    const payload = this.json<StatusPayload>(answer);
    const status = statusFromPayload(payload);
    if (options.showHistory && Array.isArray(payload.historyEvents)) status.history = payload.historyEvents.map(historyRow);
    return status;
  }

  async getStatusAll(): Promise<DurableOrchestrationStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(filter: OrchestrationFilter): Promise<DurableOrchestrationStatus[]> {
    const all: DurableOrchestrationStatus[] = [];
    let token: string | undefined;
    do {
      const page = await this.listInstances(token === undefined ? { ...filter, pageSize: 1000 } : { ...filter, pageSize: 1000, continuationToken: token });
      all.push(...page.instances);
      token = page.continuationToken;
    } while (token);
    return all;
  }

  async listInstances(request: PageRequest): Promise<StatusPage> {
    // An empty status list matches nothing (as in process); the HTTP API would read it as "no filter".
    if (request.runtimeStatus && request.runtimeStatus.length === 0) return { instances: [] };
    const query: Record<string, string> = {};
    if (request.runtimeStatus) {
      for (const s of request.runtimeStatus) {
        if (!ALL_RUNTIME_STATUSES.includes(s)) throw new InvalidArgumentError(`Unknown runtime status '${String(s)}'. Use one of: ${ALL_RUNTIME_STATUSES.join(", ")}.`);
      }
      if (request.runtimeStatus.length > 0) query.runtimeStatus = request.runtimeStatus.join(",");
    }
    if (request.createdTimeFrom) query.createdTimeFrom = isoDate(request.createdTimeFrom, "createdTimeFrom");
    if (request.createdTimeTo) query.createdTimeTo = isoDate(request.createdTimeTo, "createdTimeTo");
    if (request.instanceIdPrefix) query.instanceIdPrefix = request.instanceIdPrefix;
    if (request.showInput === false) query.showInput = "false";
    if (request.pageSize !== undefined) {
      if (!Number.isInteger(request.pageSize) || request.pageSize < 1) throw new InvalidArgumentError(`Page size must be a positive integer (got ${String(request.pageSize)}).`);
      query.top = String(request.pageSize);
    }
    const headers: Record<string, string> = {};
    if (request.continuationToken) {
      if (typeof request.continuationToken !== "string" || !HEADER_SAFE.test(request.continuationToken)) {
        throw new InvalidArgumentError("The continuation token is not valid. Pass back the token from a previous page unchanged, or omit it to start from the first page.");
      }
      headers["x-ms-continuation-token"] = request.continuationToken;
    }
    // "instances/" with the trailing slash, as Durable Functions' own client calls it.
    const answer = await this.request("GET", ["instances", ""], { query, headers });
    if (answer.status !== 200) throw this.failure(answer, {});
    const rows = this.json<StatusPayload[]>(answer);
    if (!Array.isArray(rows)) throw this.unexpected(answer);
    const page: StatusPage = { instances: rows.map(statusFromPayload) };
    const next = answer.headers.get("x-ms-continuation-token");
    if (next) page.continuationToken = next;
    return page;
  }

  /** Events for a finished instance are discarded (410 resolves, as in durable-functions). */
  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    validateEventName(eventName);
    instanceIdOf(instanceId);
    const body = serializePayload(eventData, `The data of event '${eventName}'`);
    const answer = await this.request("POST", ["instances", instanceId, "raiseEvent", eventName], { body: body ?? "" });
    if (answer.status === 202 || answer.status === 200 || answer.status === 410) return;
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    await this.operation(instanceId, "terminate", reason);
  }

  async suspend(instanceId: string, reason: string): Promise<void> {
    await this.operation(instanceId, "suspend", reason);
  }

  async resume(instanceId: string, reason: string): Promise<void> {
    await this.operation(instanceId, "resume", reason);
  }

  async rewind(instanceId: string, reason: string): Promise<void> {
    instanceIdOf(instanceId);
    const answer = await this.request("POST", ["instances", instanceId, "rewind"], { query: { reason: reasonText(reason) }, body: "" });
    if (answer.status === 202 || answer.status === 200) return;
    if (answer.status === 409 || answer.status === 410) {
      const server = errorMessage(answer);
      const base = "The rewind operation is only supported on failed orchestration instances.";
      throw new InvalidInstanceStateError(server && server !== base && !server.startsWith(base) ? `${base} ${server}` : (server ?? base));
    }
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    instanceIdOf(instanceId);
    const newId = options.restartWithNewInstanceId === false ? "false" : "true";
    const answer = await this.request("POST", ["instances", instanceId, "restart"], { query: { restartWithNewInstanceId: newId }, body: "" });
    if (answer.status === 202 || answer.status === 200) return this.payloadId(answer);
    // The API answers an unknown instance with 400 "InstanceId does not match a valid orchestration
    // instance." (as Durable Functions does); the ID was validated above, so that 400 means "not found".
    if (answer.status === 400 && errorCode(answer) === "INVALID_ARGUMENT") throw new InstanceNotFoundError(instanceId);
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  async purgeInstanceHistory(instanceId: string): Promise<PurgeHistoryResult> {
    instanceIdOf(instanceId);
    const answer = await this.request("DELETE", ["instances", instanceId], {});
    if (answer.status === 404 && isInstanceNotFound(answer)) return { instancesDeleted: 0 };
    if (answer.status !== 200) throw this.failure(answer, { instanceId });
    return { instancesDeleted: this.deletedCount(answer) };
  }

  async purgeInstanceHistoryBy(filter: PurgeFilterOptions): Promise<PurgeHistoryResult> {
    if (!filter || !(filter.createdTimeFrom instanceof Date)) throw new InvalidArgumentError("Please provide value for 'createdTimeFrom' parameter.");
    const query: Record<string, string> = { createdTimeFrom: isoDate(filter.createdTimeFrom, "createdTimeFrom") };
    if (filter.createdTimeTo) query.createdTimeTo = isoDate(filter.createdTimeTo, "createdTimeTo");
    // An empty status list matches nothing (as in process); the HTTP API would read it as "no filter".
    if (filter.runtimeStatus && filter.runtimeStatus.length === 0) return { instancesDeleted: 0 };
    if (filter.runtimeStatus) query.runtimeStatus = filter.runtimeStatus.join(",");
    const answer = await this.request("DELETE", ["instances", ""], { query });
    // 404 = nothing matched (Durable Functions' answer for zero purged instances).
    if (answer.status === 404 && isInstanceNotFound(answer)) return { instancesDeleted: 0 };
    if (answer.status !== 200) throw this.failure(answer, {});
    return { instancesDeleted: this.deletedCount(answer) };
  }

  async waitForCompletion(instanceId: string, options: WaitOptions = {}): Promise<DurableOrchestrationStatus> {
    const timeout = options.timeoutInMilliseconds ?? 60_000;
    const maxInterval = options.pollIntervalInMilliseconds ?? 50;
    let interval = Math.min(maxInterval, 5);
    const deadline = Date.now() + timeout;
    for (;;) {
      const status = await this.getStatus(instanceId, { showInput: false });
      if (isTerminalStatus(status.runtimeStatus)) return status;
      if (Date.now() >= deadline) throw new WaitTimeoutError(instanceId, timeout);
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
      interval = Math.min(maxInterval, interval * 2);
    }
  }

  // ---- plumbing ----

  /** terminate/suspend/resume: 202 done; 410 (already finished) resolves; 404 and 409 are typed errors. */
  // ---- entities ----

  async signalEntity(entityId: EntityId, operationName: string, operationInput?: unknown, options: SignalEntityOptions = {}): Promise<void> {
    const id = EntityId.from(entityId);
    if (typeof operationName !== "string" || operationName === "") throw new InvalidArgumentError("An entity operation name must be a non-empty string.");
    const body = serializePayload(operationInput, `The input of entity operation '${operationName}'`);
    const query: Record<string, string> = { op: operationName };
    if (options.signalTime !== undefined) query.signalTime = isoDate(options.signalTime, "signalTime");
    const answer = await this.request("POST", ["entities", id.name, id.key], { query, body: body ?? "" });
    if (answer.status === 202 || answer.status === 200) return;
    throw this.failure(answer, { functionName: id.name, functionKind: "entity" });
  }

  async readEntityState<T = unknown>(entityId: EntityId): Promise<EntityStateResponse<T>> {
    const id = EntityId.from(entityId);
    const answer = await this.request("GET", ["entities", id.name, id.key], {});
    if (answer.status === 404) return { entityExists: false };
    if (answer.status !== 200) throw this.failure(answer, {});
    return { entityExists: true, entityState: this.json<T>(answer) };
  }

  async listEntities(query: EntityQuery = {}): Promise<EntityPage> {
    const q: Record<string, string> = {};
    if (query.lastOperationTimeFrom) q.lastOperationTimeFrom = isoDate(query.lastOperationTimeFrom, "lastOperationTimeFrom");
    if (query.lastOperationTimeTo) q.lastOperationTimeTo = isoDate(query.lastOperationTimeTo, "lastOperationTimeTo");
    if (query.pageSize !== undefined) q.top = String(query.pageSize);
    if (query.fetchState) q.fetchState = "true";
    const headers: Record<string, string> = {};
    if (query.continuationToken) headers["x-ms-continuation-token"] = query.continuationToken;
    const answer = await this.request("GET", query.entityName ? ["entities", query.entityName] : ["entities"], { query: q, headers });
    if (answer.status !== 200) throw this.failure(answer, {});
    const rows = this.json<{ entityId: { name: string; key: string }; lastOperationTime: string; state?: unknown }[]>(answer);
    if (!Array.isArray(rows)) throw this.unexpected(answer);
    const page: EntityPage = {
      entities: rows.map((r) => {
        const meta: EntityMetadata = { entityId: new EntityId(r.entityId.name, r.entityId.key), lastOperationTime: new Date(r.lastOperationTime) };
        if ("state" in r) meta.state = r.state;
        return meta;
      }),
    };
    const next = answer.headers.get("x-ms-continuation-token");
    if (next) page.continuationToken = next;
    return page;
  }

  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    const answer = await this.request("POST", ["entities"], { body: "" });
    if (answer.status !== 200) throw this.failure(answer, {});
    return this.json<CleanEntityStorageResult>(answer);
  }

  private async operation(instanceId: string, op: "terminate" | "suspend" | "resume", reason: string): Promise<void> {
    instanceIdOf(instanceId);
    const answer = await this.request("POST", ["instances", instanceId, op], { query: { reason: reasonText(reason) }, body: "" });
    if (answer.status === 202 || answer.status === 200 || answer.status === 410) return;
    throw this.failure(answer, { instanceId, notFoundWithoutBody: true });
  }

  private async request(
    method: string,
    segments: string[],
    options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string },
  ): Promise<Answer> {
    const path = segments.map((s) => encodeURIComponent(s)).join("/");
    const search = options.query && Object.keys(options.query).length > 0 ? `?${new URLSearchParams(options.query).toString()}` : "";
    const url = `${this.base}${WEBHOOK_BASE_PATH}/${path}${search}`;
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
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

function instanceIdOf(id: unknown): string {
  return validateInstanceId(id);
}

function reasonText(reason: unknown): string {
  if (typeof reason === "string") return reason;
  return reason === undefined || reason === null ? "" : (JSON.stringify(reason) ?? "");
}

function isoDate(d: Date, what: string): string {
  const t = d instanceof Date ? d.getTime() : NaN;
  if (Number.isNaN(t)) throw new InvalidArgumentError(`${what} must be a valid Date.`);
  return d.toISOString();
}

const camel = (k: string): string => (k === "EventType" ? "type" : k.charAt(0).toLowerCase() + k.slice(1));

/** One `historyEvents` row with camelCase field names; payloads (`Input`, `Result`) are left as they are. */
function historyRow(row: Record<string, unknown>): HistoryEventView {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === "FailureDetails" && v && typeof v === "object") {
      const f = v as { ErrorType?: unknown; ErrorMessage?: unknown };
      out.failureDetails = { errorType: f.ErrorType, message: f.ErrorMessage };
    } else {
      out[camel(k)] = v;
    }
  }
  return out as HistoryEventView;
}
