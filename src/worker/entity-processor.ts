import { randomUUID } from "node:crypto";
import { DurableEntityContext } from "../core/entity-context.js";
import { type Envelope, type EntityRecord, isEmptyEntity, MAX_REMEMBERED_RELEASES, readEntityRecord, RELEASE_MEMORY_MS } from "../core/entity-record.js";
import { EntityId } from "../core/entity-id.js";
import {
  ENTITY_CLEANUP_EVENT,
  ENTITY_LOCK_EVENT,
  ENTITY_OPERATION_EVENT,
  ENTITY_RELEASE_EVENT,
  type LockMessage,
  type LockOwner,
  type OperationMessage,
  type OperationResponse,
  type ReleaseMessage,
} from "../core/entity-messages.js";
import { FunctionNotFoundError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { serializePayload } from "../core/payload.js";
import type { OrchestrationCommit, OrchestrationWorkItem, OutgoingMessage } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import type { StepOutcome } from "./step-outcome.js";
import type { FunctionRegistry } from "../runtime/registry.js";

const sameOwner = (a: LockOwner | undefined, b: LockOwner | undefined): boolean => !!a && !!b && a.instanceId === b.instanceId && a.executionId === b.executionId;

/**
 * Runs one batch of an entity's messages: operations one at a time in arrival order (each with its
 * own rollback), lock requests and releases. The whole batch — new state, responses, signals and
 * forwarded lock requests — becomes one commit.
 */
export class EntityProcessor {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async process(item: OrchestrationWorkItem): Promise<StepOutcome> {
    const id = EntityId.fromInstanceId(item.instanceId);
    const now = this.clock.now();
    const ts = new Date(now).toISOString();
    const record = readEntityRecord(item.instance.entityState);
    record.released = record.released.filter((x) => now - x.at <= RELEASE_MEMORY_MS);
    const out: OutgoingMessage[] = [];
    const todo: Envelope[] = [...record.queue];
    record.queue = [];
    for (const m of item.messages) {
      const e = m.message.event;
      if (e.type === "EventRaised" && e.input !== undefined) todo.push({ name: e.name, input: e.input });
    }
    const raise = (instanceId: string, name: string, payload: unknown, executionId?: string, visibleAt?: number): void => {
      const msg: OutgoingMessage = { instanceId, message: { event: { type: "EventRaised", eventId: -1, timestamp: ts, name, input: JSON.stringify(payload) } } };
      if (executionId !== undefined) msg.message.executionId = executionId;
      if (visibleAt !== undefined) msg.visibleAt = visibleAt;
      out.push(msg);
    };

    for (let i = 0; i < todo.length; i++) {
      const env = todo[i]!;
      let body: unknown;
      try {
        body = JSON.parse(env.input);
      } catch {
        this.logger.warn(`Entity ${id.toString()}: dropped a malformed '${env.name}' message.`);
        continue;
      }
      if (env.name === ENTITY_OPERATION_EVENT) {
        const msg = body as OperationMessage;
        if (record.lock && !sameOwner(record.lock.owner, msg.parent)) {
          record.queue.push(env);
          continue;
        }
        const response = await this.runOperation(id, msg, record, (signal) => raise(signal.target, ENTITY_OPERATION_EVENT, signal.message, undefined, signal.visibleAt));
        if (!msg.signal && msg.parent) raise(msg.parent.instanceId, msg.id, response, msg.parent.executionId);
      } else if (env.name === ENTITY_LOCK_EVENT) {
        const msg = body as LockMessage;
        if (record.released.some((x) => x.id === msg.id) || record.lock?.id === msg.id) continue;
        if (record.lock) {
          record.queue.push(env);
          continue;
        }
        record.lock = { id: msg.id, owner: msg.owner };
        const next = msg.entities[msg.position + 1];
        // Locks are taken one entity after the other, in the sorted order of the request.
        if (next !== undefined) raise(next, ENTITY_LOCK_EVENT, { ...msg, position: msg.position + 1 });
        else raise(msg.owner.instanceId, msg.id, { locked: true }, msg.owner.executionId);
      } else if (env.name === ENTITY_RELEASE_EVENT) {
        const msg = body as ReleaseMessage;
        if (record.lock && record.lock.id === msg.id && sameOwner(record.lock.owner, msg.owner)) {
          delete record.lock;
          // What waited for the lock comes next, ahead of what arrived after it.
          todo.splice(i + 1, 0, ...record.queue.splice(0));
        } else {
          // Released before it was granted here: forget the queued request, and drop it if it still comes.
          record.queue = record.queue.filter((q) => !(q.name === ENTITY_LOCK_EVENT && (JSON.parse(q.input) as LockMessage).id === msg.id));
        }
        record.released = [...record.released, { id: msg.id, at: now }].slice(-MAX_REMEMBERED_RELEASES);
      } else if (env.name !== ENTITY_CLEANUP_EVENT) {
        this.logger.warn(`Entity ${id.toString()}: ignored an unknown '${env.name}' message.`);
      }
    }

    const commit: OrchestrationCommit = {
      item,
      replaceHistory: false,
      newHistory: [],
      consumedMessageIds: item.messages.map((m) => m.id),
      instance: { runtimeStatus: "Running", executionId: "", name: id.name, entityState: JSON.stringify(record) },
      activityTasks: [],
      messages: out,
      // An entity with no state, no lock and nothing queued leaves no row behind (unless more messages wait).
      deleteIfIdle: isEmptyEntity(record, now),
    };
    return { kind: "commit", commit, after: () => undefined };
  }

  /** Runs one operation; a throw rolls back its state change and its signals, and fails only it. */
  private async runOperation(
    id: EntityId,
    msg: OperationMessage,
    record: EntityRecord,
    signal: (s: DurableEntityContext["signals"][number]) => void,
  ): Promise<OperationResponse> {
    if (msg.op.toLowerCase() === "delete") {
      // Built-in: removes the entity's state, whatever the entity function does.
      record.exists = false;
      delete record.state;
      return {};
    }
    const fn = this.registry.getEntity(id.name);
    const context = new DurableEntityContext(id, msg.op, msg.input, record.state, record.exists, () => randomUUID());
    try {
      if (!fn) throw new FunctionNotFoundError("entity", id.name, this.registry.entityNames());
      await (fn.handler as (c: unknown) => unknown)({
        df: context,
        functionName: fn.name,
        invocationId: msg.id,
        log: (...args: unknown[]) => this.logger.info(`[${id.toString()} ${msg.op}] ${args.map(String).join(" ")}`),
      });
      const result = context.returned ? serializePayload(context.returned.value, `The result of operation '${msg.op}'`) : undefined;
      if (context.destruct) {
        record.exists = false;
        delete record.state;
      } else {
        record.exists = context.exists;
        if (context.stateText !== undefined) record.state = context.stateText;
      }
      for (const s of context.signals) signal(s);
      return result === undefined ? {} : { result };
    } catch (err) {
      const error = failureFromError(err);
      if (msg.signal) this.logger.warn(`Entity ${id.toString()}: signalled operation '${msg.op}' failed: ${error.message}`);
      return { error };
    }
  }
}
