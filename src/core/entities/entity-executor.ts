import { isoTime } from "../iso-time.js";
import type { EntityId } from "../entity-id.js";
import type { FailureDetails } from "../failure.js";
import { failureFromError } from "../failure.js";
import { entityRequestFromV1 } from "../history-v1.js";
import type { EntityLockRequestedEvent, EntityRequestEvent, EntityResponseEvent, HistoryEvent } from "../history.js";
import { entityAnswerMessage, entityRequestMessage, type OutgoingMessage } from "../messages.js";
import { checkPayloadSize, DEFAULT_MAX_PAYLOAD_BYTES, serializeBounded } from "../payload.js";
import type { StepCommit } from "../step-commit.js";
import { DurableEntityContext } from "./entity-context.js";
import { type EntityRecord, isEmptyEntity, MAX_REMEMBERED_RELEASES, RELEASE_MEMORY_MS } from "./entity-record.js";

/** One operation the batch needs user code for: the caller runs the entity function with `context`. */
export interface EntityOperationCall {
  context: DurableEntityContext;
  operation: string;
  requestId: string;
  isSignal: boolean;
}

/** How the entity function ended: normally, or with an exception (already described as data). */
export type OperationOutcome = { ok: true } | { ok: false; failure: FailureDetails };

export interface EntityBatchInput {
  entityId: EntityId;
  record: EntityRecord;
  /** This batch's inbox events, in arrival order (format 1 messages are read too). */
  messages: readonly HistoryEvent[];
  now: number;
  /** Request IDs for the signals operations send (the caller's randomness: core has none). */
  newRequestId: () => string;
  /** The largest state, result or signal input an operation may produce, in bytes of JSON. Default 16 MiB. */
  maxPayloadBytes?: number;
}

/** What a batch produced: the step to commit, and notes for the log. */
export interface EntityBatchResult {
  commit: StepCommit;
  record: EntityRecord;
  /** Signalled operations that failed: nobody waits for their answer, so they are logged. */
  failedSignals: { operation: string; failure: FailureDetails }[];
  /** Messages the entity could not read or does not handle. */
  ignored: string[];
}

function isSameRequester(lock: EntityRecord["lock"], e: { parentInstanceId?: string; parentExecutionId?: string }): boolean {
  return !!lock && lock.parentInstanceId === e.parentInstanceId && lock.parentExecutionId === e.parentExecutionId;
}

/**
 * The entity executor: runs one batch of an entity's messages — operations one at a time in arrival
 * order, lock requests and releases — and decides the new record and the messages to send. It is a
 * generator so that it stays pure and synchronous: for each operation that needs the entity function
 * it yields an `EntityOperationCall`; the caller runs the (possibly async) user code with its context
 * and sends back how it ended. An operation that throws changes nothing (its state and signals are
 * dropped) and its caller gets the failure; the entity goes on with the next message.
 */
