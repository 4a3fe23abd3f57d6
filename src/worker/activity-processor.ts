import { isoTime } from "../core/iso-time.js";
import { FunctionNotFoundError, HistoryUnreadableError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { withExceptionProperties } from "../runtime/exception-properties.js";
import type { TaskCompletedEvent, TaskFailedEvent } from "../core/history.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, parsePayload, serializeBounded } from "../core/payload.js";
import type { ActivityWorkItem } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import { type BindingInvocation, declaresBindings, dropUndeclaredOutputs, invokeWithBindings } from "../runtime/bindings.js";
import { InvocationContext, type LogHandler, loggerHandler } from "../runtime/invocation-context.js";
import type { LogFields, Logger } from "../runtime/logger.js";
import type { ActivityContext, ActivityHandler, FunctionRegistry, RegisteredFunction } from "../runtime/registry.js";

/** An activity's context: Azure's `InvocationContext` with the call's facts, in one shape from the start. */
class ActivityInvocationContext extends InvocationContext implements ActivityContext {
  readonly instanceId: string;
  readonly idempotencyKey: string;
  readonly attempt: number;

  constructor(item: ActivityWorkItem, fn: RegisteredFunction<ActivityHandler>, logger: Logger) {
    super({
      functionName: fn.name,
      invocationId: `${item.instanceId}:${item.taskScheduledId}:${item.dequeueCount}`,
      // The log fields are built when the function first logs, not for every call.
      logHandler: lazyLogHandler(logger, () => logFields(item, fn)),
      // A trigger object per call: options are the function's to read and change, as in Azure's
      // InvocationContext, and one shared object would carry a call's change into the next.
      options: { trigger: { type: "activityTrigger", name: "input" }, extraInputs: fn.extraInputs ?? [], extraOutputs: fn.extraOutputs ?? [] },
    });
    this.instanceId = item.instanceId;
    this.idempotencyKey = `${item.instanceId}:${item.executionId}:${item.taskScheduledId}`;
    this.attempt = item.dequeueCount;
  }
}

function logFields(item: ActivityWorkItem, fn: RegisteredFunction<ActivityHandler>): LogFields {
  return { instanceId: item.instanceId, executionId: item.executionId, functionName: fn.name, functionType: "activity", taskScheduledId: item.taskScheduledId };
}

function lazyLogHandler(logger: Logger, fields: () => LogFields): LogHandler {
  let handler: LogHandler | undefined;
  return (level, ...args) => (handler ??= loggerHandler(logger, fields()))(level, ...args);
}

type ActivityEvent = TaskCompletedEvent | TaskFailedEvent;

/**
 * Runs one activity call and turns its outcome into the completion event for the orchestration.
 * Whatever the function throws or returns becomes data here (a failure, or a result that is not
 * JSON-serializable becoming a failure): nothing it does can escape into the worker.
 * `contextExtras` are added to the activity's context (the host puts the durable client there, so
 * `df.getClient(context)` works inside activities).
 *
 * A function that declares no bindings and returns a value (not a promise) is answered without a
 * promise: most activity calls, and a promise and an async frame per call were a measurable part of
 * the engine's own cost per step.
 */
export function runActivity(
  item: ActivityWorkItem,
  registry: FunctionRegistry,
  clock: Clock,
  logger: Logger,
  contextExtras: Record<symbol, unknown> = {},
  maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): ActivityEvent | Promise<ActivityEvent> {
  const fn = registry.getActivity(item.name);
  const failed = (err: unknown): TaskFailedEvent => {
    const failureDetails = withExceptionProperties(failureFromError(err), err, registry.exceptionPropertiesProvider, logger, fn?.name ?? item.name);
    return {
      eventId: -1,
      taskScheduledId: item.taskScheduledId,
      type: "TaskFailed",
      timestamp: isoTime(clock.now()),
      reason: `Activity function '${fn?.name ?? item.name}' failed: ${failureDetails.errorMessage}`,
      failureDetails,
    };
  };
  try {
    if (!fn) throw new FunctionNotFoundError("activity", item.name, registry.activityNames());
    // An input that cannot be read fails the call (the orchestrator sees why), instead of running it on nothing.
    if (item.unreadable) throw new HistoryUnreadableError(item.unreadable);
    const context = new ActivityInvocationContext(item, fn, logger);
    Object.assign(context, contextExtras);
    const handler = fn.handler as (input: unknown, ctx: ActivityContext) => unknown;
    const what = `The result of activity '${fn.name}'`;
    const completed = (result: string | undefined): TaskCompletedEvent => {
      const done: TaskCompletedEvent = { eventId: -1, type: "TaskCompleted", timestamp: isoTime(clock.now()), taskScheduledId: item.taskScheduledId };
      if (result !== undefined) done.result = result;
      return done;
    };
    const invocation: BindingInvocation = {
      handlers: registry.bindings,
      logger,
      kind: "Activity",
      triggerData: () => parsePayload(item.input),
      triggerDataLabel: "the activity's input",
      fields: () => logFields(item, fn),
    };
    if (!declaresBindings(fn)) {
      // What invokeWithBindings does for a function without bindings, minus its promises.
      const finish = (value: unknown): TaskCompletedEvent => {
        const text = serializeBounded(value, maxPayloadBytes, what);
        dropUndeclaredOutputs(context, invocation);
        return completed(text);
      };
      const value = handler(parsePayload(item.input), context);
      return isThenable(value) ? Promise.resolve(value).then(finish).catch(failed) : finish(value);
    }
    // Output bindings are delivered only for a result that can be recorded. Binding expressions
    // ({backupPath}) read the input as it was sent, whatever the handler did to its copy.
    const run = async (): Promise<string | undefined> => serializeBounded(await handler(parsePayload(item.input), context), maxPayloadBytes, what);
    return invokeWithBindings(context, run, invocation).then(completed).catch(failed);
  } catch (err) {
    return failed(err);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}
