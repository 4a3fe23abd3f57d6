/**
 * Every name that `durable-functions` 3.x exports (3.5.0, the latest: 72 names) has a counterpart in
 * `perdure`: the types are checked by the compiler (the map below does not type-check if one is
 * missing, and the list of names must hold exactly the map's), the values at run time; stand-ins say
 * why they are not the real thing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as df from "../../src/index.js";
import { createApp } from "../../src/app.js";
import { InvocationContext } from "../../src/azure-functions.js";
import { createHost } from "../../src/host/host.js";
import { silentLogger } from "../../src/runtime/logger.js";

const AZURE_ONLY_CLIENT_TYPES = [
  "StorageBlobDurableClientHandler",
  "StorageBlobDurableClientOptions",
  "StorageQueueDurableClientHandler",
  "StorageQueueDurableClientOptions",
  "ServiceBusQueueDurableClientHandler",
  "ServiceBusQueueDurableClientOptions",
  "ServiceBusTopicDurableClientHandler",
  "ServiceBusTopicDurableClientOptions",
  "EventHubDurableClientHandler",
  "EventHubDurableClientOptions",
  "EventGridDurableClientHandler",
  "EventGridDurableClientOptions",
  "CosmosDBDurableClientHandler",
  "CosmosDBDurableClientOptions",
  "CosmosDBv3DurableClientOptions",
  "CosmosDBv4DurableClientOptions",
] as const;

/** The names, each a value at run time in durable-functions or a type only, and what Perdure has. */
const LISTED = {
  app: { value: true },
  trigger: { value: true, standIn: "Perdure needs no trigger bindings; the factories return the binding's shape" },
  input: { value: true },
  getClient: { value: true },
  EntityId: { value: true },
  EntityStateResponse: { value: true },
  DurableLock: { value: true },
  LockState: { value: true },
  LockingRulesViolationError: { value: true },
  ManagedIdentityTokenSource: { value: true, standIn: "a managed identity exists only on Azure: callHttp gets the token from IDENTITY_ENDPOINT where Azure sets it (App Service, Functions, Container Apps); elsewhere the call fails with MANAGED_IDENTITY_UNAVAILABLE, saying to pass an Authorization header" },
  OrchestrationRuntimeStatus: { value: true },
  RetryOptions: { value: true },
  TaskFailedError: { value: true },
  DummyOrchestrationContext: { value: true },
  DummyEntityContext: { value: true },
  // Declared as classes by durable-functions but not exported at run time there; real classes here.
  DurableError: { value: true },
  AggregatedError: { value: true },
  // Declared as classes there, never constructed by apps: types here.
  DurableClient: { value: false },
  DurableOrchestrationContext: { value: false },
  DurableOrchestrationStatus: { value: false },
  HttpManagementPayload: { value: false },
  PurgeHistoryResult: { value: false },
  ActivityHandler: { value: false },
  ActivityOptions: { value: false },
  ActivityTrigger: { value: false },
  CallHttpOptions: { value: false },
  DurableClientHandler: { value: false },
  DurableClientInput: { value: false },
  DurableClientOptions: { value: false },
  DurableEntityContext: { value: false },
  EntityContext: { value: false },
  EntityHandler: { value: false },
  EntityOptions: { value: false },
  EntityTrigger: { value: false },
  ExceptionPropertiesProvider: { value: false },
  FailureDetails: { value: false },
  GetStatusOptions: { value: false },
  HttpDurableClientHandler: { value: false },
  HttpDurableClientOptions: { value: false },
  OrchestrationContext: { value: false },
  OrchestrationFilter: { value: false },
  OrchestrationHandler: { value: false },
  OrchestrationOptions: { value: false },
  OrchestrationTrigger: { value: false },
  RegisteredActivity: { value: false },
  RegisteredActivityTask: { value: false },
  RegisteredOrchestration: { value: false },
  RegisteredOrchestrationTask: { value: false },
  StartNewOptions: { value: false },
  Task: { value: false },
  TaskHubOptions: { value: false },
  TimerDurableClientHandler: { value: false },
  TimerDurableClientOptions: { value: false },
  TimerTask: { value: false },
  TokenSource: { value: false },
  WaitForCompletionOptions: { value: false },
} satisfies Record<string, Entry>;
interface Entry {
  value: boolean;
  standIn?: string;
}
const DURABLE_FUNCTIONS_EXPORTS: Record<string, Entry> = {
  ...LISTED,
  ...Object.fromEntries(
    AZURE_ONLY_CLIENT_TYPES.map((n) => [n, { value: false, standIn: "Azure-only trigger: the type compiles, and registering with df.app.client.<trigger> fails with UNSUPPORTED_TRIGGER, naming the HTTP client function and the client as the way out" }]),
  ),
};

