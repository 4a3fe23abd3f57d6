/**
 * `perdure/azure-functions`: what a Durable Functions app imports from `@azure/functions` v4 — `app.http`
 * for its HTTP starters, `HttpRequest`, `HttpResponse`, `InvocationContext`, and binding factories —
 * served by a Perdure host. Registrations go to the same app as `df.app`, so an Azure app's files run
 * under `perdure start` with only their imports changed.
 */
import { createHash } from "node:crypto";
import { DurableError } from "./core/errors.js";
import { app as durableApp } from "./app.js";
import type { HttpRequest, HttpResponse, HttpResponseInit } from "./runtime/http-messages.js";
import type { FunctionBinding, FunctionInput, FunctionOutput, FunctionTrigger, InvocationContext } from "./runtime/invocation-context.js";
import type { BindingHandler } from "./runtime/bindings.js";
import { type AppStartHandler, type AppTerminateHandler, type Disposable, unsupportedInvocationHook } from "./runtime/app-hooks.js";

export { HttpRequest, HttpResponse } from "./runtime/http-messages.js";
export type { Cookie, HttpHeadersInit, HttpRequestInit, HttpRequestUser, HttpResponseBodyInit, HttpResponseInit } from "./runtime/http-messages.js";
export { InvocationContext } from "./runtime/invocation-context.js";
export type { BindingHandler } from "./runtime/bindings.js";
export type {
  EffectiveFunctionOptions,
  FunctionInput,
  FunctionOutput,
  FunctionTrigger,
  InvocationContextInit,
  InvocationLogLevel as LogLevel,
  LogHandler,
  RetryContext,
  TraceContext,
  TriggerMetadata,
} from "./runtime/invocation-context.js";

export type FunctionResult<T = unknown> = T | Promise<T>;
export type { AppStartContext, AppStartHandler, AppTerminateContext, AppTerminateHandler, Disposable, HookContext } from "./runtime/app-hooks.js";
/** `app.setup` of @azure/functions: options of Azure's worker, with no effect here. */
export interface SetupOptions {
  enableHttpStream?: boolean;
  capabilities?: Record<string, string>;
}
export type HttpMethod = "GET" | "POST" | "DELETE" | "HEAD" | "PATCH" | "PUT" | "OPTIONS" | "TRACE" | "CONNECT";
export type HttpHandler = (request: HttpRequest, context: InvocationContext) => FunctionResult<HttpResponseInit | HttpResponse>;

export interface HttpTriggerOptions {
  /** `anonymous` (default), or `function`/`admin`: the host's key is then required. */
  authLevel?: "anonymous" | "function" | "admin";
  /** Default GET and POST. */
  methods?: HttpMethod[];
  /** Under /api; default the function name. `{name}` is a parameter, `{name?}` an optional one. */
  route?: string;
}
export interface HttpFunctionOptions extends HttpTriggerOptions {
  handler: HttpHandler;
  trigger?: FunctionTrigger;
  return?: FunctionOutput;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}
export type HttpMethodFunctionOptions = Omit<HttpFunctionOptions, "methods">;

/** What a timer function receives: times are ISO strings (`last`: the previous occurrence run, `next`: the one after this run, `lastUpdated`: now). */
export interface ScheduleStatus {
  last: string;
  next: string;
  lastUpdated: string;
}
export interface Timer {
  /** The run is late: a host started after an occurrence no host ran, or several occurrences were missed and this run stands for them. */
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  scheduleStatus: ScheduleStatus;
}
export type TimerHandler = (myTimer: Timer, context: InvocationContext) => FunctionResult;
export interface TimerTriggerOptions {
  /** NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}` (every five minutes: `0 *\/5 * * * *`) or a TimeSpan `hh:mm:ss`. */
  schedule: string;
  /** Run once when a host starts. */
  runOnStartup?: boolean;
  /** Run a missed occurrence when a host starts (default true). */
  useMonitor?: boolean;
}
export type TimerTrigger = FunctionTrigger & TimerTriggerOptions;
export interface TimerFunctionOptions extends TimerTriggerOptions {
  handler: TimerHandler;
  trigger?: FunctionTrigger;
  return?: FunctionOutput;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}

