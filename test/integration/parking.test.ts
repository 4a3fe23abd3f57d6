/**
 * Engine v2's failure semantics across hosts: work a host cannot run is left to hosts that can, a
 * missing function parks the instance visibly instead of failing it, and a step that keeps dying
 * parks as poison instead of spinning. Several hosts share one store, as processes would.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { LocalDurableClient } from "../../src/client/local-client.js";
import { systemClock } from "../../src/runtime/clock.js";
import { eventually, forEachSharedStore, storedHistory } from "../helpers/hosts.js";

/** The app that has the "work" orchestration (two activities in sequence). */
function withWork(app: DurableApp = createApp()): DurableApp {
  app.activity("double", { handler: (n: number) => n * 2 });
  app.activity("inc", { handler: (n: number) => n + 1 });
  app.orchestration("work", function* (ctx) {
    const d: number = yield ctx.df.callActivity("double", ctx.df.getInput<number>());
    return yield ctx.df.callActivity("inc", d);
  });
  return app;
}

/** An app without "work": it only has something else. */
function withoutWork(): DurableApp {
  const app = createApp();
  app.orchestration("other", function* () {
    return "other";
  });
  return app;
}

forEachSharedStore("hosts with different code on one store", ({ open, host }) => {
  it("a host without an orchestrator leaves its instances untouched; a host that has it completes them", async () => {
    const lacking = await host(withoutWork());
    // Started by a client that does not check the registry (another host's, say).
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => client.startNew("work", { instanceId: `w-${i}`, input: i })));
    await new Promise((r) => setTimeout(r, 300));
    for (const id of ids) {
      const s = await client.getStatus(id, { showHistory: true });
      assert.equal(s.runtimeStatus, "Pending", `${id} was not touched`);
      assert.deepEqual(s.history, [], `${id} has no history yet`);
      assert.equal(s.parked, undefined, `${id} is not parked: nobody has looked long enough`);
    }
    assert.equal(lacking.worker.stats.orchestrationSteps + lacking.worker.stats.parked + lacking.worker.stats.abandoned, 0, "the host without the code took no step");

    const having = await host(withWork());
    for (const [i, id] of ids.entries()) {
      const s = await client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
      assert.equal(s.runtimeStatus, "Completed");
      assert.equal(s.output, i * 2 + 1);
    }
    assert.ok(having.worker.stats.orchestrationSteps >= ids.length);
    assert.equal(lacking.worker.stats.orchestrationSteps + lacking.worker.stats.parked, 0, "and still none while the other host worked");
    await provider.close();
  });

  it("instances waiting for a missing orchestrator show it (parked, FUNCTION_NOT_FOUND); a host restarted with the code completes them", async () => {
    const lacking = await host(withoutWork(), { strandedAfterMs: 100 });
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    const ids = await Promise.all([1, 2, 3].map((n) => client.startNew("work", { instanceId: `p-${n}`, input: n })));
    for (const id of ids) {
      const parked = await eventually(async () => (await client.getStatus(id)).parked, 10_000, `${id} to be reported`);
      assert.equal(parked.code, "FUNCTION_NOT_FOUND");
      assert.match(parked.message, /No orchestrator function named 'work' is registered on host .*; the instance waits for a host that has it/);
      assert.equal(parked.attempts, 0, "never delivered: the host did not take it");
      assert.equal(parked.retryAt, undefined, "it waits for a host, not for a time");
      assert.equal((await client.getStatus(id)).runtimeStatus, "Pending");
    }
    // The deploy: the host restarts with the code.
    await lacking.stop();
    await host(withWork());
    for (const [i, id] of ids.entries()) {
      const s = await client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
      assert.equal(s.runtimeStatus, "Completed");
      assert.equal(s.output, (i + 1) * 2 + 1);
      assert.equal(s.parked, undefined, "the park record went with the first step");
    }
    await provider.close();
  });

  it("a step that keeps dying (a worker crashing or losing its lease each time) parks as POISON_MESSAGE, then gets one attempt per delay", async () => {
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    const id = await client.startNew("work", { instanceId: "poison", input: 5 });
    // Eleven deliveries that never complete, as eleven crashed workers would leave it.
    for (let i = 0; i < 11; i++) {
      const [item] = await provider.lockOrchestrationWorkItems({ workerId: `crashed-${i}`, now: Date.now(), leaseMs: 1, max: 1 });
      assert.equal(item?.instanceId, id);
      assert.equal(item.dequeueCount, i + 1);
      await new Promise((r) => setTimeout(r, 3));
    }
    const errors: string[] = [];
    await host(withWork(), { retry: { maxDequeueCount: 10, initialDelayMs: 100, maxDelayMs: 400 }, logger: { info: () => undefined, warn: () => undefined, error: (m) => void errors.push(m) } });
    const parked = await eventually(async () => (await client.getStatus(id)).parked, 10_000, "the poison park");
    assert.equal(parked.code, "POISON_MESSAGE");
    assert.equal(parked.attempts, 12);
    assert.match(parked.message, /taken 12 times without completing/);
    assert.ok(parked.retryAt && parked.retryAt.getTime() > parked.since.getTime(), "retried later, not at once");
    assert.ok(errors.some((e) => e.includes("POISON_MESSAGE") && e.includes("'poison'")), "and logged");
    assert.deepEqual(await storedHistory({ provider }, id), [], "nothing was run while parked");
    // After the delay one real attempt is made: the code is fine, so the instance completes.
    const done = await client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
    assert.equal(done.runtimeStatus, "Completed");
    assert.equal(done.output, 11);
    await provider.close();
  });

  it("terminate ends a parked instance without its code; rewind retries one at once; purge removes one", async () => {
    await host(withoutWork(), { strandedAfterMs: 100 });
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    for (const id of ["t-1", "r-1", "u-1"]) await client.startNew("work", { instanceId: id, input: 1 });
    for (const id of ["t-1", "r-1", "u-1"]) await eventually(async () => (await client.getStatus(id)).parked, 10_000, `${id} parked`);
    await client.terminate("t-1", "not needed");
    const terminated = await client.waitForCompletion("t-1", { timeoutInMilliseconds: 10_000 });
    assert.equal(terminated.runtimeStatus, "Terminated");
    assert.equal(terminated.output, "not needed");
    // rewind of a parked instance is accepted (it is retried at once); the host still lacks the code.
    await client.rewind("r-1", "try again");
    assert.equal((await client.getStatus("r-1")).runtimeStatus, "Pending");
    assert.deepEqual(await client.purgeInstanceHistory("u-1"), { instancesDeleted: 1 });
    await assert.rejects(client.getStatus("u-1"), { code: "INSTANCE_NOT_FOUND" });
    await provider.close();
  });

  it("terminating a poison-parked instance does not run its code (the code may be what kills workers)", async () => {
    let runs = 0;
    const app = createApp();
    app.orchestration("deadly", function* (ctx) {
      runs++;
      yield ctx.df.waitForExternalEvent("never");
    });
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    const id = await client.startNew("deadly", { instanceId: "deadly" });
    for (let i = 0; i < 11; i++) {
      await provider.lockOrchestrationWorkItems({ workerId: `crashed-${i}`, now: Date.now(), leaseMs: 1, max: 1 });
      await new Promise((r) => setTimeout(r, 3));
    }
    // A long retry delay: only the terminate (which wakes the instance) can end it soon.
    await host(app, { retry: { maxDequeueCount: 10, initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    assert.equal((await eventually(async () => (await client.getStatus(id)).parked, 10_000, "the poison park")).code, "POISON_MESSAGE");
    await client.terminate(id, "enough");
    const done = await client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
    assert.equal(done.runtimeStatus, "Terminated");
    assert.equal(done.output, "enough");
    assert.equal(runs, 0, "the orchestrator never ran");
    await provider.close();
  });

  it("an entity whose batch keeps dying parks as POISON_MESSAGE too", async () => {
    const app = createApp();
    app.entity<number>("tally", (ctx) => ctx.df.setState((ctx.df.getState(() => 0) ?? 0) + 1));
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock, app.registry);
    await client.signalEntity(new EntityId("tally", "t"), "add");
    for (let i = 0; i < 11; i++) {
      await provider.lockOrchestrationWorkItems({ workerId: `crashed-${i}`, now: Date.now(), leaseMs: 1, max: 1 });
      await new Promise((r) => setTimeout(r, 3));
    }
    await host(app, { retry: { maxDequeueCount: 10, initialDelayMs: 100, maxDelayMs: 200 } });
    const parked = await eventually(async () => (await provider.getInstance("@tally@t"))?.parked, 10_000, "the entity's poison park");
    assert.equal(parked.code, "POISON_MESSAGE");
    // Then one real attempt per delay: the batch is fine, so it is applied.
    assert.deepEqual(await eventually(async () => {
      const s = await client.readEntityState<number>(new EntityId("tally", "t"));
      return s.entityExists ? s : undefined;
    }, 10_000, "the batch to be applied"), { entityExists: true, entityState: 1 });
    await provider.close();
  });

  it("a host without the code consumes a failed instance's late messages but leaves its rewind for a host that has it", async () => {
    let healthy = false;
    const withFlaky = (): DurableApp => {
      const app = createApp();
      app.activity("flaky", {
        handler: () => {
          if (!healthy) throw new Error("not yet");
          return "fine";
        },
      });
      app.orchestration("work", function* (ctx) {
        return yield ctx.df.callActivity("flaky");
      });
      return app;
    };
    const first = await host(withFlaky());
    const id = await first.client.startNew("work", { instanceId: "rw" });
    assert.equal((await first.client.waitForCompletion(id)).runtimeStatus, "Failed");
    await first.stop();
    const lacking = await host(withoutWork());
    const provider = open();
    await provider.initialize();
    const client = new LocalDurableClient(provider, systemClock);
    // A late message (an answer arriving after the failure) and an operator's rewind.
    await provider.sendMessages([{ kind: "event", instanceId: id, message: { event: { type: "EventRaised", eventId: -1, timestamp: new Date().toISOString(), name: "late" } } }], Date.now());
    await client.rewind(id, "try again");
    await new Promise((r) => setTimeout(r, 500));
    const meanwhile = await client.getStatus(id);
    assert.equal(meanwhile.runtimeStatus, "Failed", "nothing was rewound by a host without the code");
    assert.equal(meanwhile.parked, undefined, "and nothing was parked: the rewind just waits");
    assert.equal(lacking.worker.stats.parked, 0);
    healthy = true;
    await host(withFlaky());
    // Still Failed until the rewind runs: wait for it to be picked up first.
    await eventually(async () => (await client.getStatus(id)).runtimeStatus !== "Failed", 10_000, "the rewind to be picked up");
    const done = await client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
    assert.equal(done.runtimeStatus, "Completed");
    assert.equal(done.output, "fine");
    await provider.close();
  });
});

