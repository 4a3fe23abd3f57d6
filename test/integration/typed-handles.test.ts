/**
 * What df.app.activity / df.app.orchestration return carries the handler's types: calls through
 * context.df and the client check the input, and `yield*` gives the output's type. The
 * `@ts-expect-error` lines are the proof: the type check of the tests fails if one of them compiles.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { RetryOptions } from "../../src/core/retry-options.js";
import { forEachStore } from "../helpers/hosts.js";
import type { DurableApp } from "../../src/app.js";
import type { RegisteredActivity, RegisteredOrchestration } from "../../src/index.js";

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
