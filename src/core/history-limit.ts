import { HistoryTooLongError } from "./errors.js";
import type { FailureDetails } from "./failure-details.js";

/**
 * The default of `maxHistoryEvents`: the longest history an execution may reach. Every step of an
 * execution replays or keeps its whole history, so a history that grows without end (an eternal loop
 * that never calls continueAsNew) would slow down and fill memory until the host fails; it is stopped
 * here instead, with a message that says what to do.
 */
export const DEFAULT_MAX_HISTORY_EVENTS = 500_000;

/** What a step that takes an execution's history from `before` to `after` events means for its limit. */
export type HistoryLengthCheck = { kind: "ok" } | { kind: "warn"; message: string } | { kind: "fail"; failure: FailureDetails };

const n = (x: number): string => x.toLocaleString("en-US");

/**
 * Checks a step against the history limit. A step over it fails the instance (a step that ends the
 * execution is let through: it adds a few events and frees the instance). The step that crosses half
 * the limit is warned about, once per execution: well before the end, while there is time to deploy
 * a continueAsNew.
 */
export function checkHistoryLength(name: string, before: number, after: number, limit: number, finishing: boolean): HistoryLengthCheck {
  if (after > limit && !finishing) {
    const err = new HistoryTooLongError(name, after, limit);
    // No stack: it would be the host's, not the orchestration's.
    return { kind: "fail", failure: { errorType: err.name, errorMessage: err.message, code: err.code, isNonRetriable: true } };
  }
  const warnAt = Math.floor(limit / 2);
  if (before < warnAt && after >= warnAt) {
    return {
      kind: "warn",
      message: `The history of orchestration '${name}' has reached ${n(after)} events, half of its limit of ${n(limit)} (maxHistoryEvents); at the limit the instance fails with HISTORY_TOO_LONG. Call context.df.continueAsNew(...) to start over with an empty history, or raise maxHistoryEvents.`,
    };
  }
  return { kind: "ok" };
}

/** Validates a `maxHistoryEvents` option. */
export function isValidHistoryLimit(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 100;
}
