import { DurableError, InvalidArgumentError } from "../core/errors.js";
import { managedIdentityToken } from "./managed-identity.js";
import { DEFAULT_HTTP_TIMEOUT_MS, type DurableHttpRequest, type DurableHttpResponse, HTTP_ACTIVITY_NAME } from "../core/http-task.js";

/** A request of `callHttp` got no answer: connection refused, DNS failure, TLS error, timeout. */
export class HttpRequestError extends DurableError {
  readonly url: string;
  constructor(message: string, url: string, cause?: unknown) {
    super("HTTP_REQUEST_FAILED", message, cause === undefined ? undefined : { cause });
    this.url = url;
  }
}

/**
 * The built-in activity `BuiltIn::HttpActivity`: performs one request of `context.df.callHttp` with
 * Node's fetch and returns `{ statusCode, content, headers }`. Any status (404, 500, ...) is a result;
 * only a request that got no answer fails. Polling is not done here but by the orchestration, so that
 * each poll and each wait is recorded in history.
 */
export async function httpActivity(input: unknown): Promise<DurableHttpResponse> {
  const request = readRequest(input);
  const { method, url, timeoutMs } = request;
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs), redirect: "follow" };
  if (request.headers) init.headers = request.headers;
  // The token is fetched here, on the worker, and never recorded: history holds only the resource.
  if (request.tokenSource) init.headers = { ...request.headers, Authorization: `Bearer ${await managedIdentityToken(request.tokenSource.resource)}` };
  if (request.body !== undefined) init.body = request.body;
  try {
    const response = await fetch(url, init);
    const content = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      // Repeated headers (set-cookie) come one by one: join them as HTTP does for lists.
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    });
    return { statusCode: response.status, content, headers };
  } catch (err) {
    throw requestError(request, err);
  }
}

function requestError(request: DurableHttpRequest, err: unknown): HttpRequestError {
  const { method, url, timeoutMs } = request;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === "TimeoutError") return new HttpRequestError(`${method} ${url} timed out after ${timeoutMs} ms.`, url, err);
  // fetch reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, a TLS error) in `cause`.
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  return new HttpRequestError(`${method} ${url} failed: ${describeCause(cause)}`, url, cause);
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    // AggregateError (several addresses tried) has an empty message of its own.
    const inner = cause instanceof AggregateError && cause.errors.length > 0 ? describeCause(cause.errors[0]) : undefined;
    const code = (cause as { code?: unknown }).code;
    const message = cause.message || inner || cause.name;
    return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(cause);
}

/** The recorded input, checked again here: history may have been written by another version. */
function readRequest(input: unknown): DurableHttpRequest {
  const r = (typeof input === "object" && input !== null ? input : {}) as Partial<DurableHttpRequest>;
  if (typeof r.method !== "string" || typeof r.url !== "string") {
    throw new InvalidArgumentError(`${HTTP_ACTIVITY_NAME} needs { method, url, headers?, body?, timeoutMs? }; got ${JSON.stringify(input) ?? String(input)}.`);
  }
  const request: DurableHttpRequest = {
    method: r.method,
    url: r.url,
    timeoutMs: typeof r.timeoutMs === "number" && r.timeoutMs > 0 ? r.timeoutMs : DEFAULT_HTTP_TIMEOUT_MS,
  };
  if (r.headers && typeof r.headers === "object") request.headers = r.headers;
  if (typeof r.body === "string") request.body = r.body;
  const t = r.tokenSource;
  if (t && typeof t === "object" && t.kind === "AzureManagedIdentity" && typeof t.resource === "string") request.tokenSource = { kind: t.kind, resource: t.resource };
  return request;
}
