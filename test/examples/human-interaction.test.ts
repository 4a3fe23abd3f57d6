import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { APPROVAL_EVENT, type ApprovalInput, type ApprovalResponse, ORCHESTRATOR, register } from "../../examples/human-interaction/functions.js";
import type { DurableClient, Host } from "../../src/index.js";
import { eventually, historyOf, STORES, withExampleHost } from "./harness.js";

function approvalInput(outbox: string, timeoutMs: number): ApprovalInput {
  return { request: "Expense report #42 (1,250 EUR)", approver: "manager", escalateTo: "director", timeoutMs, outbox };
}

async function waitingForApproval(client: DurableClient, id: string): Promise<void> {
  await eventually("the approval request to be sent", async () => {
    const s = (await client.getStatus(id)).customStatus as { state?: string } | null;
    return s?.state === "waiting for approval" ? true : undefined;
  });
}

async function historyTypes(host: Host, id: string): Promise<string[]> {
  return (await historyOf(host, id)).map((e) => (e.type === "TaskScheduled" ? `TaskScheduled:${e.name}` : e.type));
}

for (const store of STORES) {
  describe(`example human-interaction (${store})`, () => {
    for (const [answer, expected] of [
      [{ approved: true, by: "deputy" }, "approved"],
      [{ approved: false }, "rejected"],
      [true, "approved"],
      [false, "rejected"],
    ] as [ApprovalResponse, string][]) {
      it(`an Approval event ${JSON.stringify(answer)} before the deadline → ${expected}, timer canceled, no escalation`, async () => {
        await withExampleHost(store, register, async ({ host, dir }) => {
          const outbox = join(dir, "outbox");
          // A one-minute deadline: completing in well under that shows the loser timer does not hold the instance.
          const id = await host.client.startNew(ORCHESTRATOR, { input: approvalInput(outbox, 60_000) });
          await waitingForApproval(host.client, id);
          const request = JSON.parse(await readFile(join(outbox, `${id}-approval-request.json`), "utf8"));
          assert.equal(request.to, "manager");
          assert.equal(request.instanceId, id);

          const t0 = Date.now();
          await host.client.raiseEvent(id, APPROVAL_EVENT, answer);
          const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
          assert.ok(Date.now() - t0 < 5_000);
          assert.equal(status.runtimeStatus, "Completed");
          assert.equal(status.output, expected);
          const by = typeof answer === "object" && answer.by ? answer.by : "manager";
          assert.deepEqual(status.customStatus, { state: expected, by });
          assert.deepEqual((await readdir(outbox)).sort(), [`${id}-approval-request.json`], "nothing escalated");

          const types = await historyTypes(host, id);
          assert.deepEqual(types.filter((t) => t.startsWith("TaskScheduled")), ["TaskScheduled:requestApproval"]);
          assert.ok(types.includes("TimerCreated") && types.includes("EventRaised"));
          assert.ok(!types.includes("TimerFired"), "the canceled timer never fired");
        });
      });
    }

    it("an Approval raised before the orchestration waits for it is buffered, not lost", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const id = await host.client.startNew(ORCHESTRATOR, { input: approvalInput(join(dir, "outbox"), 60_000) });
        await host.client.raiseEvent(id, APPROVAL_EVENT, { approved: true, by: "early bird" });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.output, "approved");
        assert.deepEqual(status.customStatus, { state: "approved", by: "early bird" });
      });
    });

    it("no answer before the deadline → escalates and returns 'timed out'; a late answer changes nothing", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const outbox = join(dir, "outbox");
        const id = await host.client.startNew(ORCHESTRATOR, { input: approvalInput(outbox, 300) });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.runtimeStatus, "Completed");
        assert.equal(status.output, "timed out");
        assert.deepEqual(status.customStatus, { state: "escalated", to: "director" });
        assert.deepEqual((await readdir(outbox)).sort(), [`${id}-approval-request.json`, `${id}-escalation.json`]);
        const escalation = JSON.parse(await readFile(join(outbox, `${id}-escalation.json`), "utf8"));
        assert.equal(escalation.to, "director");
        assert.equal(escalation.kind, "escalation");

        const history = await historyOf(host, id);
        const started = Date.parse(history.find((e) => e.type === "OrchestratorStarted")!.timestamp);
        const fired = history.find((e) => e.type === "TimerFired");
        assert.ok(fired, "the deadline timer fired");
        const firedEpisode = history.slice(0, history.indexOf(fired)).findLast((e) => e.type === "OrchestratorStarted")!;
        assert.ok(Date.parse(firedEpisode.timestamp) >= started + 300, "the timer did not fire before the deadline");
        assert.deepEqual(
          (await historyTypes(host, id)).filter((t) => t.startsWith("TaskScheduled")),
          ["TaskScheduled:requestApproval", "TaskScheduled:escalate"],
        );

        await host.client.raiseEvent(id, APPROVAL_EVENT, { approved: true });
        await new Promise((r) => setTimeout(r, 100));
        const after = await host.client.getStatus(id);
        assert.equal(after.runtimeStatus, "Completed");
        assert.equal(after.output, "timed out");
      });
    });

    it("fails without the required input", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const id = await host.client.startNew(ORCHESTRATOR, { input: { request: "x" } });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.runtimeStatus, "Failed");
        assert.equal(status.failureDetails?.errorMessage, "An input with request, approver and escalateTo is required.");
      });
    });
  });
}
