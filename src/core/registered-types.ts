/**
 * The types of registered-function handles (what `df.app.activity` / `df.app.orchestration` /
 * `df.app.entity` return), kept apart from their implementation so `context.df` can accept a handle
 * without an import cycle.
 */
import type { EntityId } from "./entity-id.js";
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

declare const entityTypes: unique symbol;

/**
 * An entity's operations as methods, name → (input) => output:
 * `{ add(amount: number): void; reset(): void; get(): number }`. The default takes any operation.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped entities take any input and give any output
export type AnyEntityOperations = Record<string, (input?: any) => any>;

/**
 * The ID of one entity of a registered kind (`handle.id(key)`): an EntityId at run time, whose type
 * carries the entity's state and operations, so calls, signals and reads through it are checked.
 */
export type TypedEntityId<TState = unknown, TOperations = AnyEntityOperations> = EntityId & {
  readonly [entityTypes]?: { state: TState; operations: TOperations };
};

/**
 * A registered entity: `counter.id("a")` is the typed ID of the entity `counter` with key `a`. The
 * types come from the class (its methods are the operations, its fields the state), or for a
 * function entity from the type arguments: `df.app.entity<number, CounterOperations>("counter", fn)`.
 */
export interface RegisteredEntity<TState = unknown, TOperations = AnyEntityOperations> {
  /** The entity's name, as registered. */
  readonly functionName: string;
  id(key: string): TypedEntityId<TState, TOperations>;
}

/** The operations an entity ID's type carries: a typed ID's, or any operation for a plain EntityId. */
export type OperationsOf<I> = I extends { readonly [entityTypes]?: { operations: infer O } } ? (unknown extends O ? AnyEntityOperations : O) : AnyEntityOperations;
/** The state an entity ID's type carries: a typed ID's, or `TDefault` for a plain EntityId. */
export type StateOf<I, TDefault = unknown> = I extends { readonly [entityTypes]?: { state: infer S } } ? (unknown extends S ? TDefault : S) : TDefault;
/** The operation names of an entity's operations. */
export type OperationName<TOperations> = Extract<keyof TOperations, string>;
/** An operation's input: its method's first parameter (undefined when it takes none). */
export type OperationInput<F> = F extends (...args: infer A) => unknown ? (A extends [] ? undefined : A[0]) : unknown;
/** What an operation returns to a caller. */
export type OperationOutput<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;
/** The input argument of an operation: optional when it may be undefined. */
export type OperationArgs<TOperations, K extends keyof TOperations> = InputArgs<OperationInput<TOperations[K]>>;

/** The name of a function given by name or by its handle. */
export function functionNameOf(nameOrHandle: unknown): unknown {
  if (typeof nameOrHandle !== "function") return nameOrHandle;
  const name: unknown = (nameOrHandle as unknown as { functionName?: unknown }).functionName;
  return typeof name === "string" ? name : nameOrHandle;
}
