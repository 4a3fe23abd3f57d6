import type { OrchestrationContext, OrchestratorFunction } from "./core/context.js";
import type { Task } from "./core/tasks.js";
import { DurableError } from "./core/errors.js";
import type {
  CosmosDBDurableClientOptions,
  DurableClientOptions,
  EventGridDurableClientOptions,
  EventHubDurableClientOptions,
  ServiceBusQueueDurableClientOptions,
  ServiceBusTopicDurableClientOptions,
  StorageBlobDurableClientOptions,
  StorageQueueDurableClientOptions,
  TimerDurableClientOptions,
} from "./durable-functions.js";
import { registeredActivity, registeredEntity, registeredOrchestration } from "./core/registered-function.js";
import type { AnyEntityOperations, RegisteredActivity, RegisteredEntity, RegisteredOrchestration } from "./core/registered-types.js";
import type { EntityClassOperations, EntityClassState } from "./core/entity-class.js";
import type { ClientFunctionContext, HostDurableClient, HttpClientRequest } from "./http/client-functions.js";
import type { FunctionInput, FunctionOutput } from "./runtime/invocation-context.js";
import { checkExceptionPropertiesProvider, type ExceptionPropertiesProvider } from "./runtime/exception-properties.js";
import { type ActivityContext, type EntityFunctionContext, FunctionRegistry, type OrchestrationOptions } from "./runtime/registry.js";

/** An orchestrator returning TOutput; what a `yield` receives is `any`, as in durable-functions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the value sent back into the generator is whatever the task produced
type OrchestrationGenerator<TOutput> = (context: OrchestrationContext) => Generator<Task, TOutput, any>;

/**
 * `df.app`: where an app registers its functions, with the names of durable-functions v3. The
 * default `app` is shared by the module (as in Azure Functions); `createApp()` gives an isolated one
 * for tests and embedding.
 */
export class DurableApp {
  readonly registry = new FunctionRegistry();

  /**
   * Registers an orchestrator; the handle it returns calls it as a sub-orchestration
   * (`yield* handle(input)`, or `context.df.callSubOrchestrator(handle, input)`, or
   * `client.startNew(handle, { input })`). The output type comes from the generator's return; the
   * input type, which the generator does not declare, from the first type argument:
   * `df.app.orchestration<Order, Receipt>("checkout", function* (context) { ... })`.
   */
  orchestration<TInput = unknown, TOutput = unknown>(
    name: string,
    handler: OrchestrationGenerator<TOutput> | { handler: OrchestrationGenerator<TOutput> },
  ): RegisteredOrchestration<TInput, TOutput> {
    this.registry.addOrchestration(name, handler as OrchestratorFunction | OrchestrationOptions);
    return registeredOrchestration<TInput, TOutput>(name);
  }

  /** Registers an activity; the handle it returns carries the handler's input and output types. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- activity inputs are whatever the orchestrator passed
  activity<TInput = any, TOutput = unknown>(
    name: string,
    options: { handler: (input: TInput, context: ActivityContext) => TOutput; extraInputs?: FunctionInput[]; extraOutputs?: FunctionOutput[] },
  ): RegisteredActivity<TInput, Awaited<TOutput>> {
    this.registry.addActivity(name, options);
    return registeredActivity<TInput, Awaited<TOutput>>(name);
  }

  /**
   * durable-functions 3.5: `provider.getExceptionProperties(error)` is asked about every error an
   * activity throws; what it returns is recorded as the failure's `properties`, which the orchestrator
   * reads as `err.failureDetails.properties`. null removes it.
   */
  setExceptionPropertiesProvider(provider: ExceptionPropertiesProvider | null): void {
    this.registry.exceptionPropertiesProvider = checkExceptionPropertiesProvider(provider);
  }

