import type { OrchestratorFunction } from "../core/context.js";
import type { DurableEntityContext } from "../core/entities/entity-context.js";
import { classEntityHandler, isClass } from "../core/entity-class.js";
import { DuplicateFunctionError, InvalidArgumentError, OrchestratorConstraintError } from "../core/errors.js";
import { HTTP_ACTIVITY_NAME } from "../core/http-task.js";
import { isSubMinuteSchedule, parseSchedule, type TimerSchedule } from "../core/ncrontab.js";
import { AppHooks } from "./app-hooks.js";
import { BindingHandlers } from "./bindings.js";
import type { ExceptionPropertiesProvider } from "./exception-properties.js";
import { httpActivity } from "./builtin-http-activity.js";
import type { FunctionInput, FunctionOutput, FunctionTrigger, InvocationContext } from "./invocation-context.js";
import { replaceAppSettings } from "./app-settings.js";

/**
 * What an activity receives: the invocation context of `@azure/functions` (log methods, extra
 * bindings, options), and Perdure's facts about the call.
 */
export interface ActivityContext extends InvocationContext {
  /** The orchestration that called the activity. */
  instanceId: string;
  /** Stable across re-executions of the same call: an idempotency key for side effects. */
  idempotencyKey: string;
  /** 1 on the first delivery; higher after a crash or lease expiry re-delivered the same call. */
  attempt: number;
}

export type ActivityHandler = (input: never, context: ActivityContext) => unknown;

export interface ActivityOptions {
  handler: ActivityHandler;
  /** Bindings the function declares (as in Azure Functions): the context's `options.extraInputs` and `options.extraOutputs`. */
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}

export interface OrchestrationOptions {
  handler: OrchestratorFunction;
}

/** An HTTP-triggered client function, served under `/api/<route>`. */
export interface HttpFunctionOptions {
  /** Route template under /api, e.g. `orchestrators/{orchestratorName}` (params in braces, `?` = optional). Default: the function name. */
  route?: string;
  /** Default GET and POST, as in Azure Functions. */
  methods?: string[];
  /** `anonymous` (default), or `function` (Azure's `admin` too): the host key is then required, as for management calls. */
  authLevel?: "anonymous" | "function" | "admin";
  /** Bindings the function declares (as in Azure Functions): the context's `options.extraInputs`. */
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
  handler: (request: never, client: never, context: never) => unknown;
}

export interface RegisteredHttpFunction {
  name: string;
  route: string;
  methods: string[];
  authLevel: "anonymous" | "function";
  extraInputs: FunctionInput[];
  extraOutputs: FunctionOutput[];
  handler: HttpFunctionOptions["handler"];
}

/**
 * A timer-triggered function (`app.timer` of @azure/functions, `df.app.client.timer`): the host runs
 * it on its schedule, once per occurrence across the hosts that share a store.
 */
export interface TimerFunctionOptions {
  /** NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`) or a TimeSpan (`hh:mm:ss`); `%NAME%` is read from the environment, as an app setting. */
  schedule: string;
  /** Run once when a host starts (each host, as in Azure). Default false. */
  runOnStartup?: boolean;
  /** Run a missed occurrence when a host starts (past due). Default true; always false for schedules more frequent than once a minute, as in Azure. */
  useMonitor?: boolean;
  /** The trigger binding `context.options.trigger` shows (default: a `timerTrigger` binding named `myTimer`). */
  trigger?: FunctionTrigger;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
  /** `(timer, client, context)`; what it returns is ignored. */
  handler: (timer: never, client: never, context: never) => unknown;
}

export interface RegisteredTimerFunction {
  name: string;
  schedule: TimerSchedule;
  runOnStartup: boolean;
  useMonitor: boolean;
  trigger: FunctionTrigger;
  extraInputs: FunctionInput[];
  extraOutputs: FunctionOutput[];
  handler: TimerFunctionOptions["handler"];
}

/** Azure's `%Name%` in a schedule: the app setting (here, the environment variable) of that name. */
function resolveAppSettings(text: string, fn: string): string {
  return replaceAppSettings(
    text,
    (setting) =>
      new InvalidArgumentError(`Timer function '${fn}': its schedule '${text}' names the app setting ${setting}, which is not set. Set the environment variable ${setting} (e.g. ${setting}="0 */5 * * * *"), or write the schedule itself.`),
  );
}

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/** The first argument of an entity function: an invocation context whose `df` is the entity context. */
/** What an entity function receives: the invocation context of `@azure/functions`, and `df`. */
export interface EntityFunctionContext<TState = unknown> extends InvocationContext {
  df: DurableEntityContext<TState>;
}

