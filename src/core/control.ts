import { InvalidInstanceStateError } from "./errors.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "./status.js";

/** An operator's request to an orchestration instance. */
export type ControlOperation = "raiseEvent" | "terminate" | "suspend" | "resume" | "rewind";

/**
 * What an operator's request means for an instance in its current state:
 * - `send`: deliver it;
 * - `finished`: the instance has ended and nothing can change it any more (the client drops the
 *   request, as durable-functions does with the HTTP API's 410; the HTTP API answers 410);
 * - `refuse`: the request does not apply to the instance's state (INVALID_INSTANCE_STATE, 409).
 * A parked instance can be rewound: its retry delay ends and the step is tried at once.
 */
export type ControlDecision = { kind: "send" } | { kind: "finished" } | { kind: "refuse"; error: InvalidInstanceStateError };

export function planControl(
  op: ControlOperation,
  instance: { instanceId: string; runtimeStatus: OrchestrationRuntimeStatus; parked?: unknown },
  /** Why a failed instance cannot be rewound (core/rewind.rewindBlocker), when the caller checked. */
  rewindBlocker?: string,
): ControlDecision {
  const { instanceId, runtimeStatus: s } = instance;
  const refuse = (message: string): ControlDecision => ({ kind: "refuse", error: new InvalidInstanceStateError(message) });
  if (op === "rewind") {
    if (s === "Failed") return rewindBlocker ? refuse(rewindBlocker) : { kind: "send" };
    if (isTerminalStatus(s)) return { kind: "finished" };
    if (instance.parked !== undefined && instance.parked !== null) return { kind: "send" };
    return refuse(`The rewind operation is only supported on failed orchestration instances (and parked ones); '${instanceId}' is ${s}.`);
  }
  if (isTerminalStatus(s)) return { kind: "finished" };
  if (op === "suspend" && s === "Suspended") return refuse(`Cannot suspend the orchestration instance ${instanceId} because instance is in the ${s} state.`);
  if (op === "resume" && s !== "Suspended") return refuse(`Cannot resume the orchestration instance ${instanceId} because instance is in the ${s} state.`);
  return { kind: "send" };
}
