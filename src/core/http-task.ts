import { InvalidArgumentError, PayloadError } from "./errors.js";
import { ActivityTask, type AtomicTask, CompoundTask, type Task, type TaskScheduler, TimerTask } from "./tasks.js";

/** The built-in activity that performs the requests of `context.df.callHttp` on a worker. */
export const HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity";
/** Delay between polls of a 202 response that carries no valid `Retry-After` (Durable Functions' default). */
export const DEFAULT_HTTP_POLLING_DELAY_MS = 30_000;
/** Per-request timeout when `timeoutMs` is not given (the .NET HttpClient default). */
export const DEFAULT_HTTP_TIMEOUT_MS = 100_000;
/** The longest timeout AbortSignal.timeout accepts (the largest 32-bit signed delay). */
const MAX_HTTP_TIMEOUT_MS = 2_147_483_647;

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** The options of `context.df.callHttp`, as in durable-functions v3 (`CallHttpOptions`), plus `timeoutMs`. */
export interface CallHttpOptions {
  /** One of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS (any case). */
  method: string;
  /** Absolute http(s) URL. */
  url: string;
  /** A string is sent as-is; any other value is sent as JSON (with `Content-Type: application/json` unless set). */
  body?: unknown;
  /** Request headers: name → string value. */
  headers?: Record<string, string>;
  /** Follow the asynchronous 202 + Location pattern with durable timers (default true). */
  enablePolling?: boolean;
  /** @deprecated Use `enablePolling`. */
  asynchronousPatternEnabled?: boolean;
  /**
   * A managed identity (`new ManagedIdentityTokenSource(resource)`): the worker gets a token for the
   * resource from the machine's identity endpoint and sends it as `Authorization: Bearer`. The token
   * is never recorded, only the resource.
   */
  tokenSource?: unknown;
  /** Timeout of each request (the first one and each poll), in ms. Default 100,000. */
  timeoutMs?: number;
}

/** One request of the built-in HTTP activity: its recorded input. */
export interface DurableHttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** The body as sent (already JSON-encoded when the caller gave an object). */
  body?: string;
  timeoutMs: number;
  /** Get a bearer token for this resource from the managed identity when the request is sent. */
  tokenSource?: { kind: "AzureManagedIdentity"; resource: string };
}

/** The result of the built-in HTTP activity and of `callHttp` (durable-functions' `DurableHttpResponse`). */
export interface DurableHttpResponse {
  statusCode: number;
  /** The response body as text ("" when empty). */
  content: string;
  /** Response headers: lower-case name → value (repeated headers joined with ", "). */
  headers: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_HEADER_VALUE = /[\r\n\0]/;

/** Validates the options of `callHttp` and builds the first request and the polling flag. */
export function buildHttpRequest(options: unknown): { request: DurableHttpRequest; enablePolling: boolean } {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError("callHttp needs an options object: { method, url, body?, headers?, enablePolling?, timeoutMs? }.");
  }
  const o = options as Partial<Record<keyof CallHttpOptions, unknown>>;
  const tokenSource = o.tokenSource === undefined || o.tokenSource === null ? undefined : readTokenSource(o.tokenSource);
  if (typeof o.method !== "string" || o.method === "") {
    throw new InvalidArgumentError(`callHttp: method is required: one of ${HTTP_METHODS.join(", ")}.`);
  }
  const method = o.method.toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new InvalidArgumentError(`callHttp: unknown HTTP method ${JSON.stringify(o.method)}; use one of ${HTTP_METHODS.join(", ")}.`);
  }
  const url = requireHttpUrl(o.url, "callHttp: url");

  const headers: Record<string, string> = {};
  if (o.headers !== undefined && o.headers !== null) {
    if (typeof o.headers !== "object" || Array.isArray(o.headers)) {
      throw new InvalidArgumentError("callHttp: headers must be an object of header name → string value.");
    }
    for (const [name, value] of Object.entries(o.headers)) {
      if (!TOKEN.test(name)) throw new InvalidArgumentError(`callHttp: ${JSON.stringify(name)} is not a valid header name.`);
      if (typeof value !== "string") {
        throw new InvalidArgumentError(`callHttp: the value of header '${name}' must be a string, got ${value === null ? "null" : typeof value}.`);
      }
      if (BAD_HEADER_VALUE.test(value)) throw new InvalidArgumentError(`callHttp: the value of header '${name}' contains a line break or NUL character.`);
      headers[name] = value;
    }
  }

  let body: string | undefined;
  if (o.body !== undefined && o.body !== null) {
    if (method === "GET" || method === "HEAD") throw new InvalidArgumentError(`callHttp: a ${method} request cannot have a body.`);
    if (typeof o.body === "string") body = o.body;
    else {
      try {
        body = JSON.stringify(o.body);
      } catch (err) {
        throw new PayloadError(`callHttp: the body is not JSON-serializable: ${(err as Error).message}. Pass plain data or a string.`);
      }
      if (body === undefined) throw new PayloadError(`callHttp: the body is not JSON-serializable (got ${typeof o.body}). Pass plain data or a string.`);
      if (findHeader(headers, "content-type") === undefined) headers["Content-Type"] = "application/json";
    }
  }

  const enablePolling = optionalBoolean(o.enablePolling, "enablePolling") ?? optionalBoolean(o.asynchronousPatternEnabled, "asynchronousPatternEnabled") ?? true;

  let timeoutMs = DEFAULT_HTTP_TIMEOUT_MS;
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== "number" || !Number.isInteger(o.timeoutMs) || o.timeoutMs <= 0 || o.timeoutMs > MAX_HTTP_TIMEOUT_MS) {
      throw new InvalidArgumentError(`callHttp: timeoutMs must be a whole number of milliseconds between 1 and ${MAX_HTTP_TIMEOUT_MS}, got ${JSON.stringify(o.timeoutMs) ?? typeof o.timeoutMs}.`);
    }
    timeoutMs = o.timeoutMs;
  }

  const request: DurableHttpRequest = { method, url, timeoutMs };
  if (Object.keys(headers).length > 0) request.headers = headers;
  if (body !== undefined) request.body = body;
  if (tokenSource) {
    if (findHeader(headers, "authorization") !== undefined) throw new InvalidArgumentError("callHttp: pass either a tokenSource or an Authorization header, not both.");
    request.tokenSource = tokenSource;
  }
  return { request, enablePolling };
}