export type EntityHandler = (context: EntityFunctionContext<never>) => unknown;

export interface RegisteredFunction<T> {
  name: string;
  handler: T;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}

const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_\-.:]{0,127}$/;

/** Names with this prefix (any case) belong to Perdure's built-in functions. */
const BUILTIN_PREFIX = "builtin::";

/** Activities every app has without registering them: the worker side of `context.df.callHttp`. */
const BUILTIN_ACTIVITIES: ReadonlyMap<string, RegisteredFunction<ActivityHandler>> = new Map([
  [HTTP_ACTIVITY_NAME.toLowerCase(), { name: HTTP_ACTIVITY_NAME, handler: httpActivity }],
]);

/** Functions by case-insensitive name, as in Azure Functions. */
export class FunctionRegistry {
  private readonly orchestrations = new Map<string, RegisteredFunction<OrchestratorFunction>>();
  private readonly activities = new Map<string, RegisteredFunction<ActivityHandler>>();
  private readonly httpFunctions: RegisteredHttpFunction[] = [];
  private readonly timers: RegisteredTimerFunction[] = [];
  private readonly entities = new Map<string, RegisteredFunction<EntityHandler>>();
  private readonly taken = new Set<string>();
  /** Handlers of extra input and output bindings, by type (`app.setBindingHandler` of perdure/azure-functions). */
  readonly bindings = new BindingHandlers();
  /** `app.hook.appStart` / `appTerminate` of perdure/azure-functions: run by the host at start and stop. */
  readonly hooks = new AppHooks();
  /** What adds `properties` to activity failures (`df.app.setExceptionPropertiesProvider`). */
  exceptionPropertiesProvider: ExceptionPropertiesProvider | undefined;

  private claim(name: unknown): string {
    if (typeof name !== "string" || !FUNCTION_NAME.test(name)) {
      throw new InvalidArgumentError(
        `Invalid function name ${JSON.stringify(name)}: use 1-128 characters, starting with a letter or '_', then letters, digits, '_', '-', '.' or ':'.`,
      );
    }
    const key = name.toLowerCase();
    if (key.startsWith(BUILTIN_PREFIX)) {
      const builtin = BUILTIN_ACTIVITIES.get(key);
      throw new InvalidArgumentError(
        `Invalid function name '${name}': names starting with 'BuiltIn::' are reserved for Perdure's built-in functions` +
          (builtin ? ` ('${builtin.name}' runs the requests of context.df.callHttp and is always available).` : ".") +
          " Choose another name.",
      );
    }
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
    const bindings = typeof options === "function" ? {} : { extraInputs: options.extraInputs ?? [], extraOutputs: options.extraOutputs ?? [] };
    this.activities.set(key, { name, handler, ...bindings });
  }

