import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import type { LockHandle } from "../../src/core/entity-tasks.js";
import { eventually, forEachStore } from "../helpers/hosts.js";
import { completed, eid, stateEventually } from "./helpers.js";

/**
 * With the executor cache off, every orchestration step replays the whole history from scratch:
 * callEntity, signalEntity and critical sections must come back to the same place each time.
 */
forEachStore("entities with replay at every step (executorCacheSize 0)", (start) => {
  const register = (app: DurableApp): void => {
    app.entity<number>("counter", (ctx) => {
      const v = ctx.df.getState(() => 0);
      if (ctx.df.operationName === "get") return ctx.df.return(v);
      ctx.df.setState(v + (ctx.df.getInput<number>() ?? 1));
      ctx.df.return(v + (ctx.df.getInput<number>() ?? 1));
    });
    app.orchestration("mixed", function* (ctx) {
      const key = ctx.df.getInput<string>();
      const a = new EntityId("counter", `${key}-a`);
      const b = new EntityId("counter", `${key}-b`);
      const log: unknown[] = [];
      ctx.df.signalEntity(a, "add", 1);
      log.push(yield ctx.df.callEntity(a, "add", 2));
      const h: LockHandle = yield ctx.df.lock(b, a);
      log.push(yield ctx.df.Task.all([ctx.df.callEntity(a, "add", 10), ctx.df.callEntity(b, "add", 20)]));
      yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5));
      log.push(yield ctx.df.callEntity(b, "get"));
      log.push(ctx.df.lockedEntities.map((e) => e.key));
      h.release();
      ctx.df.signalEntity(b, "add", 100);
      const h2: LockHandle = yield ctx.df.lock(a);
      log.push(yield ctx.df.callEntity(a, "get"));
      h2.release();
      log.push(ctx.df.newGuid().length);
      return log;
    });
  };

  it("calls, signals and sections replay to the same decisions", async () => {
    const host = await start(register, { executorCacheSize: 0 });
    const ids = await Promise.all(["r1", "r2", "r3"].map((k) => host.client.startNew("mixed", { instanceId: k, input: k })));
    for (const id of ids) {
      const out = (await completed(host.client, id)).output as unknown[];
      assert.deepEqual(out, [3, [13, 20], 20, [`${id}-a`, `${id}-b`].sort(), 13, 36]);
      await stateEventually<number>(host.client, eid("counter", `${id}-b`), (v) => v === 120);
    }
  });

  /** An orchestration that holds a lock and then replays differently; and one that needs the same lock. */
  const registerChanging = (variant: () => number) => (app: DurableApp): void => {
    register(app);
    app.orchestration("changesItsMind", function* (ctx) {
      const id = new EntityId("counter", "nd");
      const h: LockHandle = yield ctx.df.lock(id);
      ctx.df.setCustomStatus("locked");
      // The code after the lock differs between the first run and the replay.
      if (variant() === 0) yield ctx.df.waitForExternalEvent("go");
      else yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1));
      yield ctx.df.callEntity(id, "add", 1);
      h.release();
      return "done";
    });
    app.orchestration("lockAndAdd", function* (ctx) {
      const id = new EntityId("counter", "nd");
      const h: LockHandle = yield ctx.df.lock(id);
      const v: number = yield ctx.df.callEntity(id, "add", 5);
      h.release();
      return v;
    });
  };

  it("with onNondeterminism 'fail', a nondeterministic orchestration that holds locks fails, and its locks are released", async () => {
    let variant = 0;
    const host = await start(registerChanging(() => variant), { executorCacheSize: 0, skipReplayCheck: true, retry: { onNondeterminism: "fail" } });
    const id = await host.client.startNew("changesItsMind");
    await eventually(async () => (await host.client.getStatus(id)).customStatus === "locked");
    variant = 1;
    await host.client.raiseEvent(id, "go");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.failureDetails?.code, "NONDETERMINISM");
    const next = await host.client.startNew("lockAndAdd");
    assert.equal((await completed(host.client, next)).output, 5, "the failed instance's lock was released");
  });

  it("by default it parks holding its locks (it is alive); terminating it releases them", async () => {
    let variant = 0;
    const host = await start(registerChanging(() => variant), { executorCacheSize: 0, skipReplayCheck: true, retry: { initialDelayMs: 20, maxDelayMs: 50 } });
    const id = await host.client.startNew("changesItsMind");
    await eventually(async () => (await host.client.getStatus(id)).customStatus === "locked");
    variant = 1;
    await host.client.raiseEvent(id, "go");
    const parked = await eventually(async () => (await host.client.getStatus(id)).parked);
    assert.equal(parked.code, "NONDETERMINISM");
    const next = await host.client.startNew("lockAndAdd");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await host.client.getStatus(next)).runtimeStatus, "Running", "the lock is still held by the parked instance");
    await host.client.terminate(id, "stuck");
    assert.equal((await host.client.waitForCompletion(id)).runtimeStatus, "Terminated");
    assert.equal((await completed(host.client, next)).output, 5, "terminating released the lock without running the code");
  });
});