/** Fails to compile if perdure lacks one of the type names (or exports it as something that is not a type). */
type TypeCounterparts = {
  ActivityHandler: df.ActivityHandler;
  ActivityOptions: df.ActivityOptions;
  ActivityTrigger: df.ActivityTrigger;
  AggregatedError: df.AggregatedError;
  CallHttpOptions: df.CallHttpOptions;
  CosmosDBDurableClientHandler: df.CosmosDBDurableClientHandler;
  CosmosDBDurableClientOptions: df.CosmosDBDurableClientOptions;
  CosmosDBv3DurableClientOptions: df.CosmosDBv3DurableClientOptions;
  CosmosDBv4DurableClientOptions: df.CosmosDBv4DurableClientOptions;
  DummyEntityContext: df.DummyEntityContext;
  DummyOrchestrationContext: df.DummyOrchestrationContext;
  DurableClient: df.DurableClient;
  DurableClientHandler: df.DurableClientHandler;
  DurableClientInput: df.DurableClientInput;
  DurableClientOptions: df.DurableClientOptions;
  DurableEntityContext: df.DurableEntityContext<number>;
  DurableError: df.DurableError;
  DurableLock: df.DurableLock;
  DurableOrchestrationContext: df.DurableOrchestrationContext;
  DurableOrchestrationStatus: df.DurableOrchestrationStatus;
  EntityContext: df.EntityContext<number>;
  EntityHandler: df.EntityHandler<number>;
  EntityId: df.EntityId;
  EntityOptions: df.EntityOptions<number>;
  EntityStateResponse: df.EntityStateResponse<number>;
  EntityTrigger: df.EntityTrigger;
  EventGridDurableClientHandler: df.EventGridDurableClientHandler;
  EventGridDurableClientOptions: df.EventGridDurableClientOptions;
  EventHubDurableClientHandler: df.EventHubDurableClientHandler;
  EventHubDurableClientOptions: df.EventHubDurableClientOptions;
  ExceptionPropertiesProvider: df.ExceptionPropertiesProvider;
  FailureDetails: df.FailureDetails;
  GetStatusOptions: df.GetStatusOptions;
  HttpDurableClientHandler: df.HttpDurableClientHandler;
  HttpDurableClientOptions: df.HttpDurableClientOptions;
  HttpManagementPayload: df.HttpManagementPayload;
  LockState: df.LockState;
  LockingRulesViolationError: df.LockingRulesViolationError;
  ManagedIdentityTokenSource: df.ManagedIdentityTokenSource;
  OrchestrationContext: df.OrchestrationContext;
  OrchestrationFilter: df.OrchestrationFilter;
  OrchestrationHandler: df.OrchestrationHandler;
  OrchestrationOptions: df.OrchestrationOptions;
  OrchestrationRuntimeStatus: df.OrchestrationRuntimeStatus;
  OrchestrationTrigger: df.OrchestrationTrigger;
  PurgeHistoryResult: df.PurgeHistoryResult;
  RegisteredActivity: df.RegisteredActivity;
  RegisteredActivityTask: df.RegisteredActivityTask;
  RegisteredOrchestration: df.RegisteredOrchestration;
  RegisteredOrchestrationTask: df.RegisteredOrchestrationTask;
  RetryOptions: df.RetryOptions;
  ServiceBusQueueDurableClientHandler: df.ServiceBusQueueDurableClientHandler;
  ServiceBusQueueDurableClientOptions: df.ServiceBusQueueDurableClientOptions;
  ServiceBusTopicDurableClientHandler: df.ServiceBusTopicDurableClientHandler;
  ServiceBusTopicDurableClientOptions: df.ServiceBusTopicDurableClientOptions;
  StartNewOptions: df.StartNewOptions;
  StorageBlobDurableClientHandler: df.StorageBlobDurableClientHandler;
  StorageBlobDurableClientOptions: df.StorageBlobDurableClientOptions;
  StorageQueueDurableClientHandler: df.StorageQueueDurableClientHandler;
  StorageQueueDurableClientOptions: df.StorageQueueDurableClientOptions;
  Task: df.Task;
  TaskFailedError: df.TaskFailedError;
  TaskHubOptions: df.TaskHubOptions;
  TimerDurableClientHandler: df.TimerDurableClientHandler;
  TimerDurableClientOptions: df.TimerDurableClientOptions;
  TimerTask: df.TimerTask;
  TokenSource: df.TokenSource;
  WaitForCompletionOptions: df.WaitForCompletionOptions;
};
/** The four that are namespaces or functions, not types. */
type Values = "app" | "trigger" | "input" | "getClient";
type ListedName = keyof typeof LISTED | (typeof AZURE_ONLY_CLIENT_TYPES)[number];
type CheckedName = keyof TypeCounterparts | Values;
/** Does not compile unless the list above and the type map name exactly the same 72 names. */
const sameNames: [Exclude<ListedName, CheckedName>, Exclude<CheckedName, ListedName>] extends [never, never] ? true : false = true;