/** A timer function: run by the host on its schedule, once per occurrence across the hosts sharing the store. */
function timer(name: string, options: TimerFunctionOptions): void {
  const triggerOptions: TimerTriggerOptions = {
    schedule: options?.schedule,
    ...(options?.runOnStartup !== undefined ? { runOnStartup: options.runOnStartup } : {}),
    ...(options?.useMonitor !== undefined ? { useMonitor: options.useMonitor } : {}),
  };
  durableApp.client.timer(name, {
    ...triggerOptions,
    trigger: options?.trigger ?? trigger.timer(triggerOptions),
    ...(options?.extraInputs !== undefined ? { extraInputs: options.extraInputs } : {}),
    ...(options?.extraOutputs !== undefined ? { extraOutputs: options.extraOutputs } : {}),
    handler:
      typeof options?.handler === "function"
        ? (myTimer: unknown, _client: unknown, context: InvocationContext) => options.handler(myTimer as Timer, context)
        : options?.handler,
  });
}

/** Azure names bindings it generates `<type><hash of the binding>`; so does this, so names are stable across runs. */
function named<T extends { type: string; name?: string }>(binding: T): T & { name: string } {
  if (binding.name) return binding as T & { name: string };
  const hash = createHash("sha256").update(JSON.stringify(binding)).digest("hex").slice(0, 10);
  return { ...binding, name: `${binding.type}${hash}` };
}

function http(name: string, options: HttpFunctionOptions): void {
  durableApp.client.http(name, {
    ...(options.route !== undefined ? { route: options.route } : {}),
    ...(options.methods !== undefined ? { methods: options.methods } : {}),
    ...(options.authLevel !== undefined ? { authLevel: options.authLevel } : {}),
    ...(options.extraInputs !== undefined ? { extraInputs: options.extraInputs } : {}),
    ...(options.extraOutputs !== undefined ? { extraOutputs: options.extraOutputs } : {}),
    handler: (request: HttpRequest, _client: unknown, context: InvocationContext) => options.handler(request, context),
  });
}

function forMethod(method: HttpMethod) {
  return (name: string, handlerOrOptions: HttpHandler | HttpMethodFunctionOptions): void =>
    http(name, typeof handlerOrOptions === "function" ? { methods: [method], handler: handlerOrOptions } : { ...handlerOrOptions, methods: [method] });
}

export const app = {
  http,
  get: forMethod("GET"),
  put: forMethod("PUT"),
  post: forMethod("POST"),
  patch: forMethod("PATCH"),
  deleteRequest: forMethod("DELETE"),
  timer,
  /**
   * Perdure's own: runs the extra bindings of `type` (case-insensitive) for every function of the app
   * (activities, entities, HTTP functions): `input` gives an extra input's value before the function
   * runs, `output` delivers each value set in `context.extraOutputs` after it returned. `blob` is built
   * in (a local folder); a handler registered for it replaces that. A later call for a type replaces
   * the earlier handler.
   */
  setBindingHandler: (type: string, handler: BindingHandler): void => durableApp.registry.bindings.set(type, handler),
  /** Azure's worker options (HTTP streaming, capabilities): nothing to set on a Perdure host, accepted for ported code. */
  setup: (_options?: SetupOptions): void => undefined,
  hook: {
    /** Runs when a host starts, before it takes work (the host does not start if it throws). */
    appStart: (handler: AppStartHandler): Disposable => durableApp.registry.hooks.appStart(handler),
    /** Runs when a host stops, after its work drained (a failure is logged). */
    appTerminate: (handler: AppTerminateHandler): Disposable => durableApp.registry.hooks.appTerminate(handler),
    preInvocation: (_handler: unknown): never => unsupportedInvocationHook("preInvocation"),
    postInvocation: (_handler: unknown): never => unsupportedInvocationHook("postInvocation"),
  },
  storageBlob: unsupportedTrigger("storageBlob", "a blob"),
  storageQueue: unsupportedTrigger("storageQueue", "a storage queue"),
  serviceBusQueue: unsupportedTrigger("serviceBusQueue", "a Service Bus queue"),
  serviceBusTopic: unsupportedTrigger("serviceBusTopic", "a Service Bus topic"),
  eventHub: unsupportedTrigger("eventHub", "an event hub"),
  eventGrid: unsupportedTrigger("eventGrid", "Event Grid"),
  cosmosDB: unsupportedTrigger("cosmosDB", "a Cosmos DB container"),
  sql: unsupportedTrigger("sql", "an Azure SQL table"),
  mySql: unsupportedTrigger("mySql", "a MySQL table"),
  webPubSub: unsupportedTrigger("webPubSub", "Web PubSub"),
  warmup: unsupportedTrigger("warmup", "an Azure instance's warm-up"),
  generic: unsupportedTrigger("generic", "the trigger"),
};

