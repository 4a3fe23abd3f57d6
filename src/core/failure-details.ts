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
}
