/**
 * The types of registered-function handles (what `df.app.activity` / `df.app.orchestration` return),
 * kept apart from their implementation so `context.df` can accept a handle without an import cycle.
 */
import type { RetryOptions } from "./retry-options.js";
import type { Task } from "./tasks.js";

export interface RegisteredActivityTask<TOutput = unknown> extends Task<TOutput> {
  /** The same call, retried by the policy. Only before the task is yielded. */
  withRetry(retryOptions: RetryOptions): Task<TOutput>;
}

/** The input parameter of a typed call: optional when the function takes undefined (or is untyped). */
export type InputArgs<TInput> = undefined extends TInput ? [input?: TInput] : [input: TInput];

/**
 * A registered activity: call it for the task (`yield* sayHello("Tokyo")`), or pass it to
 * `context.df.callActivity(handle, input)`. The types carry the handler's input and output, so a
 * call with the wrong input does not compile and `yield*` gives the output's type; untyped
 * (`RegisteredActivity`) it accepts anything, as in durable-functions.
 */
export interface RegisteredActivity<TInput = unknown, TOutput = unknown> {
  (...args: InputArgs<TInput>): RegisteredActivityTask<TOutput>;
  /** The function's name, as registered. */
  readonly functionName: string;
}

export interface RegisteredOrchestrationTask<TOutput = unknown> extends Task<TOutput> {
  withRetry(retryOptions: RetryOptions): Task<TOutput>;
}
export interface RegisteredOrchestration<TInput = unknown, TOutput = unknown> {
  (...args: undefined extends TInput ? [input?: TInput, instanceId?: string] : [input: TInput, instanceId?: string]): RegisteredOrchestrationTask<TOutput>;
  readonly functionName: string;
}

/** The name of a function given by name or by its handle. */
export function functionNameOf(nameOrHandle: unknown): unknown {
  if (typeof nameOrHandle !== "function") return nameOrHandle;
  const name: unknown = (nameOrHandle as unknown as { functionName?: unknown }).functionName;
  return typeof name === "string" ? name : nameOrHandle;
}
