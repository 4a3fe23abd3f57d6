import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COUNTER_ID, type CounterState, ORCHESTRATOR, READER, register } from "../../examples/stateful-singleton/functions.js";
import type { DurableClient } from "../../src/index.js";
import { eventually, STORES, withExampleHost } from "./harness.js";

async function counterShows(client: DurableClient, expected: CounterState): Promise<void> {
  await eventually(
    `the counter to show ${JSON.stringify(expected)}`,
    async () => {
      const s = (await client.getStatus(COUNTER_ID)).customStatus as CounterState | null;
      return s?.value === expected.value && s.operations === expected.operations ? true : undefined;
    },
    10_000,
  );
}

const AMOUNTS = Array.from({ length: 50 }, (_, i) => i + 1);
const SUM = 1275;

for (const store of STORES) {
  describe(`example stateful-singleton (${store})`, () => {
    it("a burst of 50 'add' events followed at once by 'end': every add is applied exactly once, 'end' returns the sum", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        await host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID });
        await Promise.all(AMOUNTS.map((n) => host.client.raiseEvent(COUNTER_ID, "add", n)));
        await host.client.raiseEvent(COUNTER_ID, "end");
        const status = await host.client.waitForCompletion(COUNTER_ID, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed");
        assert.equal(status.output, SUM);
        assert.deepEqual(status.customStatus, { value: SUM, operations: 50 });
      });
    });

    it("each operation is a new execution: the state travels through continueAsNew and the history stays short", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        await host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID });
        await Promise.all(AMOUNTS.map((n) => host.client.raiseEvent(COUNTER_ID, "add", n)));
        await counterShows(host.client, { value: SUM, operations: 50 });
        // The execution that applied the last operation hands over with continueAsNew; the next one
        // is Running once its first step has committed.
        const running = await eventually(
          "the execution after the last operation to run",
          async () => {
            const s = await host.client.getStatus(COUNTER_ID, { showHistory: true });
            return s.runtimeStatus === "Running" ? s : undefined;
          },
          10_000,
        );
        assert.deepEqual(running.input, { value: SUM, operations: 50 }, "the current execution started from the state continueAsNew handed over");
        assert.deepEqual(
          running.history!.map((e) => e.EventType),
          ["ExecutionStarted"],
          "the current execution has only its start in its history (the projection leaves out the episode markers)",
        );
        await host.client.raiseEvent(COUNTER_ID, "end");
        assert.equal((await host.client.waitForCompletion(COUNTER_ID, { timeoutInMilliseconds: 10_000 })).output, SUM);
      });
    });

    it("operations raised back to back apply in order; 'get' answers another orchestration with a 'counterValue' event", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        await host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID, input: 100 });
        await host.client.raiseEvent(COUNTER_ID, "add", 5);
        await host.client.raiseEvent(COUNTER_ID, "add"); // no payload: adds 1
        await host.client.raiseEvent(COUNTER_ID, "reset");
        await host.client.raiseEvent(COUNTER_ID, "add", 3);

        const reader = await host.client.startNew(READER, { input: COUNTER_ID });
        const read = await host.client.waitForCompletion(reader, { timeoutInMilliseconds: 10_000 });
        assert.equal(read.runtimeStatus, "Completed");
        assert.equal(read.output, 3);

        await host.client.raiseEvent(COUNTER_ID, "end");
        const status = await host.client.waitForCompletion(COUNTER_ID, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.output, 3);
        assert.deepEqual(status.customStatus, { value: 3, operations: 5 });
      });
    });

    it("the fixed instance ID makes it a singleton: a second start while it runs is refused", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        await host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID });
        await host.client.raiseEvent(COUNTER_ID, "add", 2);
        await counterShows(host.client, { value: 2, operations: 1 });
        await assert.rejects(host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID }), { name: "InstanceAlreadyExistsError" });
        await host.client.raiseEvent(COUNTER_ID, "end");
        assert.equal((await host.client.waitForCompletion(COUNTER_ID, { timeoutInMilliseconds: 10_000 })).output, 2);
      });
    });
  });
}
