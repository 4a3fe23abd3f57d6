/**
 * What happens to an instance whose step cannot complete. Exceptions from user code are not here:
 * they fail the instance, as in Durable Functions. Everything here is a problem of the code on this
 * host or of storage, which a deploy, another host or time can fix — so by default the instance
 * parks: its state and messages are kept, the reason is visible in its status, and the step is retried
 * with a growing delay. Failing instead is an opt-in (Durable Functions' behaviour for nondeterminism).
 */

/** Stable codes of the reasons an instance parks (documented in docs/errors.md). */
export const PARK_CODES = {
  /** The orchestrator or entity function is not registered on the host that took the step. */
  functionNotFound: "FUNCTION_NOT_FOUND",
  /** The code no longer replays the recorded history. */
  nondeterminism: "NONDETERMINISM",
  /** The stored history or a message could not be read. */
  historyUnreadable: "HISTORY_UNREADABLE",
  /** Storage refused or failed the step. */
  storage: "STORAGE_ERROR",
  /** The step was taken again and again without completing (a worker died or lost its lease each time). */
  poison: "POISON_MESSAGE",
  /** Anything else the engine did not expect while preparing the step. */
  internal: "INTERNAL_ERROR",
  /** The instance's version may not run on the host that took it (version failure strategy Reject): it waits for one that may. */
  versionMismatch: "VERSION_MISMATCH",
} as const;

/** A parked instance's visible reason. */
export interface ParkInfo {
  /** Stable code (PARK_CODES, or the code of the error that parked it). */
  code: string;
  message: string;
  /** When the instance first parked for this code (ms since epoch). */
  since: number;
  /** Deliveries of its pending messages so far. */
  attempts: number;
  /** When the step is retried (ms since epoch); absent while it waits for a host that has its function. */
  retryAt?: number;
}

export interface RetryPolicy {
  /** First retry delay after a park. Default 1 s. */
  initialDelayMs: number;
  /** Longest retry delay. Default 5 min. */
  maxDelayMs: number;
  /** Deliveries after which a message that never completes parks its instance. Default 10. */
  maxDequeueCount: number;
  /** `park` (default) or `fail` (Durable Functions: a nondeterministic replay fails the instance). */
  onNondeterminism: "park" | "fail";
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { initialDelayMs: 1_000, maxDelayMs: 5 * 60_000, maxDequeueCount: 10, onNondeterminism: "park" };

/** The retry delay after `attempts` deliveries: doubling from the initial delay, capped. */
export function retryDelayMs(attempts: number, policy: Pick<RetryPolicy, "initialDelayMs" | "maxDelayMs">): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
}

/** The park record for a new park, keeping `since` when the instance was already parked for the same reason. */
export function parkInfo(code: string, message: string, attempts: number, now: number, previous: ParkInfo | undefined, policy: Pick<RetryPolicy, "initialDelayMs" | "maxDelayMs">): ParkInfo {
  // A version mismatch is no failure that backs off: the instance is offered again soon, for a host of the right version.
  const delay = code === PARK_CODES.versionMismatch ? policy.initialDelayMs : retryDelayMs(attempts, policy);
  return { code, message, since: previous?.code === code ? previous.since : now, attempts, retryAt: now + delay };
}

/**
 * A work item delivered `dequeueCount` times is poison when it passed the cap without a worker having
 * decided anything about it since: the delivery right after a park a worker wrote (for any reason) is
 * the one real attempt that park promised, so a step that keeps parking is never mistaken for one
 * that keeps dying, and after a poison park the next delivery still runs (a fixed deploy can rescue
 * the instance). A park record written without a delivery (`attempts` 0: a stranded instance) does
 * not count.
 */
export function isPoison(dequeueCount: number, parked: ParkInfo | undefined, policy: Pick<RetryPolicy, "maxDequeueCount">): boolean {
  if (dequeueCount <= policy.maxDequeueCount) return false;
  return !(parked !== undefined && parked.attempts > 0 && dequeueCount <= parked.attempts + 1);
}
