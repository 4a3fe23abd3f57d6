import type { DurableEntityContext } from "./entities/entity-context.js";
import { InvalidArgumentError } from "./errors.js";
import type { Task } from "./tasks.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- operations take any input
type AnyMethod = (...args: any[]) => unknown;

/** The operation names of a class-based entity: its public methods. */
export type EntityOperationName<T> = { [K in keyof T]: T[K] extends AnyMethod ? K : never }[keyof T] & string;
/** A class-based entity's operations: its public methods. */
export type EntityClassOperations<T> = { [K in EntityOperationName<T>]: T[K] };
/** A class-based entity's state: its fields (what is saved as JSON after each operation). */
export type EntityClassState<T> = { [K in keyof T as T[K] extends AnyMethod ? never : K]: T[K] };
type InputOf<F> = F extends (input: infer I, ...rest: never[]) => unknown ? I : undefined;

export function isClass(fn: unknown): boolean {
  return typeof fn === "function" && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function operationsOf(proto: object): Map<string, string> {
  const ops = new Map<string, string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === "constructor" || name.startsWith("_") || name.startsWith("#")) continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d && typeof d.value === "function" && !ops.has(name.toLowerCase())) ops.set(name.toLowerCase(), name);
    }
  }
  return ops;
}

/**
 * Adapts a class to an entity function: the state is the instance's fields (restored with
 * Object.assign before each operation, saved as JSON after it), and an operation calls the method of
 * that name (case-insensitive) with the input; its return value goes back to a caller.
 */
export function classEntityHandler(Ctor: new () => object): (context: { df: DurableEntityContext<Record<string, unknown>> }) => Promise<void> {
  const ops = operationsOf(Ctor.prototype as object);
  return async ({ df }) => {
    const op = df.operationName ?? "";
    const method = ops.get(op.toLowerCase());
    if (!method) {
      throw new InvalidArgumentError(`Entity '${df.entityName}' has no operation '${op}'. Its operations are: ${[...ops.values()].join(", ") || "(none)"}.`);
    }
    const instance = new Ctor() as Record<string, unknown>;
    const state = df.getState();
    if (state && typeof state === "object") Object.assign(instance, state);
    const result = await (instance[method] as AnyMethod).call(instance, df.getInput());
    df.setState({ ...instance });
    if (result !== undefined) df.return(result);
  };
}

/**
 * Typed calls to a class-based entity from an orchestration:
 * `const counter = df.entityProxy<Counter>(context.df, id); yield counter.add(5);`
 */
export function entityProxy<T>(
  df: { callEntity(entityId: { name: string; key: string }, operationName: string, input?: unknown): Task },
  entityId: { name: string; key: string },
): { [K in EntityOperationName<T>]: (input?: InputOf<T[K]>) => Task } {
  return operationsProxy((op, input) => df.callEntity(entityId, op, input));
}

/**
 * Typed signals to a class-based entity from an orchestration, an entity or a client:
 * `df.signalProxy<Counter>(client, id).add(5)` (a client's signal returns a promise).
 */
export function signalProxy<T, R = unknown>(
  target: { signalEntity(entityId: { name: string; key: string }, operationName: string, input?: unknown): R },
  entityId: { name: string; key: string },
): { [K in EntityOperationName<T>]: (input?: InputOf<T[K]>) => R } {
  return operationsProxy((op, input) => target.signalEntity(entityId, op, input));
}

/** An object whose every property is an operation: `proxy.add(5)` calls `invoke("add", 5)`. */
function operationsProxy<P>(invoke: (op: string, input: unknown) => unknown): P {
  return new Proxy({}, {
    // "then" must stay undefined, or `await proxy` would treat the proxy as a promise.
    get: (_target, op) => (typeof op === "string" && op !== "then" ? (input?: unknown) => invoke(op, input) : undefined),
  }) as P;
}
