import { DurableError, StoreUnavailableError } from "../../core/errors.js";

/** SQLSTATE classes and codes after which the same work may simply be tried again. */
const RETRYABLE_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57P01", // admin_shutdown (the server is restarting)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, in recovery)
  "53300", // too_many_connections
  "53400", // configuration_limit_exceeded
]);

/** Conditions under which the store cannot take writes until an operator or the server fixes it. */
const UNAVAILABLE_SQLSTATES: Record<string, string> = {
  "53100": "the database server's disk is full",
  "53200": "the database server is out of memory",
  "25006": "the database is read-only",
  "57P04": "the database was dropped",
  "3D000": "the database does not exist",
  "28000": "the database refused the login",
  "28P01": "the database refused the password",
};

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);

/** Messages node-postgres uses for a connection that died or never came up (they carry no code). */
const CONNECTION_MESSAGES = [/connection terminated/i, /connection error/i, /not queryable/i, /timeout exceeded when trying to connect/i, /connection timeout/i, /server closed the connection/i, /cannot use a pool after calling end/i];

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The connection is gone or never came up: nothing of an unfinished transaction was committed. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof DurableError) return false;
  const code = codeOf(err);
  // Class 08 is connection trouble, except 08P01 (a protocol violation: a bug, not an outage).
  if (code !== undefined && (NETWORK_CODES.has(code) || (code.startsWith("08") && code !== "08P01"))) return true;
  const message = err instanceof Error ? err.message : String(err);
  return CONNECTION_MESSAGES.some((r) => r.test(message));
}

/**
 * The statement's outcome is unknown: the connection died under it, or the server ended the session
 * (a shutdown can end it after a commit was made durable but before the answer was sent).
 */
export function mayHaveCommitted(err: unknown): boolean {
  const code = codeOf(err);
  return isConnectionError(err) || code === "57P01" || code === "57P02";
}

/** Worth trying again after a pause: a lost connection, a restarting server, a lock conflict. */
export function isTransient(err: unknown): boolean {
  const code = codeOf(err);
  return isConnectionError(err) || (code !== undefined && RETRYABLE_SQLSTATES.has(code));
}

/**
 * What callers see of a driver error: STORE_UNAVAILABLE (HTTP 503) when the store cannot be reached
 * or written, the error itself otherwise (a bug or a constraint is not an outage).
 */
export function storeError(err: unknown, what: string): unknown {
  if (err instanceof DurableError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== undefined && UNAVAILABLE_SQLSTATES[code]) return new StoreUnavailableError(`${UNAVAILABLE_SQLSTATES[code]} (${what}: ${message})`, { cause: err });
  if (isTransient(err)) return new StoreUnavailableError(`the PostgreSQL server cannot be reached (${what}: ${message})`, { cause: err });
  return err;
}
