import type { OrchestrationContext, OrchestratorFunction } from "../core/context.js";
import { InvalidArgumentError } from "../core/errors.js";
import type { ActivityContext, ActivityHandler, EntityHandler, FunctionRegistry, RegisteredFunction } from "../runtime/registry.js";

/** A scripted failure: the call throws this error (a string becomes `new Error(string)`). */
export interface MockFailure {
  error: Error | string;
}

/**
 * What a mocked function does: a value is returned as it is; a function `(input, context) => result`
 * is called (async allowed for activities; sub-orchestration mocks must answer synchronously); a
 * `{ error }` object throws. To return an object whose only field is `error`, use a function.
 */
export type MockBehavior<TContext = unknown> = MockFunction<TContext> | MockFailure | MockValue;

/** A mock function: called with the input the function got (parsed) and its context. */
export type MockFunction<TContext = unknown> = (input: any, context: TContext) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any -- inputs are whatever the caller passed

/** A value a mock returns as it is (it must be JSON-serializable, as any result). */
export type MockValue = string | number | boolean | null | undefined | object;

/** One recorded call of an activity or a mocked sub-orchestration, in the order the calls started. */
export type RecordedCall = { input: unknown; result: unknown } | { input: unknown; error: Error } | { input: unknown; pending: true };

export function isMockFailure(b: unknown): b is MockFailure {
  if (typeof b !== "object" || b === null || Array.isArray(b)) return false;
  const keys = Object.keys(b);
  const e = (b as { error?: unknown }).error;
  return keys.length === 1 && keys[0] === "error" && (e instanceof Error || typeof e === "string");
}

export function failureError(f: MockFailure): Error {
  return f.error instanceof Error ? f.error : new Error(f.error);
}

/** Runs a behaviour: the value, the function's answer, or the scripted error thrown. */
export function answer<C>(behavior: MockBehavior<C>, input: unknown, context: C): unknown {
  if (typeof behavior === "function") return (behavior as (i: unknown, c: C) => unknown)(input, context);
  if (isMockFailure(behavior)) throw failureError(behavior);
  return behavior;
}

/**
 * A mock that answers each call with the next outcome of the list (the last one repeats): e.g.
 * `mockSequence({ error: "down" }, { error: "down" }, "ok")` fails twice, then succeeds.
 */
export function mockSequence(...outcomes: MockBehavior[]): (input: unknown, context: unknown) => unknown {
  if (outcomes.length === 0) throw new InvalidArgumentError("mockSequence needs at least one outcome.");
  let n = 0;
  return (input, context) => answer(outcomes[Math.min(n++, outcomes.length - 1)], input, context);
}

/** Operation name perdure/testing uses to write an entity's state through the entity itself. */
export const SEED_OPERATION = "perdure.testing.seedState";

/**
 * The mocks and call records of one test host, and the registry the host runs: the app's registry
 * seen through the mocks (the app itself is never changed, so one app serves many test hosts).
 */
export class MockRegistry {
  private readonly activities = new Map<string, { name: string; behavior: MockBehavior<ActivityContext> }>();
  private readonly orchestrations = new Map<string, { name: string; behavior: MockBehavior<OrchestrationContext> }>();
  private readonly records = new Map<string, RecordedCall[]>();
  readonly registry: FunctionRegistry;

  constructor(private readonly base: FunctionRegistry) {
    this.registry = this.overlay();
  }

  mockActivity(name: string, behavior: MockBehavior<ActivityContext>, started: boolean): void {
    const key = this.checkName("mockActivity", name, this.activities, started, this.base.getActivity(name) !== undefined);
    this.activities.set(key, { name, behavior });
  }

  mockSubOrchestration(name: string, behavior: MockBehavior<OrchestrationContext>, started: boolean): void {
    const key = this.checkName("mockSubOrchestration", name, this.orchestrations, started, this.base.getOrchestration(name) !== undefined);
    this.orchestrations.set(key, { name, behavior });
  }

  calls(name: string): RecordedCall[] {
    return (this.records.get(name.toLowerCase()) ?? []).map((c) => ({ ...c }));
  }

  private checkName(method: string, name: string, mocks: Map<string, unknown>, started: boolean, known: boolean): string {
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError(`${method}: the function name must be a non-empty string.`);
    const key = name.toLowerCase();
    if (mocks.has(key)) {
      throw new InvalidArgumentError(`${method}('${name}'): '${name}' is already mocked on this test host. Mock each name once; for answers that change from call to call, pass a function or mockSequence(...).`);
    }
    if (started && !known) {
      throw new InvalidArgumentError(`${method}('${name}'): the test host has started already and has no function named '${name}' it could replace. Mock new names before the first start(), raiseEvent() or runUntilIdle().`);
    }
    return key;
  }

