/**
 * The names of the `durable-functions` 3.x package that Perdure's own names do not already cover:
 * the handler and option types of its registration API, its triggers, test contexts, lock
 * objects, and the stand-ins for what only exists on Azure. With the rest of `src/index.ts`, every
 * name the package exports exists here (test/compat/exports.test.ts holds the list).
 */
import type { OrchestratorFunction } from "./core/context.js";
import type { DurableOrchestrationContext } from "./core/context.js";
import type { DurableEntityContext } from "./core/entities/entity-context.js";
import { LockHandle } from "./core/entity-tasks.js";
export { LockState } from "./core/entity-tasks.js";
import type { DurableClient, WaitOrCheckStatusOptions } from "./client/durable-client.js";
import type { ClientFunctionContext, HttpClientRequest } from "./http/client-functions.js";
import { type FunctionInput, type FunctionOutput, type FunctionTrigger, InvocationContext, type LogHandler } from "./runtime/invocation-context.js";
import type { EntityFunctionContext } from "./runtime/registry.js";

// ---- Orchestrations ----

export type OrchestrationHandler = OrchestratorFunction;
export interface OrchestrationOptions {
  handler: OrchestrationHandler;
  trigger?: FunctionTrigger;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
  return?: FunctionOutput;
}
export interface OrchestrationTrigger extends FunctionTrigger {
  type: "orchestrationTrigger";
}

// ---- Activities ----

/**
 * As in durable-functions, the context is typed as an `InvocationContext`, so a unit test can call a
 * handler with `new InvocationContext()`; at run time it is an `ActivityContext` (instance ID,
 * attempt, idempotency key) — write `(input, context: ActivityContext)` to use those.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an activity's input is whatever the orchestrator passed
export type ActivityHandler = (input: any, context: InvocationContext) => unknown;
export interface ActivityOptions {
  handler: ActivityHandler;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}
export interface ActivityTrigger extends FunctionTrigger {
  type: "activityTrigger";
}

// ---- Entities ----

export type EntityContext<T = unknown> = EntityFunctionContext<T>;
export type EntityHandler<T = unknown> = (context: EntityContext<T>) => unknown;
export interface EntityOptions<T = unknown> {
  handler: EntityHandler<T>;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}
export interface EntityTrigger extends FunctionTrigger {
  type: "entityTrigger";
}

/**
 * durable-functions 3.5's name for the lock handle (`yield context.df.lock(...)`): its
 * `ownedLocks`, `release()`, and `using` (Symbol.dispose) are Perdure's LockHandle's.
 */
export { LockHandle as DurableLock };

// ---- Triggers and inputs ----

/** The trigger bindings durable-functions declares; Perdure needs none, and returns their shape. */
export const trigger = {
  activity: (): ActivityTrigger => ({ type: "activityTrigger", name: "activityTrigger" }),
  orchestration: (): OrchestrationTrigger => ({ type: "orchestrationTrigger", name: "orchestrationTrigger" }),
  entity: (): EntityTrigger => ({ type: "entityTrigger", name: "entityTrigger" }),
};

export interface DurableClientInput extends FunctionInput {
  type: "durableClient";
}

// ---- Client functions ----

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a trigger's payload is the trigger's own
export type DurableClientHandler = (triggerInput: any, client: DurableClient, context: InvocationContext) => unknown;
export interface DurableClientOptions {
  handler: DurableClientHandler;
  trigger?: FunctionTrigger;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
  return?: FunctionOutput;
}
export type HttpDurableClientHandler = (request: HttpClientRequest, client: DurableClient, context: ClientFunctionContext) => unknown;
export interface HttpDurableClientOptions {
  route?: string;
  methods?: string[];
  authLevel?: "anonymous" | "function" | "admin";
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
  handler: HttpDurableClientHandler;
}
/** The timer trigger's payload, as @azure/functions v4 gives it. */
export interface Timer {
  isPastDue: boolean;
  schedule?: { adjustForDST: boolean };
  scheduleStatus?: { last: string; next: string; lastUpdated: string };
}
export type TimerDurableClientHandler = (timer: Timer, client: DurableClient, context: InvocationContext) => unknown;
export interface TimerDurableClientOptions extends Omit<DurableClientOptions, "handler"> {
  schedule: string;
  runOnStartup?: boolean;
  useMonitor?: boolean;
  handler: TimerDurableClientHandler;
}
/**
 * Client functions on Azure's other triggers (blobs, queues, Service Bus, Event Hubs, Event Grid,
 * Cosmos DB): the types exist so ported code compiles; there is no such trigger outside Azure, and
 * registering one fails with UNSUPPORTED_TRIGGER, which names the way out (an HTTP client function,
 * or the client in your own consumer of that service).
 */
