/**
 * What `df.app.activity` and `df.app.orchestration` return, as in durable-functions v3: a function
 * that makes the task calling the registered function (`yield sayHello("Tokyo")` inside an
 * orchestrator), with `.withRetry(options)` for a retried call.
 */
import { requireRetryOptions } from "./context.js";
import { EntityId } from "./entity-id.js";
import { InvalidArgumentError } from "./errors.js";
import { validateInstanceId } from "./instance-id.js";
import { serializePayload } from "./payload.js";
import type { RetryOptions } from "./retry-options.js";
import type { RegisteredActivity, RegisteredActivityTask, RegisteredEntity, RegisteredOrchestration, RegisteredOrchestrationTask, TypedEntityId } from "./registered-types.js";
import { ActivityTask, type AtomicTask, RetryableTask, SubOrchestrationTask, type Task } from "./tasks.js";

function withRetry<T extends AtomicTask>(task: T, what: string, make: () => T): T & { withRetry(retryOptions: RetryOptions): Task } {
  return Object.assign(task, {
    withRetry(retryOptions: RetryOptions): Task {
      if (task.id !== -1) {
        throw new InvalidArgumentError(`Invalid use of .withRetry on the call of ${what}: the task was already yielded. Call withRetry on a new call: yield fn(input).withRetry(options).`);
      }
      const options = requireRetryOptions(retryOptions);
      return new RetryableTask(options, make);
    },
  });
}

export function registeredActivity<TInput = unknown, TOutput = unknown>(name: string): RegisteredActivity<TInput, TOutput> {
  const call = (input?: unknown): RegisteredActivityTask<TOutput> => {
    const payload = serializePayload(input, `The input of activity '${name}'`);
    return withRetry(new ActivityTask(name, payload), `activity '${name}'`, () => new ActivityTask(name, payload)) as unknown as RegisteredActivityTask<TOutput>;
  };
  return Object.defineProperty(call, "functionName", { value: name, enumerable: true }) as unknown as RegisteredActivity<TInput, TOutput>;
}

export function registeredOrchestration<TInput = unknown, TOutput = unknown>(name: string): RegisteredOrchestration<TInput, TOutput> {
  const call = (input?: unknown, instanceId?: string): RegisteredOrchestrationTask<TOutput> => {
    if (instanceId !== undefined) validateInstanceId(instanceId);
    const payload = serializePayload(input, `The input of sub-orchestration '${name}'`);
    let attempts = 0;
    const attempt = (): SubOrchestrationTask => {
      const task = new SubOrchestrationTask(name, payload, instanceId);
      // The rule is checked when the call is yielded (the first attempt); later attempts start while
      // a retry timer fires, where an error could not reach the code, as context.df's retries.
      task.checkedAtCall = attempts++ > 0;
      return task;
    };
    return withRetry(new SubOrchestrationTask(name, payload, instanceId), `orchestration '${name}'`, attempt) as unknown as RegisteredOrchestrationTask<TOutput>;
  };
  return Object.defineProperty(call, "functionName", { value: name, enumerable: true }) as unknown as RegisteredOrchestration<TInput, TOutput>;
}

export function registeredEntity<TState, TOperations>(name: string): RegisteredEntity<TState, TOperations> {
  return {
    functionName: name,
    // A typed ID is an EntityId: its types exist only for the compiler.
    id: (key: string): TypedEntityId<TState, TOperations> => new EntityId(name, key),
  };
}
