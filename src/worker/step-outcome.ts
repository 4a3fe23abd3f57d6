import type { OrchestrationCommit } from "../providers/provider.js";

/** What processing one orchestration or entity work item decided. */
export type StepOutcome =
  | { kind: "commit"; commit: OrchestrationCommit; after: (ok: boolean) => void }
  | { kind: "abandon"; retryAfterMs: number };
