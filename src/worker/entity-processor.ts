import { randomUUID } from "node:crypto";
import { EntityId } from "../core/entity-id.js";
import { type EntityOperationCall, type OperationOutcome, runEntityBatch } from "../core/entities/entity-executor.js";
import { readEntityRecord } from "../core/entities/entity-record.js";
import { FunctionNotFoundError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { PARK_CODES, type RetryPolicy } from "../core/step-policy.js";
import { planEntityStep } from "../core/step-plan.js";
import { orchestrationCommit, type OrchestrationWorkItem } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import { invokeWithBindings } from "../runtime/bindings.js";
import { InvocationContext, loggerHandler } from "../runtime/invocation-context.js";
import type { Logger } from "../runtime/logger.js";
import { endSpan, SpanKind, type Telemetry } from "../runtime/telemetry.js";
import type { EntityHandler, FunctionRegistry, RegisteredFunction } from "../runtime/registry.js";
import type { StepOutcome } from "./step-outcome.js";

/**
 * Runs one batch of an entity's messages with core's entity executor, which decides everything; this
 * class only runs the entity function (user code, possibly async) for each operation it asks for.
 */
export class EntityProcessor {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly telemetry: Telemetry,
    private readonly maxPayloadBytes?: number,
  ) {}

  async process(item: OrchestrationWorkItem, policy: Pick<RetryPolicy, "maxDequeueCount">): Promise<StepOutcome> {
    const id = EntityId.fromInstanceId(item.instanceId);
    const fn = this.registry.getEntity(id.name);
    const plan = planEntityStep({ parked: item.instance.parked, dequeueCount: item.dequeueCount, hasFunction: fn !== undefined }, policy);
    if (plan.kind === "park" || !fn) {
      const code = plan.kind === "park" ? plan.code : PARK_CODES.functionNotFound;
      const message = code === PARK_CODES.functionNotFound ? new FunctionNotFoundError("entity", id.name, this.registry.entityNames()).message : plan.kind === "park" ? plan.message : "";
      return { kind: "park", code, message };
    }
    if (item.unreadable) return { kind: "park", code: PARK_CODES.historyUnreadable, message: item.unreadable };
    let record;
    try {
      record = readEntityRecord(item.instance.entityState, item.instanceId);
    } catch (err) {
      return { kind: "park", code: PARK_CODES.historyUnreadable, message: `The stored state of entity ${id.toString()} could not be read: ${failureFromError(err).errorMessage}` };
    }
    const batch = runEntityBatch({
      entityId: id,
      record,
      messages: item.messages.map((m) => m.message.event),
      now: this.clock.now(),
      newRequestId: () => randomUUID(),
      ...(this.maxPayloadBytes !== undefined ? { maxPayloadBytes: this.maxPayloadBytes } : {}),
    });
    // Each operation's span continues the trace of the message that asked for it.
    const traces = new Map<string, Readonly<Record<string, string>> | undefined>();
    for (const m of item.messages) {
      const e = m.message.event as { requestId?: unknown };
      if (typeof e.requestId === "string") traces.set(e.requestId, m.message.metadata);
    }
    let step = batch.next();
    while (!step.done) step = batch.next(await this.runOperation(fn, step.value, traces.get(step.value.requestId)));
    const result = step.value;
    for (const s of result.failedSignals) this.logger.warn(`Entity ${id.toString()}: signalled operation '${s.operation}' failed: ${s.failure.errorMessage}`);
    for (const what of result.ignored) this.logger.warn(`Entity ${id.toString()}: ignored ${what}.`);
    return { kind: "commit", commit: orchestrationCommit(result.commit, { kind: "lease", item, consumedMessageIds: item.messages.map((m) => m.id) }), after: () => undefined };
  }

  /** Runs the entity function for one operation; whatever it throws becomes the operation's failure. */
  private async runOperation(fn: RegisteredFunction<EntityHandler>, call: EntityOperationCall, trace: Readonly<Record<string, string>> | undefined): Promise<OperationOutcome> {
    const entity = call.context.entityId.toString();
    const parent = this.telemetry.resume(trace);
    const span = this.telemetry.start(`entity ${fn.name} ${call.operation}`, parent, SpanKind.INTERNAL, {
      "perdure.instance_id": entity,
      "perdure.function": fn.name,
      "perdure.operation": call.operation,
      "perdure.signal": call.isSignal,
    });
    try {
      const fields = { instanceId: entity, functionName: fn.name, functionType: "entity", operation: call.operation };
      const context = Object.assign(
        new InvocationContext({
          functionName: fn.name,
          invocationId: call.requestId,
          logHandler: loggerHandler(this.logger, fields),
          options: { trigger: { type: "entityTrigger", name: "context" }, extraInputs: fn.extraInputs ?? [], extraOutputs: fn.extraOutputs ?? [] },
        }),
        { df: call.context },
      );
      await this.telemetry.within(span, parent, () =>
        invokeWithBindings(context, () => (fn.handler as (c: unknown) => unknown)(context), {
          handlers: this.registry.bindings,
          logger: this.logger,
          kind: "Entity",
          triggerData: () => call.context.getInput(),
          triggerDataLabel: `the input of operation '${call.operation}'`,
          fields,
        }),
      );
      endSpan(span);
      return { ok: true };
    } catch (err) {
      const failure = failureFromError(err);
      endSpan(span, new Error(failure.errorMessage));
      return { ok: false, failure };
    }
  }
}
