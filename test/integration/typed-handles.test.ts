/**
 * What df.app.activity / df.app.orchestration / df.app.entity return carries the handler's types:
 * calls through context.df and the client check the input, and `yield*` gives the output's type;
 * an entity handle's IDs check operation names and inputs, and type the state a client reads. The
 * `@ts-expect-error` lines are the proof: the type check of the tests fails if one of them compiles.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { EntityId } from "../../src/core/entity-id.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import { forEachStore } from "../helpers/hosts.js";
import type { DurableApp } from "../../src/app.js";
import type { EntityContext, RegisteredActivity, RegisteredEntity, RegisteredOrchestration } from "../../src/index.js";

interface Order {
  id: string;
  amount: number;
}
interface Receipt {
  orderId: string;
  charged: number;
  greeting: string;
}

function register(app: DurableApp): { checkout: RegisteredOrchestration<Order, Receipt>; greet: RegisteredActivity<string, string> } {
  const greet = app.activity("greet", { handler: (name: string) => `Hello ${name}` });
  const charge = app.activity("charge", { handler: async (order: Order) => ({ charged: order.amount * 100 }) });
  const flaky = app.activity("flakyOnce", {
    handler: (n: number, context) => {
      // The first call of each instance fails; the retry succeeds.
      if (!seenFlaky.has(context.instanceId)) {
        seenFlaky.add(context.instanceId);
        throw new Error("once");
      }
      return n * 2;
    },
  });
  const checkout = app.orchestration<Order, Receipt>("checkout", function* (context) {
    const order = context.df.getInput<Order>();
    // yield* gives the typed result; a plain yield stays `any`, as in durable-functions.
    const { charged } = yield* context.df.callActivity(charge, order);
    const greeting: string = yield* greet(order.id);
    const doubled: number = yield* context.df.callActivityWithRetry(flaky, new RetryOptions(10, 3), 21);
    assert.equal(doubled, 42);
    return { orderId: order.id, charged, greeting };
  });
  app.orchestration("parent", function* (context) {
    const receipt = yield* context.df.callSubOrchestrator(checkout, { id: "sub", amount: 2 });
    const viaHandle = yield* checkout({ id: "handle", amount: 3 });
    const retried = yield* context.df.callSubOrchestratorWithRetry(checkout, new RetryOptions(10, 2), { id: "retried", amount: 4 });
    return [receipt.charged, viaHandle.charged, retried.charged];
  });
  app.orchestration("typeChecks", function* (context) {
    if (context.df.getInput() === "never") {
      // @ts-expect-error the input of greet is a string
      yield context.df.callActivity(greet, 42);
      // @ts-expect-error greet needs its input
      yield context.df.callActivity(greet);
      // @ts-expect-error the output of greet is a string, not a number
      const n: number = yield* context.df.callActivity(greet, "x");
      // @ts-expect-error checkout's input is an Order
      yield context.df.callSubOrchestrator(checkout, { id: 1 });
      // @ts-expect-error a handle called directly checks its input too
      yield greet(7);
      void n;
    }
    // Names keep working, untyped.
    const byName: unknown = yield context.df.callActivity("greet", "by name");
    return byName;
  });
  return { checkout, greet };
}

const seenFlaky = new Set<string>();

/** A class entity: its methods are the operations, its fields the state. */
class Account {
  balance = 0;
  deposit(amount: number): number {
    this.balance += amount;
    return this.balance;
  }
  close(): string {
    return `closed at ${this.balance}`;
  }
}

interface TallyOperations {
  add(n: number): void;
  get(): number;
}