  /**
   * Registers an entity: a function `(context) => { context.df.getState() ... }` (sync or async), or a
   * class whose public methods are the operations and whose fields are the state. The handle it
   * returns gives typed IDs (`counter.id("a")`): from a class its methods are the operations; for a
   * function entity name them in the second type argument,
   * `df.app.entity<number, { add(n: number): void; get(): number }>("counter", fn)`.
   */
  entity<TState = unknown, TOperations = AnyEntityOperations>(
    name: string,
    handler:
      | ((context: EntityFunctionContext<TState>) => unknown)
      | { handler: (context: EntityFunctionContext<TState>) => unknown; extraInputs?: FunctionInput[]; extraOutputs?: FunctionOutput[] },
  ): RegisteredEntity<TState, TOperations>;
  entity<C extends object>(name: string, entityClass: new () => C): RegisteredEntity<EntityClassState<C>, EntityClassOperations<C>>;
  /** A class with the state's type given by hand (`entity<number>("c", Counter)`, as before handles): operations untyped. */
  entity<TState>(name: string, entityClass: new () => object): RegisteredEntity<TState>;
  entity(
    name: string,
    handler:
      | ((context: EntityFunctionContext<unknown>) => unknown)
      | { handler: (context: EntityFunctionContext<unknown>) => unknown; extraInputs?: FunctionInput[]; extraOutputs?: FunctionOutput[] }
      | (new () => object),
  ): RegisteredEntity {
    this.registry.addEntity(name, handler);
    return registeredEntity(name);
  }

  /** Client functions (durable-functions: `df.app.client.*`). Perdure serves HTTP-triggered ones and runs timer-triggered ones. */
  readonly client = {
    http: <TReq = HttpClientRequest>(
      name: string,
      options: {
        route?: string;
        methods?: string[];
        authLevel?: "anonymous" | "function" | "admin";
        extraInputs?: FunctionInput[];
        extraOutputs?: FunctionOutput[];
        handler: (request: TReq, client: HostDurableClient, context: ClientFunctionContext) => unknown;
      },
    ): void => {
      this.registry.addHttpFunction(name, options);
    },
    /**
     * A timer-triggered client function: the host calls `handler(timer, client, context)` on the
     * schedule (NCRONTAB or TimeSpan), once per occurrence across the hosts sharing the store.
     */
    timer: (name: string, options: TimerDurableClientOptions): void => {
      this.registry.addTimerFunction(name, options);
    },
    storageBlob: (name: string, _options: StorageBlobDurableClientOptions): never => unsupportedTrigger("storageBlob", name),
    storageQueue: (name: string, _options: StorageQueueDurableClientOptions): never => unsupportedTrigger("storageQueue", name),
    serviceBusQueue: (name: string, _options: ServiceBusQueueDurableClientOptions): never => unsupportedTrigger("serviceBusQueue", name),
    serviceBusTopic: (name: string, _options: ServiceBusTopicDurableClientOptions): never => unsupportedTrigger("serviceBusTopic", name),
    eventHub: (name: string, _options: EventHubDurableClientOptions): never => unsupportedTrigger("eventHub", name),
    eventGrid: (name: string, _options: EventGridDurableClientOptions): never => unsupportedTrigger("eventGrid", name),
    cosmosDB: (name: string, _options: CosmosDBDurableClientOptions): never => unsupportedTrigger("cosmosDB", name),
    generic: (name: string, _options: DurableClientOptions): never => unsupportedTrigger("generic", name),
  };
}

/**
 * Client functions on Azure's own triggers have no trigger outside Azure: registering one says so at
 * start-up, with the way out, rather than leaving a function that never runs.
 */
function unsupportedTrigger(kind: string, name: string): never {
  throw new DurableError(
    "UNSUPPORTED_TRIGGER",
    `df.app.client.${kind}('${name}'): Perdure has no ${kind} trigger (it exists only on Azure). Start orchestrations from an HTTP client function (df.app.client.http), or from your own consumer of that service with a client (createHost(...).client or df.createRemoteClient(url)).`,
  );
}

export function createApp(): DurableApp {
  return new DurableApp();
}

/**
 * One default app per process, even when two copies of this module are loaded (the CLI from dist/
 * and an entry that imports the sources, say): the entry's registrations must reach the host.
 */
const APP_KEY = Symbol.for("perdure.app");
const holder = globalThis as { [APP_KEY]?: DurableApp };
export const app: DurableApp = (holder[APP_KEY] ??= new DurableApp());