  addHttpFunction(name: string, options: HttpFunctionOptions): void {
    if (typeof options?.handler !== "function") throw new InvalidArgumentError(`HTTP function '${String(name)}' needs { route, handler: (request, client, context) => response }.`);
    const route = (options.route ?? name).replace(/^\/+|\/+$/g, "");
    if (!/^[A-Za-z0-9_\-.~{}?/]*$/.test(route) || /\{[^}]*(\{|$)/.test(route)) {
      throw new InvalidArgumentError(`Invalid route '${route}' for HTTP function '${name}': use segments like orchestrators/{orchestratorName} or items/{id?}.`);
    }
    const methods = (options.methods ?? ["GET", "POST"]).map((m) => String(m).toUpperCase());
    for (const m of methods) if (!HTTP_METHODS.includes(m)) throw new InvalidArgumentError(`Unknown HTTP method '${m}' for HTTP function '${name}'.`);
    const level = options.authLevel ?? "anonymous";
    if (level !== "anonymous" && level !== "function" && level !== "admin") throw new InvalidArgumentError(`authLevel must be "anonymous", "function" or "admin" (HTTP function '${name}').`);
    // One key guards a Perdure host: Azure's function and admin keys are both that key here.
    const authLevel = level === "anonymous" ? "anonymous" : "function";
    this.claim(name);
    this.httpFunctions.push({ name, route, methods, authLevel, extraInputs: options.extraInputs ?? [], extraOutputs: options.extraOutputs ?? [], handler: options.handler });
  }

  get httpRoutes(): readonly RegisteredHttpFunction[] {
    return this.httpFunctions;
  }

  /** A timer function; its schedule is checked now, so a bad one fails at start-up with the field and the problem. */
  addTimerFunction(name: string, options: TimerFunctionOptions): void {
    if (typeof options?.handler !== "function") throw new InvalidArgumentError(`Timer function '${String(name)}' needs { schedule: "0 */5 * * * *", handler: (timer, context) => ... }.`);
    for (const flag of ["runOnStartup", "useMonitor"] as const) {
      const v = options[flag];
      if (v !== undefined && typeof v !== "boolean") throw new InvalidArgumentError(`Timer function '${String(name)}': ${flag} must be true or false, got ${JSON.stringify(v)}.`);
    }
    let schedule: TimerSchedule;
    try {
      schedule = parseSchedule(typeof options.schedule === "string" ? resolveAppSettings(options.schedule, String(name)) : options.schedule);
    } catch (err) {
      if (err instanceof InvalidArgumentError && !err.message.startsWith("Timer function")) throw new InvalidArgumentError(`Timer function '${String(name)}': ${err.message}`);
      throw err;
    }
    const runOnStartup = options.runOnStartup ?? false;
    const useMonitor = (options.useMonitor ?? true) && !isSubMinuteSchedule(schedule);
    this.claim(name);
    this.timers.push({
      name,
      schedule,
      runOnStartup,
      useMonitor,
      trigger: options.trigger ?? { type: "timerTrigger", name: "myTimer", schedule: options.schedule, runOnStartup, useMonitor },
      extraInputs: options.extraInputs ?? [],
      extraOutputs: options.extraOutputs ?? [],
      handler: options.handler,
    });
  }

  /** The timer functions, in registration order. */
  get timerFunctions(): readonly RegisteredTimerFunction[] {
    return this.timers;
  }

  /** A function `(context) => ...` or a class whose public methods are the operations and whose fields are the state. */
  addEntity(name: string, handlerOrClass: EntityHandler | { handler: EntityHandler; extraInputs?: FunctionInput[]; extraOutputs?: FunctionOutput[] } | (new () => object)): void {
    const fn = typeof handlerOrClass === "function" ? handlerOrClass : handlerOrClass?.handler;
    if (typeof fn !== "function") throw new InvalidArgumentError(`Entity '${String(name)}' needs a handler (context) => ... or a class.`);
    if (name.includes("@")) throw new InvalidArgumentError(`Entity name '${name}' must not contain '@'.`);
    const key = this.claim(name);
    const bindings = typeof handlerOrClass === "function" ? {} : { extraInputs: handlerOrClass.extraInputs ?? [], extraOutputs: handlerOrClass.extraOutputs ?? [] };
    this.entities.set(key, { name, handler: isClass(fn) ? classEntityHandler(fn as new () => object) : (fn as EntityHandler), ...bindings });
  }

  getEntity(name: string): RegisteredFunction<EntityHandler> | undefined {
    return this.entities.get(name.toLowerCase());
  }
  entityNames(): string[] {
    return [...this.entities.values()].map((f) => f.name);
  }

  getOrchestration(name: string): RegisteredFunction<OrchestratorFunction> | undefined {
    return this.orchestrations.get(name.toLowerCase());
  }
  /** A registered activity, or a built-in one (`BuiltIn::HttpActivity`). */
  getActivity(name: string): RegisteredFunction<ActivityHandler> | undefined {
    const key = name.toLowerCase();
    return this.activities.get(key) ?? BUILTIN_ACTIVITIES.get(key);
  }
  orchestrationNames(): string[] {
    return [...this.orchestrations.values()].map((f) => f.name);
  }
  /** The app's own activities (built-ins are not listed). */
  activityNames(): string[] {
    return [...this.activities.values()].map((f) => f.name);
  }
  get size(): number {
    return this.taken.size;
  }

  /** What a worker with this registry can run, as lower-case names (built-in activities included). */
  functionKeys(): { orchestrations: string[]; entities: string[]; activities: string[] } {
    return {
      orchestrations: [...this.orchestrations.keys()],
      entities: [...this.entities.keys()],
      activities: [...this.activities.keys(), ...BUILTIN_ACTIVITIES.keys()],
    };
  }
}
