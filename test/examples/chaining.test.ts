import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ORCHESTRATOR, register } from "../../examples/chaining/functions.js";
import { historyOf, STORES, withExampleHost } from "./harness.js";

for (const store of STORES) {
  describe(`example chaining (${store})`, () => {
    it("helloSequence calls sayHello for Tokyo, Seattle and Cairo, one after the other", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const id = await host.client.startNew(ORCHESTRATOR);
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
        assert.equal(status.runtimeStatus, "Completed");
        assert.deepEqual(status.output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);

        // Chaining, not fan-out: each activity is scheduled only after the previous one completed.
        const steps = (await historyOf(host, id))
          .filter((e) => e.type === "TaskScheduled" || e.type === "TaskCompleted")
          .map((e) => (e.type === "TaskScheduled" ? `scheduled ${e.name}(${String(e.input)})` : `completed ${String(e.result)}`));
        assert.deepEqual(steps, [
          "scheduled sayHello(Tokyo)",
          "completed Hello Tokyo",
          "scheduled sayHello(Seattle)",
          "completed Hello Seattle",
          "scheduled sayHello(Cairo)",
          "completed Hello Cairo",
        ]);
      });
    });
  });
}
