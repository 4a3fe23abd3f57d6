import { InvalidArgumentError } from "./errors.js";

/**
 * Retry policy for callActivityWithRetry / callSubOrchestratorWithRetry, with the field names of
 * durable-functions. `maxNumberOfAttempts` counts every attempt including the first.
 */
export class RetryOptions {
  backoffCoefficient = 1;
  maxRetryIntervalInMilliseconds: number | undefined = undefined;
  retryTimeoutInMilliseconds: number | undefined = undefined;
  readonly firstRetryIntervalInMilliseconds: number;
  readonly maxNumberOfAttempts: number;

  constructor(firstRetryIntervalInMilliseconds: number, maxNumberOfAttempts: number) {
    if (typeof firstRetryIntervalInMilliseconds !== "number" || !Number.isFinite(firstRetryIntervalInMilliseconds)) {
      throw new InvalidArgumentError("firstRetryIntervalInMilliseconds must be a finite number of milliseconds.");
    }
    if (firstRetryIntervalInMilliseconds <= 0) throw new InvalidArgumentError("firstRetryIntervalInMilliseconds value must be greater than 0.");
    if (typeof maxNumberOfAttempts !== "number" || !Number.isInteger(maxNumberOfAttempts) || maxNumberOfAttempts < 1) {
      throw new InvalidArgumentError("maxNumberOfAttempts must be an integer >= 1 (it counts the first attempt).");
    }
    this.firstRetryIntervalInMilliseconds = firstRetryIntervalInMilliseconds;
    this.maxNumberOfAttempts = maxNumberOfAttempts;
  }

  /** @internal Checks the mutable fields before use, so a bad value fails at the call site. */
  validate(): void {
    if (!(this.backoffCoefficient > 0) || !Number.isFinite(this.backoffCoefficient)) {
      throw new InvalidArgumentError("backoffCoefficient must be a finite number greater than 0.");
    }
    if (this.maxRetryIntervalInMilliseconds !== undefined && !(this.maxRetryIntervalInMilliseconds > 0)) {
      throw new InvalidArgumentError("maxRetryIntervalInMilliseconds must be greater than 0 when set.");
    }
    if (this.retryTimeoutInMilliseconds !== undefined && !(this.retryTimeoutInMilliseconds > 0)) {
      throw new InvalidArgumentError("retryTimeoutInMilliseconds must be greater than 0 when set.");
    }
  }
}
