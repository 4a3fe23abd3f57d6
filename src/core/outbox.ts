import { EntityId } from "./entity-id.js";
import { type DurableError, InstanceAlreadyExistsError, InstanceNotFoundError } from "./errors.js";
import type { ExecutionStartedEvent } from "./history.js";
import { childRejectedMessage, type OutgoingMessage } from "./messages.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "./status.js";

export type InstanceKind = "orchestration" | "entity";

/** What a provider knows of a message's target when it delivers: read in the delivering transaction. */
export interface TargetState {
  kind: InstanceKind;
  runtimeStatus: OrchestrationRuntimeStatus;
}

/** An instance row a delivery creates. */
export interface NewInstanceRow {
  instanceId: string;
  kind: InstanceKind;
  name: string;
  executionId: string;
  runtimeStatus: "Pending" | "Running";
  input?: string;
  parentInstanceId?: string;
  /** The orchestration version the instance was started with (kept on the row so queries can filter by it). */
  version?: string;
}

/**
 * What a provider does with one message, decided here and only carried out there:
 * - `append`: insert the message into the target's inbox;
 * - `create` / `replace`: create the target's row (after deleting the old instance's history,
 *   messages and tasks, for `replace`), then insert the message;
 * - `drop`: write nothing (a message to an instance that is gone);
 * - `redirect`: write nothing for this message but deliver `message` instead (a refused child start
 *   becomes a failure for its parent);
 * - `fail`: a client's send that cannot be delivered; the whole request is refused with `error`.
 */
export type Delivery =
  | { action: "append" }
  | { action: "create"; row: NewInstanceRow }
  | { action: "replace"; row: NewInstanceRow }
  | { action: "drop"; reason: string }
  | { action: "redirect"; message: OutgoingMessage }
  | { action: "fail"; error: DurableError };

export type Origin = "step" | "client";

/** The row of an orchestration its ExecutionStarted creates. */
export function orchestrationRow(started: ExecutionStartedEvent): NewInstanceRow {
  const row: NewInstanceRow = { instanceId: started.instanceId, kind: "orchestration", name: started.name, executionId: started.executionId, runtimeStatus: "Pending" };
  if (started.input !== undefined) row.input = started.input;
  if (started.parentInstance) row.parentInstanceId = started.parentInstance.instanceId;
  if (started.version) row.version = started.version;
  return row;
}

/** Entities exist from their first message on: running, named after the entity, with no execution. */
function entityRow(instanceId: string): NewInstanceRow | undefined {
  try {
    return { instanceId, kind: "entity", name: EntityId.fromInstanceId(instanceId).name, executionId: "", runtimeStatus: "Running" };
  } catch {
    return undefined;
  }
}

/** A client start (`startNew`, `restart`): a new instance, a finished one replaced, a running one refused. */
export function planStart(started: ExecutionStartedEvent, existing: TargetState | undefined): Delivery {
  if (!existing) return { action: "create", row: orchestrationRow(started) };
  if (!isTerminalStatus(existing.runtimeStatus)) return { action: "fail", error: new InstanceAlreadyExistsError(started.instanceId, existing.runtimeStatus) };
  return { action: "replace", row: orchestrationRow(started) };
}

/** The delivery of one message, from its kind and the target's state at delivery time. */
export function planDelivery(m: OutgoingMessage, target: TargetState | undefined, origin: Origin, now: number): Delivery {
  switch (m.kind) {
    case "startChild": {
      const started = m.message.event;
      if (started.type !== "ExecutionStarted") return { action: "drop", reason: `a startChild message must carry ExecutionStarted, not ${started.type}` };
      if (!target) return { action: "create", row: orchestrationRow(started) };
      if (isTerminalStatus(target.runtimeStatus)) return { action: "replace", row: orchestrationRow(started) };
      const rejection = childRejectedMessage(started, target.runtimeStatus, now);
      return rejection ? { action: "redirect", message: rejection } : { action: "drop", reason: `instance '${m.instanceId}' is ${target.runtimeStatus}` };
    }
    case "entity": {
      if (target) return { action: "append" };
      const row = entityRow(m.instanceId);
      if (row) return { action: "create", row };
      return origin === "client"
        ? { action: "fail", error: new InstanceNotFoundError(m.instanceId) }
        : { action: "drop", reason: `'${m.instanceId}' is not an entity ID` };
    }
    case "event":
    case "self":
    case "toParent":
      if (target) return { action: "append" };
      return origin === "client" ? { action: "fail", error: new InstanceNotFoundError(m.instanceId) } : { action: "drop", reason: `instance '${m.instanceId}' does not exist` };
  }
}

/**
 * Messages a host may process for an instance whose function it does not have: a termination
 * (ending an instance runs none of its code), and anything sent to a finished instance except a
 * rewind (such messages are only consumed). Every other message waits for a host with the function.
 */
export function processableWithoutCode(runtimeStatus: OrchestrationRuntimeStatus, messageType: string): boolean {
  return messageType === "ExecutionTerminated" || (isTerminalStatus(runtimeStatus) && messageType !== "ExecutionRewound");
}
