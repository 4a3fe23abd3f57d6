import type { HistoryEventType } from "./history.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "./status.js";
import { isPoison, PARK_CODES, type ParkInfo, type RetryPolicy } from "./step-policy.js";

/** What a worker knows about a work item before it runs any code. */
export interface StepFacts {
  runtimeStatus: OrchestrationRuntimeStatus;
  parked: ParkInfo | undefined;
  dequeueCount: number;
  /** The orchestrator (or entity) function is registered on this host. */
  hasFunction: boolean;
  /** The types of the messages this step would process. */
  eventTypes: readonly HistoryEventType[];
}

/**
 * What to do with an orchestration work item, decided before any user code runs:
 * - `run`: replay and run the code (the ordinary step);
 * - `rewind`: rewind a failed instance;
 * - `consume`: a finished instance only consumes what was sent to it — all of it, or (when this host
 *   cannot rewind it) all but the rewinds, which wait for a host with the function;
 * - `terminateWithoutCode`: end the instance without running its code — its code cannot run here,
 *   or is what keeps killing workers;
 * - `park`: poison (the step keeps dying), or the function is missing here.
 */
export type StepPlan =
  | { kind: "run" }
  | { kind: "rewind" }
  | { kind: "consume"; keepRewinds: boolean }
  | { kind: "terminateWithoutCode" }
  | { kind: "park"; code: string; message: string };

const poisonPark = (dequeueCount: number): StepPlan => ({
  kind: "park",
  code: PARK_CODES.poison,
  message: `The step of this instance was taken ${dequeueCount} times without completing (the worker crashed, hung or lost its lease each time). It is retried after a delay; check the host logs around the last attempts.`,
});

export function planStep(f: StepFacts, policy: Pick<RetryPolicy, "maxDequeueCount">): StepPlan {
  const poison = isPoison(f.dequeueCount, f.parked, policy);
  if (isTerminalStatus(f.runtimeStatus)) {
    const rewinding = f.runtimeStatus === "Failed" && f.eventTypes.includes("ExecutionRewound");
    if (!rewinding) return { kind: "consume", keepRewinds: false };
    if (!f.hasFunction) return { kind: "consume", keepRewinds: true };
    return poison ? poisonPark(f.dequeueCount) : { kind: "rewind" };
  }
  if (f.eventTypes.includes("ExecutionTerminated") && (poison || f.parked !== undefined || !f.hasFunction)) return { kind: "terminateWithoutCode" };
  if (poison) return poisonPark(f.dequeueCount);
  if (!f.hasFunction) return { kind: "park", code: PARK_CODES.functionNotFound, message: "" };
  return { kind: "run" };
}

/** The plan for an entity's batch: poison and a missing function park it; otherwise it runs. */
export function planEntityStep(f: Pick<StepFacts, "parked" | "dequeueCount" | "hasFunction">, policy: Pick<RetryPolicy, "maxDequeueCount">): Extract<StepPlan, { kind: "run" | "park" }> {
  if (isPoison(f.dequeueCount, f.parked, policy)) return poisonPark(f.dequeueCount) as Extract<StepPlan, { kind: "park" }>;
  if (!f.hasFunction) return { kind: "park", code: PARK_CODES.functionNotFound, message: "" };
  return { kind: "run" };
}

/**
 * When the history could not be replayed: a termination still ends the instance (without the code);
 * otherwise a nondeterministic replay fails the instance only when the policy says so (Durable
 * Functions' behaviour), and everything else parks with the error's code.
 */
export function planReplayFailure(
  failure: { code?: string | undefined; isNondeterminism: boolean },
  terminating: boolean,
  policy: Pick<RetryPolicy, "onNondeterminism">,
): { kind: "terminateWithoutCode" } | { kind: "fail" } | { kind: "park"; code: string } {
  if (terminating) return { kind: "terminateWithoutCode" };
  if (failure.isNondeterminism && policy.onNondeterminism === "fail") return { kind: "fail" };
  return { kind: "park", code: failure.code ?? PARK_CODES.internal };
}
