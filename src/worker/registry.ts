import type { OrchestratorFunction } from "../core/context.js";
import { DuplicateFunctionError, InvalidArgumentError, OrchestratorConstraintError } from "../core/errors.js";

export interface ActivityContext {
  functionName: string;
  /** Unique per attempt of this activity call. */
  invocationId: string;
  /** The orchestration that called the activity. */
  instanceId: string;
  /** Stable across re-executions of the same call: an idempotency key for side effects. */
  idempotencyKey: string;
  /** 1 on the first delivery; higher after a crash or lease expiry re-delivered the same call. */
  attempt: number;
  log(...args: unknown[]): void;
}

export type ActivityHandler = (input: never, context: ActivityContext) => unknown;

export interface ActivityOptions {
  handler: ActivityHandler;
}

export interface OrchestrationOptions {
  handler: OrchestratorFunction;
}

export interface RegisteredFunction<T> {
  name: string;
  handler: T;
}

const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_\-.:]{0,127}$/;

/** Functions by case-insensitive name, as in Azure Functions. */
export class FunctionRegistry {
  private readonly orchestrations = new Map<string, RegisteredFunction<OrchestratorFunction>>();
  private readonly activities = new Map<string, RegisteredFunction<ActivityHandler>>();
  private readonly taken = new Set<string>();

  private claim(name: unknown): string {
    if (typeof name !== "string" || !FUNCTION_NAME.test(name)) {
      throw new InvalidArgumentError(
        `Invalid function name ${JSON.stringify(name)}: use 1-128 characters, starting with a letter or '_', then letters, digits, '_', '-', '.' or ':'.`,
      );
    }
    const key = name.toLowerCase();
    if (this.taken.has(key)) throw new DuplicateFunctionError(name);
    this.taken.add(key);
    return key;
  }

  addOrchestration(name: string, handlerOrOptions: OrchestratorFunction | OrchestrationOptions): void {
    const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : handlerOrOptions?.handler;
    if (typeof handler !== "function") throw new InvalidArgumentError(`Orchestration '${String(name)}' needs a generator function as its handler.`);
    const kind = handler.constructor?.name;
    if (kind === "AsyncFunction" || kind === "AsyncGeneratorFunction") {
      throw new OrchestratorConstraintError(
        `Orchestration '${name}' is an async function; orchestrators must be synchronous generators (function* (context) { ... }) that yield tasks, so they can be replayed.`,
      );
    }
    const key = this.claim(name);
    this.orchestrations.set(key, { name, handler });
  }

  addActivity(name: string, options: ActivityOptions | ActivityHandler): void {
    const handler = typeof options === "function" ? options : options?.handler;
    if (typeof handler !== "function") throw new InvalidArgumentError(`Activity '${String(name)}' needs { handler: (input, context) => result }.`);
    const key = this.claim(name);
    this.activities.set(key, { name, handler });
  }

  getOrchestration(name: string): RegisteredFunction<OrchestratorFunction> | undefined {
    return this.orchestrations.get(name.toLowerCase());
  }
  getActivity(name: string): RegisteredFunction<ActivityHandler> | undefined {
    return this.activities.get(name.toLowerCase());
  }
  orchestrationNames(): string[] {
    return [...this.orchestrations.values()].map((f) => f.name);
  }
  activityNames(): string[] {
    return [...this.activities.values()].map((f) => f.name);
  }
  get size(): number {
    return this.taken.size;
  }
}