export function* runEntityBatch(input: EntityBatchInput): Generator<EntityOperationCall, EntityBatchResult, OperationOutcome> {
  const { entityId, now } = input;
  const self = entityId.toString();
  const ts = isoTime(now);
  const record: EntityRecord = { ...input.record, queue: [], released: input.record.released.filter((x) => now - x.at <= RELEASE_MEMORY_MS) };
  const out: OutgoingMessage[] = [];
  const failedSignals: EntityBatchResult["failedSignals"] = [];
  const ignored: string[] = [];
  const todo: (EntityRequestEvent | { type: "EntityCleanup" })[] = [...input.record.queue];
  for (const e of input.messages) {
    const typed = e.type === "EventRaised" ? entityRequestFromV1(e.name, e.input, self, e.eventId, e.timestamp) : e;
    if (typed && (typed.type === "EntityOperationCalled" || typed.type === "EntityOperationSignaled" || typed.type === "EntityLockRequested" || typed.type === "EntityUnlockSent" || typed.type === "EntityCleanup")) {
      todo.push(typed);
    } else {
      ignored.push(e.type === "EventRaised" ? `an event named '${e.name}'` : `a ${e.type} message`);
    }
  }
  const answer = (to: { parentInstanceId: string; parentExecutionId: string }, a: EntityResponseEvent): void => {
    out.push(entityAnswerMessage(to.parentInstanceId, to.parentExecutionId, a));
  };

  for (let i = 0; i < todo.length; i++) {
    const m = todo[i]!;
    switch (m.type) {
      case "EntityOperationCalled":
      case "EntityOperationSignaled": {
        if (record.lock && !isSameRequester(record.lock, m)) {
          record.queue.push(m);
          break;
        }
        const call = m.type === "EntityOperationCalled" ? m : undefined;
        const result = yield* runOperation(entityId, m.operation, m.input, m.requestId, !call, record, input.newRequestId, input.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
        if ("failure" in result) {
          if (call) answer(call, { type: "EntityOperationFailed", eventId: -1, timestamp: ts, requestId: m.requestId, failureDetails: result.failure });
          else failedSignals.push({ operation: m.operation, failure: result.failure });
          break;
        }
        for (const s of result.signals) out.push(entityRequestMessage({ ...s.request, timestamp: ts }, s.visibleAt));
        if (call) answer(call, { type: "EntityOperationCompleted", eventId: -1, timestamp: ts, requestId: m.requestId, ...(result.result !== undefined ? { result: result.result } : {}) });
        break;
      }
      case "EntityLockRequested": {
        if (record.released.some((x) => x.id === m.requestId) || record.lock?.requestId === m.requestId) break;
        if (record.lock) {
          record.queue.push(m);
          break;
        }
        record.lock = { requestId: m.requestId, parentInstanceId: m.parentInstanceId, parentExecutionId: m.parentExecutionId };
        // Locks are taken one entity after the other, in the sorted order of the request.
        const next = m.lockSet[m.position + 1];
        if (next !== undefined) out.push(entityRequestMessage(forwardLock(m, next, ts)));
        else answer(m, { type: "EntityLockGranted", eventId: -1, timestamp: ts, requestId: m.requestId });
        break;
      }
      case "EntityUnlockSent": {
        if (record.lock && record.lock.requestId === m.requestId && isSameRequester(record.lock, m)) {
          delete record.lock;
          // What waited for the lock comes next, ahead of what arrived after it.
          todo.splice(i + 1, 0, ...record.queue.splice(0));
        } else {
          // Released before it was granted here: forget the queued request, and drop it if it still comes.
          record.queue = record.queue.filter((q) => !(q.type === "EntityLockRequested" && q.requestId === m.requestId));
        }
        record.released = [...record.released, { id: m.requestId, at: now }].slice(-MAX_REMEMBERED_RELEASES);
        break;
      }
      case "EntityCleanup":
        break;
    }
  }

  const commit: StepCommit = {
    replaceHistory: false,
    newHistory: [],
    instance: { runtimeStatus: "Running", executionId: "", name: entityId.name, entityState: JSON.stringify(record) },
    activityTasks: [],
    messages: out,
    // An entity with no state, no lock and nothing queued leaves no row behind (unless more messages wait).
    deleteIfIdle: isEmptyEntity(record, now),
  };
  return { commit, record, failedSignals, ignored };
}

function forwardLock(m: EntityLockRequestedEvent, next: string, ts: string): EntityLockRequestedEvent {
  return { ...m, eventId: -1, timestamp: ts, targetInstanceId: next, position: m.position + 1 };
}

type OperationResult = { result: string | undefined; signals: DurableEntityContext["signals"] } | { failure: FailureDetails };

/** Runs one operation; a throw rolls back its state change and its signals, and fails only it. */
function* runOperation(
  entityId: EntityId,
  operation: string,
  input: string | undefined,
  requestId: string,
  isSignal: boolean,
  record: EntityRecord,
  newRequestId: () => string,
  maxPayloadBytes: number,
): Generator<EntityOperationCall, OperationResult, OperationOutcome> {
  if (operation.toLowerCase() === "delete") {
    // Built-in: removes the entity's state, whatever the entity function does.
    record.exists = false;
    delete record.state;
    return { result: undefined, signals: [] };
  }
  const context = new DurableEntityContext(entityId, operation, input, record.state, record.exists, newRequestId);
  const outcome = yield { context, operation, requestId, isSignal };
  if (!outcome.ok) return { failure: outcome.failure };
  let result: string | undefined;
  try {
    result = context.returned ? serializeBounded(context.returned.value, maxPayloadBytes, `The result of operation '${operation}'`) : undefined;
    // A new state too large to store: the operation fails and its change is not applied. A stored
    // state the operation left alone is not checked (a lowered limit must not lock an entity out).
    if (!context.destruct && context.stateText !== record.state) checkPayloadSize(context.stateText, maxPayloadBytes, `The state of entity ${entityId.toString()}`);
    for (const s of context.signals) checkPayloadSize(s.request.input, maxPayloadBytes, `The input of entity operation '${s.request.operation}'`);
  } catch (err) {
    return { failure: failureFromError(err) };
  }
  if (context.destruct) {
    record.exists = false;
    delete record.state;
  } else {
    record.exists = context.exists;
    if (context.stateText !== undefined) record.state = context.stateText;
  }
  return { result, signals: context.signals };
}