describe("the durable-functions 3.x surface", () => {
  it("has all 72 names, each checked by type, and every value present at run time", () => {
    assert.equal(Object.keys(DURABLE_FUNCTIONS_EXPORTS).length, 72);
    assert.ok(sameNames);
    const values = Object.entries(DURABLE_FUNCTIONS_EXPORTS).filter(([, e]) => e.value).map(([n]) => n);
    const missing = values.filter((n) => (df as Record<string, unknown>)[n] === undefined);
    assert.deepEqual(missing, [], "values missing at run time");
    for (const [name, e] of Object.entries(DURABLE_FUNCTIONS_EXPORTS)) if (e.standIn !== undefined) assert.ok(e.standIn.length > 20, `${name} says why it is a stand-in`);
  });

  it("stand-ins fail with the way out", () => {
    const app = createApp();
    assert.throws(
      () => app.client.storageBlob("onBlob", { path: "in/{name}", connection: "x", handler: () => undefined }),
      (e: df.DurableError) => e.code === "UNSUPPORTED_TRIGGER" && /no storageBlob trigger .*df\.app\.client\.http/.test(e.message),
    );
    for (const kind of ["storageQueue", "serviceBusQueue", "serviceBusTopic", "eventHub", "eventGrid", "cosmosDB", "generic"] as const) {
      assert.throws(() => (app.client[kind] as (n: string, o: unknown) => void)("f", {}), { code: "UNSUPPORTED_TRIGGER" }, kind);
    }
    assert.deepEqual(df.trigger.activity(), { type: "activityTrigger", name: "activityTrigger" });
    assert.deepEqual(df.input.durableClient().type, "durableClient");
    const token = new df.ManagedIdentityTokenSource("https://management.core.windows.net/");
    assert.equal(token.resource, "https://management.core.windows.net/");
  });

  it("the test contexts of durable-functions: an invocation context, df left to the test", () => {
    const lines: string[] = [];
    const c = new df.DummyOrchestrationContext("orch", "id-1", (level, ...args) => lines.push(`${level} ${args.join(" ")}`));
    assert.equal(c.functionName, "orch");
    assert.equal(c.invocationId, "id-1");
    assert.equal(c.df, undefined);
    c.info("hello", 1);
    assert.deepEqual(lines, ["information hello 1"]);
    const e = new df.DummyEntityContext<number>();
    assert.equal(e.functionName, "dummyContextFunctionName");
    assert.match(e.invocationId, /^[0-9a-f-]{36}$/);
    assert.equal(new df.EntityStateResponse(true, 3).entityState, 3);
    // A handler unit-tested as with durable-functions: a dummy context where the handler's type wants one.
    const orchestrator: df.OrchestrationHandler = function* (context: df.OrchestrationContext) {
      context.log("running in", context.df.instanceId);
      return context.df.instanceId;
    };
    const dummy = new df.DummyOrchestrationContext("orch", "id-2", (level, ...args) => lines.push(`${level} ${args.join(" ")}`));
    dummy.df = { instanceId: "abc", isReplaying: false } as df.DurableOrchestrationContext;
    assert.deepEqual(orchestrator(dummy).next(), { done: true, value: "abc" });
    assert.equal(lines.at(-1), "information running in abc");
    const activity: df.ActivityHandler = (input: string, context: InvocationContext) => `${context.functionName}:${input}`;
    assert.equal(activity("x", new InvocationContext({ functionName: "act" })), "act:x");
    assert.match(new df.AggregatedError([new Error("a"), new Error("b")]).message, /Message: a[\s\S]*Message: b/);
  });

  it("isLocked, DurableLock.ownedLocks and TaskFailedError.taskId in a running orchestration", async () => {
    const app = createApp();
    app.entity("counter", (context: df.EntityContext<number>) => context.df.setState(1));
    app.activity("fails", {
      handler: () => {
        throw new Error("no");
      },
    });
    app.orchestration("locks", function* (context) {
      const before = context.df.isLocked();
      const lock = (yield context.df.lock([new df.EntityId("counter", "a")])) as df.DurableLock;
      const during = context.df.isLocked();
      lock.release();
      let taskId: number | undefined;
      try {
        yield context.df.callActivity("fails");
      } catch (err) {
        taskId = (err as df.TaskFailedError).taskId;
      }
      return { before: before.isLocked, during: [during.isLocked, during.ownedLocks.map(String)], owned: lock.ownedLocks.map(String), taskId };
    });
    const host = createHost({ store: "memory:", port: false, app, logger: silentLogger, pollIntervalMs: 20 });
    await host.start();
    try {
      const id = await host.client.startNew("locks");
      const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
      assert.deepEqual(status.output, { before: false, during: [true, ["@counter@a"]], owned: ["@counter@a"], taskId: 2 });
    } finally {
      await host.stop();
    }
  });
});
