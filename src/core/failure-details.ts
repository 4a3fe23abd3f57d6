/**
 * The only shape a failure takes when it crosses storage: never a string to parse. The field names
 * are those of `durable-functions` (`FailureDetails` of its TaskFailedError, after DTFx).
 */
export interface FailureDetails {
  errorType: string;
  errorMessage: string;
  stackTrace?: string;
  innerFailure?: FailureDetails;
  /** Set by activities that throw an error with `nonRetriable: true`: retry policies stop at once. */
  isNonRetriable: boolean;
  /** Perdure: the stable error code, when the error carried one (every DurableError does). */
  code?: string;
  /** What the app's exception properties provider returned for the error (`df.app.setExceptionPropertiesProvider`). */
  properties?: Record<string, unknown>;
}

/** The failure an orchestrator catches (durable-functions' `FailureDetails`): the stored details, and `isCausedBy`. */
export interface TaskFailureDetails extends FailureDetails {
  innerFailure?: TaskFailureDetails;
  /** True when this failure or one in its `innerFailure` chain has this `errorType` (.NET's `IsCausedBy<T>()`). */
  isCausedBy(errorType: string): boolean;
}

/** A copy of stored details with `isCausedBy` on each level, kept off JSON (it is not data). */
export function taskFailureDetails(details: FailureDetails): TaskFailureDetails {
  const inner = details.innerFailure ? taskFailureDetails(details.innerFailure) : undefined;
  const copy = { ...details, ...(inner ? { innerFailure: inner } : {}) } as TaskFailureDetails;
  Object.defineProperty(copy, "isCausedBy", {
    value: (errorType: string): boolean => copy.errorType === errorType || (copy.innerFailure?.isCausedBy(errorType) ?? false),
    enumerable: false,
  });
  return copy;
}
