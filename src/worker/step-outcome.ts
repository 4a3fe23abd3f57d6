import type { CommitResult, OrchestrationCommit } from "../providers/provider.js";
import type { Span } from "../runtime/telemetry.js";

/**
 * The three outcomes of processing one orchestration or entity work item (user exceptions are a
 * commit: they fail the instance):
 * - `commit`: write the step; `after` learns whether it was committed;
 * - `park`: keep everything, show the reason in the instance's status, retry after a growing delay;
 * - `abandon`: release the item unchanged, to be taken again after `retryAfterMs` (nothing is wrong).
 */
export type StepOutcome =
  /** `span`: the step's span, ended once the step is committed (never for a step that was not). */
  | { kind: "commit"; commit: OrchestrationCommit; after: (result: CommitResult) => void; span?: Span }
  | { kind: "park"; code: string; message: string }
  | { kind: "abandon"; retryAfterMs: number };

/** A step that could not be prepared, with the stable code its instance parks under. */
export class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StepError";
  }
}