export type StorageBlobDurableClientHandler = DurableClientHandler;
export type StorageBlobDurableClientOptions = DurableClientOptions & { path: string; connection: string };
export type StorageQueueDurableClientHandler = DurableClientHandler;
export type StorageQueueDurableClientOptions = DurableClientOptions & { queueName: string; connection: string };
export type ServiceBusQueueDurableClientHandler = DurableClientHandler;
export type ServiceBusQueueDurableClientOptions = DurableClientOptions & { queueName: string; connection: string };
export type ServiceBusTopicDurableClientHandler = DurableClientHandler;
export type ServiceBusTopicDurableClientOptions = DurableClientOptions & { topicName: string; subscriptionName: string; connection: string };
export type EventHubDurableClientHandler = DurableClientHandler;
export type EventHubDurableClientOptions = DurableClientOptions & { eventHubName: string; connection: string };
export type EventGridDurableClientHandler = DurableClientHandler;
export type EventGridDurableClientOptions = DurableClientOptions;
export type CosmosDBDurableClientHandler = DurableClientHandler;
export type CosmosDBv3DurableClientOptions = DurableClientOptions & { connectionStringSetting: string; databaseName: string; collectionName: string };
export type CosmosDBv4DurableClientOptions = DurableClientOptions & { connection: string; databaseName: string; containerName: string };
export type CosmosDBDurableClientOptions = CosmosDBv3DurableClientOptions | CosmosDBv4DurableClientOptions;

export interface TaskHubOptions {
  taskHubName?: string;
  connectionName?: string;
}
/** durable-functions' name for the options of waitForCompletionOrCreateCheckStatusResponse. */
export type WaitForCompletionOptions = WaitOrCheckStatusOptions;

export type { ExceptionPropertiesProvider } from "./runtime/exception-properties.js";

// ---- Errors ----

/** The errors of a `Task.all` (declared by durable-functions, whose Task.all throws the first error; so does Perdure's). */
export class AggregatedError extends Error {
  constructor(readonly errors: Error[]) {
    super(`context.df.Task.all() encountered the below error messages:\n\n${errors.map((e) => `Name: ${e.name}\nMessage: ${e.message}\nStackTrace: ${e.stack ?? ""}`).join("\n-----------------------------------\n")}`);
    this.name = "AggregatedError";
  }
}

// ---- Azure-only ----

/**
 * An Azure managed identity, for `callHttp({ tokenSource })`: the worker gets a token for `resource`
 * from the identity endpoint Azure App Service, Functions and Container Apps provide (IDENTITY_ENDPOINT,
 * IDENTITY_HEADER) and sends it as `Authorization: Bearer`. Elsewhere the request fails with
 * MANAGED_IDENTITY_UNAVAILABLE, which says to pass an Authorization header instead.
 */
export class ManagedIdentityTokenSource {
  readonly kind = "AzureManagedIdentity";
  constructor(readonly resource: string) {}
}
export type TokenSource = ManagedIdentityTokenSource;

// ---- Test contexts ----

/**
 * The contexts durable-functions offers for unit tests of handlers; as there, `df` is not set:
 * a test gives it what it needs (Perdure's own way to test orchestrators is a test host).
 */
export class DummyOrchestrationContext extends InvocationContext {
  df: DurableOrchestrationContext = undefined as unknown as DurableOrchestrationContext;
  constructor(functionName = "dummyContextFunctionName", invocationId: string = globalThis.crypto.randomUUID(), logHandler?: LogHandler) {
    super({ functionName, invocationId, ...(logHandler ? { logHandler } : {}), options: { trigger: trigger.orchestration() } });
  }
}
export class DummyEntityContext<T = unknown> extends InvocationContext {
  df: DurableEntityContext<T> = undefined as unknown as DurableEntityContext<T>;
  constructor(functionName = "dummyContextFunctionName", invocationId: string = globalThis.crypto.randomUUID(), logHandler?: LogHandler) {
    super({ functionName, invocationId, ...(logHandler ? { logHandler } : {}), options: { trigger: trigger.entity() } });
  }
}
