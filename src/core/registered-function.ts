/**
 * What `df.app.activity` and `df.app.orchestration` return, as in durable-functions v3: a function
 * that makes the task calling the registered function (`yield sayHello("Tokyo")` inside an
 * orchestrator), with `.withRetry(options)` for a retried call.
 */
import { requireRetryOptions } from "./context.js";
import { InvalidArgumentError } from "./errors.js";
import { validateInstanceId } from "./instance-id.js";
import { serializePayload } from "./payload.js";
import type { RetryOptions } from "./retry-options.js";
import { ActivityTask, type AtomicTask, RetryableTask, SubOrchestrationTask, type Task } from "./tasks.js";

export interface RegisteredActivityTask extends Task {
  /** The same call, retried by the policy. Only before the task is yielded. */
  withRetry(retryOptions: RetryOptions): Task;
}
export type RegisteredActivity = (input?: unknown) => RegisteredActivityTask;

export interface RegisteredOrchestrationTask extends Task {
  withRetry(retryOptions: RetryOptions): Task;
}
export type RegisteredOrchestration = (input?: unknown, instanceId?: string) => RegisteredOrchestrationTask;

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

export function registeredActivity(name: string): RegisteredActivity {
  return (input?: unknown) => {
    const payload = serializePayload(input, `The input of activity '${name}'`);
    return withRetry(new ActivityTask(name, payload), `activity '${name}'`, () => new ActivityTask(name, payload));
  };
}

export function registeredOrchestration(name: string): RegisteredOrchestration {
  return (input?: unknown, instanceId?: string) => {
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
    return withRetry(new SubOrchestrationTask(name, payload, instanceId), `orchestration '${name}'`, attempt);
  };
}
