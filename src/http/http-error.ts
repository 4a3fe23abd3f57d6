import type { ServerResponse } from "node:http";
import { DurableError } from "../core/errors.js";

/** An error that already knows its HTTP status (bad requests, auth, limits). */
export class HttpError extends DurableError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** The one table from error codes to HTTP status codes. */
export const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  PAYLOAD_NOT_SERIALIZABLE: 400,
  FUNCTION_NOT_FOUND: 400,
  INVALID_JSON: 400,
  UNSUPPORTED_CONTENT_TYPE: 400,
  INVALID_QUERY_PARAMETER: 400,
  UNAUTHORIZED: 401,
  INSTANCE_NOT_FOUND: 404,
  ENTITY_NOT_FOUND: 404,
  NOT_FOUND: 404,
  INSTANCE_ALREADY_EXISTS: 409,
  INVALID_INSTANCE_STATE: 409,
  INSTANCE_GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  STORE_UNAVAILABLE: 503,
  WAIT_TIMEOUT: 504,
};

/** How long a client is asked to wait before retrying a request the store could not take. */
const STORE_RETRY_AFTER_SECONDS = "5";

export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof DurableError) return STATUS_OF_CODE[err.code] ?? 500;
  return 500;
}

/** Error bodies: Durable Functions' `Message` plus Perdure's structured `error`. */
export function errorBody(code: string, message: string): { Message: string; error: { code: string; message: string } } {
  return { Message: message, error: { code, message } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** `headers` lets the server add `connection: close` (it alone knows whether the body was read). */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const status = statusOf(err);
  if (status === 500) {
    sendJson(res, 500, errorBody("INTERNAL_ERROR", "Something went wrong while processing your request."), headers);
    return;
  }
  const e = err as DurableError;
  sendJson(res, status, errorBody(e.code, e.message), status === 503 ? { ...headers, "retry-after": STORE_RETRY_AFTER_SECONDS } : headers);
}
