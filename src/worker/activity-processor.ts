import { FunctionNotFoundError, HistoryUnreadableError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { withExceptionProperties } from "../runtime/exception-properties.js";
import type { TaskCompletedEvent, TaskFailedEvent } from "../core/history.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, parsePayload, serializeBounded } from "../core/payload.js";
import type { ActivityWorkItem } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import { invokeWithBindings } from "../runtime/bindings.js";
import { InvocationContext, loggerHandler } from "../runtime/invocation-context.js";
import type { Logger } from "../runtime/logger.js";
import type { ActivityContext, FunctionRegistry } from "../runtime/registry.js";

/**
 * Runs one activity call and turns its outcome into the completion event for the orchestration.
 * Whatever the function throws or returns becomes data here (a failure, or a result that is not
 * JSON-serializable becoming a failure): nothing it does can escape into the worker.
 * `contextExtras` are added to the activity's context (the host puts the durable client there, so
 * `df.getClient(context)` works inside activities).
 */
export async function runActivity(
  item: ActivityWorkItem,
  registry: FunctionRegistry,
  clock: Clock,
  logger: Logger,
  contextExtras: Record<symbol, unknown> = {},
  maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): Promise<TaskCompletedEvent | TaskFailedEvent> {
  const fn = registry.getActivity(item.name);
  const base = { eventId: -1, taskScheduledId: item.taskScheduledId };
  try {
    if (!fn) throw new FunctionNotFoundError("activity", item.name, registry.activityNames());
    // An input that cannot be read fails the call (the orchestrator sees why), instead of running it on nothing.
    if (item.unreadable) throw new HistoryUnreadableError(item.unreadable);
    const fields = { instanceId: item.instanceId, executionId: item.executionId, functionName: fn.name, functionType: "activity", taskScheduledId: item.taskScheduledId };
    const invocation = new InvocationContext({
      functionName: fn.name,
      invocationId: `${item.instanceId}:${item.taskScheduledId}:${item.dequeueCount}`,
      logHandler: loggerHandler(logger, fields),
      options: { trigger: { type: "activityTrigger", name: "input" }, extraInputs: fn.extraInputs ?? [], extraOutputs: fn.extraOutputs ?? [] },
    });
    const context: ActivityContext = Object.assign(invocation, {
      instanceId: item.instanceId,
      idempotencyKey: `${item.instanceId}:${item.executionId}:${item.taskScheduledId}`,
      attempt: item.dequeueCount,
    });
    Object.assign(context, contextExtras);
    // Output bindings are delivered only for a result that can be recorded. Binding expressions
    // ({backupPath}) read the input as it was sent, whatever the handler did to its copy.
    const run = async (): Promise<string | undefined> =>
      serializeBounded(await (fn.handler as (input: unknown, ctx: ActivityContext) => unknown)(parsePayload(item.input), context), maxPayloadBytes, `The result of activity '${fn.name}'`);
    const result = await invokeWithBindings(context, run, {
      handlers: registry.bindings,
      logger,
      kind: "Activity",
      triggerData: () => parsePayload(item.input),
      triggerDataLabel: "the activity's input",
      fields,
    });
    const done: TaskCompletedEvent = { ...base, type: "TaskCompleted", timestamp: new Date(clock.now()).toISOString() };
    if (result !== undefined) done.result = result;
    return done;
  } catch (err) {
    const failureDetails = withExceptionProperties(failureFromError(err), err, registry.exceptionPropertiesProvider, logger, fn?.name ?? item.name);
    return {
      ...base,
      type: "TaskFailed",
      timestamp: new Date(clock.now()).toISOString(),
      reason: `Activity function '${fn?.name ?? item.name}' failed: ${failureDetails.errorMessage}`,
      failureDetails,
    };
  }
}