  /** A new record, pending until its outcome is written into it. */
  private record(name: string): Record<string, unknown> {
    const key = name.toLowerCase();
    const list = this.records.get(key) ?? [];
    this.records.set(key, list);
    const call: Record<string, unknown> = { input: undefined, pending: true };
    list.push(call as RecordedCall);
    return call;
  }

  /** Wraps an activity handler so that each call is recorded with its input and outcome. */
  private recordingActivity(name: string, run: (input: unknown, context: ActivityContext) => unknown): ActivityHandler {
    return (async (input: unknown, context: ActivityContext) => {
      const call = this.record(name);
      call.input = copy(input);
      try {
        const result = await run(input, context);
        delete call.pending;
        call.result = copy(result);
        return result;
      } catch (err) {
        delete call.pending;
        call.error = err instanceof Error ? err : new Error(String(err));
        throw err;
      }
    });
  }

  private mockOrchestrator(name: string, behavior: MockBehavior<OrchestrationContext>): OrchestratorFunction {
    const record = (): Record<string, unknown> => this.record(name);
    // eslint-disable-next-line require-yield -- a mocked sub-orchestration answers at once
    return function* (context: OrchestrationContext) {
      const input = context.df.getInput();
      const call = context.df.isReplaying ? undefined : record();
      if (call) call.input = copy(input);
      try {
        const result = answer(behavior, input, context);
        if (result instanceof Promise) throw new InvalidArgumentError(`The mock of sub-orchestration '${name}' returned a Promise: orchestrations answer synchronously; return the value itself.`);
        if (call) {
          delete call.pending;
          call.result = copy(result);
        }
        return result;
      } catch (err) {
        if (call) {
          delete call.pending;
          call.error = err instanceof Error ? err : new Error(String(err));
        }
        throw err;
      }
    };
  }

  /** The base registry, seen through the mocks; every activity call is recorded, mocked or not. */
  private overlay(): FunctionRegistry {
    const base = this.base;
    const view = Object.create(base) as FunctionRegistry;
    const activity = (name: string): RegisteredFunction<ActivityHandler> | undefined => {
      const mock = this.activities.get(name.toLowerCase());
      if (mock) return { name: mock.name, handler: this.recordingActivity(mock.name, (input, ctx) => answer(mock.behavior, input, ctx)) };
      const real = base.getActivity(name);
      if (!real) return undefined;
      const handler = real.handler as (input: unknown, ctx: ActivityContext) => unknown;
      return { ...real, handler: this.recordingActivity(real.name, handler) };
    };
    const orchestration = (name: string): RegisteredFunction<OrchestratorFunction> | undefined => {
      const mock = this.orchestrations.get(name.toLowerCase());
      return mock ? { name: mock.name, handler: this.mockOrchestrator(mock.name, mock.behavior) } : base.getOrchestration(name);
    };
    const entity = (name: string): RegisteredFunction<EntityHandler> | undefined => {
      const real = base.getEntity(name);
      if (!real) return undefined;
      // The seed operation writes the state it is given, through the entity's own step.
      const handler = (context: Parameters<EntityHandler>[0] & { df: { operationName: string | undefined; getInput(): unknown; setState(s: unknown): void } }) => {
        if (context.df.operationName === SEED_OPERATION) {
          context.df.setState(context.df.getInput());
          return undefined;
        }
        return (real.handler as (c: unknown) => unknown)(context);
      };
      return { ...real, handler };
    };
    const merge = (a: string[], b: Iterable<string>): string[] => [...new Set([...a, ...b])];
    Object.assign(view, {
      getActivity: activity,
      getOrchestration: orchestration,
      getEntity: entity,
      activityNames: () => merge(base.activityNames(), [...this.activities.values()].map((m) => m.name)),
      orchestrationNames: () => merge(base.orchestrationNames(), [...this.orchestrations.values()].map((m) => m.name)),
      functionKeys: () => {
        const keys = base.functionKeys();
        return { ...keys, orchestrations: merge(keys.orchestrations, this.orchestrations.keys()), activities: merge(keys.activities, this.activities.keys()) };
      },
    });
    return view;
  }
}

function copy(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}
