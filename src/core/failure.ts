import { describeThrown } from "./describe-value.js";
import type { FailureDetails } from "./failure-details.js";
import { serializePayload } from "./payload.js";

export type { FailureDetails } from "./failure-details.js";

const MAX_INNER_DEPTH = 5;
/**
 * The longest error message and stack trace stored, in characters: an exception can carry megabytes
 * (a response body in its message), and its failure record goes into history, the status and every
 * log line about it. Longer ones are cut, with a marker that says how long they were.
 */
export const MAX_FAILURE_TEXT = 32 * 1024;

/** `text` cut at {@link MAX_FAILURE_TEXT} characters, marked; unchanged when shorter. */
export function truncateFailureText(text: string): string {
  if (text.length <= MAX_FAILURE_TEXT) return text;
  // Never cut a surrogate pair in half: the stored text stays valid UTF-16.
  let end = MAX_FAILURE_TEXT;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… [truncated: ${text.length.toLocaleString("en-US")} characters in all]`;
}

/**
 * Describes whatever user code threw as failure details. Never throws, whatever it is given (an error
 * whose `message` getter throws, a Proxy, a revoked Proxy, a cyclic object...): describing a failure
 * must not become a failure of the host. A thrown non-Error object that JSON cannot store (cyclic,
 * holding a BigInt, ...) gets PAYLOAD_NOT_SERIALIZABLE and the path of the offending value.
 */
export function failureFromError(err: unknown, depth = 0): FailureDetails {
  const d = describeThrown(err);
  const details: FailureDetails = { errorType: d.errorType, errorMessage: truncateFailureText(d.message), isNonRetriable: d.nonRetriable === true };
  if (d.stack !== undefined) details.stackTrace = truncateFailureText(d.stack);
  if (d.code !== undefined) details.code = d.code;
  if (typeof err === "object" && err !== null && !isErrorLike(err)) {
    const problem = serializationProblem(err);
    if (problem !== undefined) {
      details.code ??= "PAYLOAD_NOT_SERIALIZABLE";
      details.errorMessage = `${details.errorMessage} — ${problem}`;
    }
  }
  if (d.cause !== undefined && depth < MAX_INNER_DEPTH) details.innerFailure = failureFromError(d.cause, depth + 1);
  return details;
}

function isErrorLike(v: object): boolean {
  try {
    return v instanceof Error || Object.prototype.toString.call(v) === "[object Error]";
  } catch {
    return false;
  }
}

function serializationProblem(v: object): string | undefined {
  try {
    serializePayload(v, "The thrown value");
    return undefined;
  } catch (err) {
    return describeThrown(err).message;
  }
}

/**
 * Reads failure details stored by any Perdure version: before history format 2 they were
 * `{ errorType, message, stack, nonRetriable }`. Idempotent, so it can be applied to anything read.
 */
export function normalizeFailure(value: unknown, depth = 0): FailureDetails {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const text = (x: unknown): string | undefined => (typeof x === "string" ? x : undefined);
  const f: FailureDetails = {
    errorType: text(v.errorType) ?? "Error",
    errorMessage: text(v.errorMessage) ?? text(v.message) ?? "",
    isNonRetriable: v.isNonRetriable === true || v.nonRetriable === true,
  };
  const stack = text(v.stackTrace) ?? text(v.stack);
  if (stack !== undefined) f.stackTrace = stack;
  const code = text(v.code);
  if (code !== undefined) f.code = code;
  if (typeof v.properties === "object" && v.properties !== null && !Array.isArray(v.properties)) f.properties = v.properties as Record<string, unknown>;
  if (v.innerFailure !== undefined && v.innerFailure !== null && depth < MAX_INNER_DEPTH) f.innerFailure = normalizeFailure(v.innerFailure, depth + 1);
  return f;
}
