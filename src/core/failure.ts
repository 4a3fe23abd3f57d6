/** The only shape a failure takes when it crosses storage: never a string to parse. */
export interface FailureDetails {
  errorType: string;
  message: string;
  stack?: string;
  innerFailure?: FailureDetails;
  /** Set by activities that throw `NonRetriableError`: retry policies stop at once. */
  nonRetriable?: boolean;
  /** Stable error code, when the error was a DurableError. */
  code?: string;
}

export function failureFromError(err: unknown, depth = 0): FailureDetails {
  if (err instanceof Error) {
    const details: FailureDetails = { errorType: err.name || "Error", message: err.message };
    if (err.stack) details.stack = err.stack;
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") details.code = code;
    if ((err as { nonRetriable?: unknown }).nonRetriable === true) details.nonRetriable = true;
    if (err.cause !== undefined && depth < 5) details.innerFailure = failureFromError(err.cause, depth + 1);
    return details;
  }
  let message: string;
  try {
    message = typeof err === "string" ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { errorType: typeof err, message };
}