/** A ManagedIdentityTokenSource, or its recorded shape `{ kind, resource }` (from any copy of the package). */
function readTokenSource(v: unknown): { kind: "AzureManagedIdentity"; resource: string } {
  const t = v as { kind?: unknown; resource?: unknown };
  if (typeof v !== "object" || t.kind !== "AzureManagedIdentity" || typeof t.resource !== "string" || t.resource === "") {
    throw new InvalidArgumentError('callHttp: tokenSource must be new df.ManagedIdentityTokenSource("<resource URI>"), e.g. "https://management.core.windows.net/".');
  }
  return { kind: "AzureManagedIdentity", resource: t.resource };
}

function optionalBoolean(v: unknown, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new InvalidArgumentError(`callHttp: ${what} must be true or false, got ${JSON.stringify(v) ?? typeof v}.`);
  return v;
}

function requireHttpUrl(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") throw new InvalidArgumentError(`${what} is required: an absolute http:// or https:// URL.`);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new InvalidArgumentError(`${what} must be an absolute http:// or https:// URL, got ${JSON.stringify(v)}.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidArgumentError(`${what} must be an absolute http:// or https:// URL, got ${JSON.stringify(v)} (scheme ${parsed.protocol}).`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new InvalidArgumentError(`${what} must not contain credentials (user:password@); send them in an Authorization header instead.`);
  }
  return parsed.href;
}

/** A header's value by case-insensitive name. */
export function findHeader(headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

function isHttpResponse(v: unknown): v is DurableHttpResponse {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Partial<DurableHttpResponse>;
  return typeof r.statusCode === "number" && typeof r.headers === "object" && r.headers !== null;
}

/**
 * Where to poll next, or undefined to stop: only a 202 with a Location that resolves (against the URL
 * that answered) to an http(s) URL is polled. Reads the recorded response only, so replay decides alike.
 */
export function pollLocation(response: unknown, requestUrl: string): string | undefined {
  if (!isHttpResponse(response) || response.statusCode !== 202) return undefined;
  const location = findHeader(response.headers, "location");
  if (location === undefined || location.trim() === "") return undefined;
  let resolved: URL;
  try {
    resolved = new URL(location.trim(), requestUrl);
  } catch {
    return undefined;
  }
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") return undefined;
  return resolved.href;
}

/**
 * The delay a `Retry-After` value asks for, in ms: whole seconds, or an HTTP date relative to the
 * orchestration's clock. Undefined when absent or invalid (the caller uses its default).
 */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // a number out of range, negative or fractional: not a date either
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** The GET of a Location, carrying the original headers except those about the body and the function key. */
export function pollRequest(original: DurableHttpRequest, url: string): DurableHttpRequest {
  const request: DurableHttpRequest = { method: "GET", url, timeoutMs: original.timeoutMs };
  if (original.tokenSource) request.tokenSource = original.tokenSource;
  if (original.headers) {
    const dropped = new Set(["content-type", "content-length", "x-functions-key"]);
    const headers = Object.fromEntries(Object.entries(original.headers).filter(([k]) => !dropped.has(k.toLowerCase())));
    if (Object.keys(headers).length > 0) request.headers = headers;
  }
  return request;
}

/**
 * `callHttp`: a request made by the built-in activity, and with polling on, the 202 + Location
 * pattern followed with a durable timer and a GET of the Location per round, until an answer other
 * than 202. Each request and each wait is its own scheduled task, so every step is in history, like
 * RetryableTask. Polling decisions read only recorded results and the orchestration's clock.
 */
export class HttpTask extends CompoundTask {
  private current: AtomicTask | undefined;
  private scheduler: TaskScheduler | undefined;
  private request: DurableHttpRequest;
  private next: DurableHttpRequest | undefined;

  constructor(
    private readonly first: DurableHttpRequest,
    private readonly enablePolling: boolean,
    private readonly defaultPollingDelayMs: number,
  ) {
    super([]);
    this.request = first;
  }

  protected override onStart(scheduler: TaskScheduler): void {
    this.scheduler = scheduler;
    this.send(this.first);
  }

  private send(request: DurableHttpRequest): void {
    this.request = request;
    this.run(new ActivityTask(HTTP_ACTIVITY_NAME, JSON.stringify(request)));
  }

  private run(task: AtomicTask): void {
    this.current = task;
    task.addParent(this);
    task.start(this.scheduler!);
  }

  onChildDone(child: Task): void {
    if (this.isDone || child !== this.current) return;
    if (child instanceof TimerTask) {
      this.send(this.next!);
      return;
    }
    if (child.isFaulted) {
      this.reject(child.result as Error);
      return;
    }
    const response = child.result;
    const location = this.enablePolling ? pollLocation(response, this.request.url) : undefined;
    if (location === undefined) {
      this.resolve(response);
      return;
    }
    this.next = pollRequest(this.first, location);
    const now = this.scheduler!.now().getTime();
    const delay = retryAfterMs(findHeader((response as DurableHttpResponse).headers, "retry-after"), now) ?? this.defaultPollingDelayMs;
    this.run(new TimerTask(new Date(now + delay)));
  }
}