function registerEntities(app: DurableApp): { account: RegisteredEntity<{ balance: number }, { deposit(amount: number): number; close(): string }>; tally: RegisteredEntity<number, TallyOperations> } {
  const account = app.entity("Account", Account);
  // A state type given by hand for a class, as code written before handles does, still compiles.
  const legacy: RegisteredEntity<{ balance: number }> = app.entity<{ balance: number }>("LegacyAccount", Account);
  const loose: RegisteredEntity<number> = app.entity<number>("LooseAccount", Account);
  void legacy;
  void loose;
  const tally = app.entity<number, TallyOperations>("tally", (context: EntityContext<number>) => {
    const n = context.df.getState(() => 0);
    if (context.df.operationName === "add") context.df.setState(n + context.df.getInput<number>());
    else context.df.return(n);
  });
  app.orchestration("useEntities", function* (context) {
    const id = account.id(context.df.getInput<string>());
    const after: number = yield* context.df.callEntity(id, "deposit", 25);
    context.df.signalEntity(tally.id("t"), "add", after);
    const total: number = yield* context.df.callEntity(tally.id("t"), "get");
    const closed: string = yield* context.df.callEntity(id, "close");
    if (context.df.getInput() === "never") {
      // @ts-expect-error deposit takes a number
      yield context.df.callEntity(id, "deposit", "25");
      // @ts-expect-error deposit needs its input
      yield context.df.callEntity(id, "deposit");
      // @ts-expect-error Account has no operation withdraw
      yield context.df.callEntity(id, "withdraw", 1);
      // @ts-expect-error close returns a string
      const wrong: number = yield* context.df.callEntity(id, "close");
      // @ts-expect-error signals are checked too
      context.df.signalEntity(tally.id("t"), "add", "one");
      void wrong;
    }
    // Untyped IDs keep working.
    const byName: unknown = yield context.df.callEntity(new EntityId("tally", "t"), "get");
    return { after, total, closed, byName };
  });
  return { account, tally };
}

forEachStore("typed handles", (start) => {
  it("calls through handles run, with typed inputs and outputs; names keep working", async () => {
    let handles: ReturnType<typeof register> | undefined;
    const host = await start((app) => void (handles = register(app)));
    const { checkout, greet } = handles!;
    assert.equal(greet.functionName, "greet");
    assert.equal(checkout.functionName, "checkout");

    const id = await host.client.startNew(checkout, { input: { id: "o-1", amount: 5 } });
    assert.deepEqual((await host.client.waitForCompletion(id)).output, { orderId: "o-1", charged: 500, greeting: "Hello o-1" });
    const parent = await host.client.startNew("parent");
    assert.deepEqual((await host.client.waitForCompletion(parent)).output, [200, 300, 400]);
    assert.equal((await host.client.waitForCompletion(await host.client.startNew("typeChecks"))).output, "Hello by name");

    if (id === "never") {
      // @ts-expect-error startNew by handle checks the input
      await host.client.startNew(checkout, { input: { id: 1 } });
      // @ts-expect-error and needs it when the orchestration's input may not be undefined
      await host.client.startNew(checkout);
    }
  });
});

forEachStore("typed entity handles", (start) => {
  it("IDs from an entity handle call, signal and read with the entity's types; plain IDs keep working", async () => {
    let handles: ReturnType<typeof registerEntities> | undefined;
    const host = await start((app) => void (handles = registerEntities(app)));
    const { account, tally } = handles!;
    assert.equal(account.functionName, "Account");
    const id = account.id("alice");
    assert.ok(id instanceof EntityId);
    assert.equal(id.toString(), "@account@alice");

    const run = await host.client.startNew("useEntities", { input: "alice" });
    assert.deepEqual((await host.client.waitForCompletion(run)).output, { after: 25, total: 25, closed: "closed at 25", byName: 25 });

    await host.client.signalEntity(tally.id("t"), "add", 5);
    await host.client.signalEntity(tally.id("later"), "add", 1, { signalTime: new Date(Date.now() + 60_000) });
    let state = await host.client.readEntityState(tally.id("t"));
    for (let i = 0; state.entityState !== 30 && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
      state = await host.client.readEntityState(tally.id("t"));
    }
    const total: number | undefined = state.entityState;
    assert.equal(total, 30);
    const balance: number | undefined = (await host.client.readEntityState(account.id("alice"))).entityState?.balance;
    assert.equal(balance, 25);

    if (run === "never") {
      // @ts-expect-error add takes a number
      await host.client.signalEntity(tally.id("t"), "add", "5");
      // @ts-expect-error tally has no operation remove
      await host.client.signalEntity(tally.id("t"), "remove", 1);
      // @ts-expect-error the state of tally is a number
      const s: string | undefined = (await host.client.readEntityState(tally.id("t"))).entityState;
      void s;
    }
  });
});