/**
 * Functions on Azure's other triggers: there is no such trigger outside Azure. Registering one fails
 * at start-up with the way out, rather than leaving a function that never runs.
 */
function unsupportedTrigger(kind: string, source: string): (name: string, options: unknown) => never {
  return (name: string) => {
    throw new DurableError(
      "UNSUPPORTED_TRIGGER",
      `app.${kind}('${name}'): Perdure has no ${kind} trigger (it exists only on Azure). Read ${source} in your own consumer and start orchestrations with a client (df.createRemoteClient(url)), or run the function from app.http or app.timer.`,
    );
  };
}

export interface GenericBindingOptions {
  type: string;
  name?: string;
  [option: string]: unknown;
}

/** `input.storageBlob` / `output.storageBlob`: a blob at `path` (`container/name`, binding expressions allowed) of the storage named by the app setting `connection`. */
export interface StorageBlobOptions {
  path: string;
  connection: string;
}
export type StorageBlobInputOptions = StorageBlobOptions;
export type StorageBlobOutputOptions = StorageBlobOptions;
export type StorageBlobInput = FunctionInput & StorageBlobInputOptions;
export type StorageBlobOutput = FunctionOutput & StorageBlobOutputOptions;

/** The options of the other bindings (`queueName`, `connection`, ...), given to the handler as declared. */
export type BindingOptions = Record<string, unknown>;

/** Bindings of a type Perdure does not run itself: an app runs them with `app.setBindingHandler(type, ...)`. */
const ofType =
  (type: string) =>
  (options: BindingOptions): FunctionBinding =>
    named({ ...options, type });

export const input = {
  storageBlob: (options: StorageBlobInputOptions): StorageBlobInput => named({ ...options, type: "blob" }),
  table: ofType("table"),
  cosmosDB: ofType("cosmosDB"),
  sql: ofType("sql"),
  mySql: ofType("mysql"),
  generic: (options: GenericBindingOptions): FunctionInput => named(options),
};

export const output = {
  storageBlob: (options: StorageBlobOutputOptions): StorageBlobOutput => named({ ...options, type: "blob" }),
  http: (options: Record<string, unknown> = {}): FunctionOutput => named({ ...options, type: "http" }),
  table: ofType("table"),
  storageQueue: ofType("queue"),
  serviceBusQueue: ofType("serviceBus"),
  serviceBusTopic: ofType("serviceBus"),
  eventHub: ofType("eventHub"),
  eventGrid: ofType("eventGrid"),
  cosmosDB: ofType("cosmosDB"),
  sql: ofType("sql"),
  mySql: ofType("mysql"),
  webPubSub: ofType("webPubSub"),
  generic: (options: GenericBindingOptions): FunctionOutput => named(options),
};

export const trigger = {
  http: (options: HttpTriggerOptions = {}): FunctionTrigger => named({ authLevel: "anonymous", methods: ["GET", "POST"], ...options, type: "httpTrigger" }),
  timer: (options: TimerTriggerOptions): TimerTrigger => named({ ...options, type: "timerTrigger" }),
  generic: (options: GenericBindingOptions): FunctionTrigger => named(options),
};
