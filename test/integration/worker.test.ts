import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import { createHost } from "../../src/host/host.js";
import { MemoryProvider } from "../../src/providers/memory/memory-provider.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { eventually, forEachStore, wait, storedHistory } from "../helpers/hosts.js";

forEachStore("worker", (start) => {
  it("renews leases: an activity that outlives leaseMs runs once", async () => {
    let runs = 0;
    const host = await start(
      (app) => {
        app.activity("slow", {
          handler: async () => {
            runs++;
            await wait(400);
            return "slow result";
          },
        });
        app.orchestration("slowOne", function* (ctx) {
          return yield ctx.df.callActivity("slow");
        });
      },
      { leaseMs: 120 },
    );
    const id = await host.client.startNew("slowOne");
    assert.equal((await host.client.waitForCompletion(id)).output, "slow result");
    assert.equal(runs, 1, "the lease was renewed, so no other delivery happened");
    assert.equal(host.worker.stats.lockLost, 0);
  });

  it("respects maxConcurrentActivities", async () => {
    let running = 0;
    let peak = 0;
    const host = await start(
      (app) => {
        app.activity("busy", {
          handler: async () => {
            running++;
            peak = Math.max(peak, running);
            await wait(20);
            running--;
            return 1;
          },
        });
        app.orchestration("wide", function* (ctx) {
          const r = (yield ctx.df.Task.all(Array.from({ length: 12 }, () => ctx.df.callActivity("busy")))) as number[];
          return r.length;
        });
      },
      { maxConcurrentActivities: 3 },
    );
    const id = await host.client.startNew("wide");
    assert.equal((await host.client.waitForCompletion(id)).output, 12);
    assert.ok(peak <= 3, `at most 3 at once (saw ${peak})`);
    assert.ok(peak >= 2, "and it did run them in parallel");
  });

  it("wakes up on new work in the same process without waiting for the polling floor", async () => {
    const host = await start(
      (app) => {
        app.activity("a", { handler: () => "a" });
        app.orchestration("twoSteps", function* (ctx) {
          yield ctx.df.callActivity("a");
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 20));
          return yield ctx.df.callActivity("a");
        });
      },
      { pollIntervalMs: 120_000 },
    );
    await wait(50); // both loops are now idle, parked on a two-minute poll
    const id = await host.client.startNew("twoSteps");
    assert.equal((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 })).output, "a");
  });
});

class CountingProvider extends MemoryProvider {
  locks = 0;
  override lockOrchestrationWorkItems(...args: Parameters<MemoryProvider["lockOrchestrationWorkItems"]>): ReturnType<MemoryProvider["lockOrchestrationWorkItems"]> {
    this.locks++;
    return super.lockOrchestrationWorkItems(...args);
  }
  override lockActivityWorkItems(...args: Parameters<MemoryProvider["lockActivityWorkItems"]>): ReturnType<MemoryProvider["lockActivityWorkItems"]> {
    this.locks++;
    return super.lockActivityWorkItems(...args);
  }
}

it("does not busy-poll storage when idle", async () => {
  const provider = new CountingProvider();
  const host = createHost({ store: provider, port: false, app: createApp(), logger: silentLogger, pollIntervalMs: 200 });
  await host.start();
  try {
    await wait(50);
    const before = provider.locks;
    await wait(600);
    const calls = provider.locks - before;
    assert.ok(calls <= 12, `two idle loops polling every 200 ms make a handful of calls, not a busy loop (saw ${calls})`);
  } finally {
    await host.stop();
  }
});

it("hands a finished activity's slot to the next activity of its orchestration, for every step committed in the same turn", async () => {
  // Each sequence's next activity is leased in the commit that records the previous result: none of
  // them waits in the queue for a lock, however many steps are committed together.
  class TaskCounting extends MemoryProvider {
    claimed = 0;
    override async lockActivityWorkItems(...args: Parameters<MemoryProvider["lockActivityWorkItems"]>): ReturnType<MemoryProvider["lockActivityWorkItems"]> {
      const items = await super.lockActivityWorkItems(...args);
      this.claimed += items.length;
      return items;
    }
  }
  const provider = new TaskCounting();
  const app = createApp();
  app.activity("echo", { handler: (x: number) => x });
  app.orchestration("three", function* (ctx) {
    const a = (yield ctx.df.callActivity("echo", 1)) as number;
    const b = (yield ctx.df.callActivity("echo", 2)) as number;
    return a + b + ((yield ctx.df.callActivity("echo", 3)) as number);
  });
  const host = createHost({ store: provider, port: false, app, logger: silentLogger, maxConcurrentActivities: 20 });
  await host.start();
  try {
    const ids = await Promise.all(Array.from({ length: 20 }, () => host.client.startNew("three")));
    for (const id of ids) assert.equal((await host.client.waitForCompletion(id)).output, 6);
    assert.equal(provider.claimed, 0, "every activity was leased by the commit that scheduled it");
  } finally {
    await host.stop();
  }
});

it("runs the first step of what its host starts straight from the start, with no lock; a full worker leaves the rest to its lock", async () => {
  class LockCounting extends MemoryProvider {
    lockedInstances = 0;
    leasedStarts = 0;
    override async lockOrchestrationWorkItems(...args: Parameters<MemoryProvider["lockOrchestrationWorkItems"]>): ReturnType<MemoryProvider["lockOrchestrationWorkItems"]> {
      const items = await super.lockOrchestrationWorkItems(...args);
      this.lockedInstances += items.length;
      return items;
    }
    override async createInstance(...args: Parameters<MemoryProvider["createInstance"]>): ReturnType<MemoryProvider["createInstance"]> {
      const item = await super.createInstance(...args);
      if (item) this.leasedStarts++;
      return item;
    }
  }
  const app = createApp();
  app.activity("double", { handler: (x: number) => x * 2 });
  app.orchestration("once", function* (ctx) {
    return yield ctx.df.callActivity("double", ctx.df.getInput<number>());
  });
  for (const [slots, starts] of [[100, 5], [2, 6]] as const) {
    const provider = new LockCounting();
    // No polls: a lock in flight holds every free slot, and a start that comes meanwhile is left to it.
    const host = createHost({ store: provider, port: false, app, logger: silentLogger, maxConcurrentOrchestrations: slots, pollIntervalMs: 60_000 });
    await host.start();
    try {
      await wait(50); // the first lock, at start, has come back empty
      // One at a time: each start finds a free slot and is leased to the worker.
      for (let i = 0; i < starts; i++) assert.equal((await host.client.waitForCompletion(await host.client.startNew("once", { input: i }))).output, i * 2);
      assert.equal(provider.leasedStarts, starts, `${slots} slots: every start leased`);
      assert.equal(provider.lockedInstances, 0, `${slots} slots: no instance was locked`);
      // All at once: a worker with fewer slots than starts leases what fits; its lock takes the rest.
      const ids = await Promise.all(Array.from({ length: starts }, (_, i) => host.client.startNew("once", { input: 100 + i })));
      for (const [i, id] of ids.entries()) assert.equal((await host.client.waitForCompletion(id)).output, (100 + i) * 2);
      const leased = provider.leasedStarts - starts;
      if (slots >= starts) assert.equal(leased, starts, "room for every start");
      else assert.ok(leased >= 1 && leased <= slots && provider.lockedInstances >= starts - leased, `${slots} slots: ${leased} leased, ${provider.lockedInstances} locked`);
    } finally {
      await host.stop();
    }
  }
});

it("a start the store refuses gives back the slot its worker offered", async () => {
  const app = createApp();
  app.orchestration("waits", function* (ctx) {
    return yield ctx.df.waitForExternalEvent("go");
  });
  // One slot: an offer that was never given back would stop every step after it.
  const host = createHost({ store: "memory:", port: false, app, logger: silentLogger, maxConcurrentOrchestrations: 1 });
  await host.start();
  try {
    const id = await host.client.startNew("waits", { instanceId: "only" });
    await eventually(async () => (await host.client.getStatus(id))?.runtimeStatus === "Running", 10_000, "the first instance to run");
    for (let i = 0; i < 3; i++) await assert.rejects(host.client.startNew("waits", { instanceId: "only" }), /already exists/);
    await host.client.raiseEvent(id, "go", "went");
    assert.equal((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 })).output, "went");
    const next = await host.client.startNew("waits");
    await host.client.raiseEvent(next, "go", 2);
    assert.equal((await host.client.waitForCompletion(next, { timeoutInMilliseconds: 10_000 })).output, 2);
  } finally {
    await host.stop();
  }
});

const dir = mkdtempSync(join(tmpdir(), "perdure-drain-"));
after(() => rmSync(dir, { recursive: true, force: true }));

it("drains on stop: the running activity finishes and its result is kept for the next host", async () => {
  const file = join(dir, "drain.db");
  const register = (app: DurableApp, log: string[]): void => {
    app.activity("step", {
      handler: async (n: number) => {
        log.push(`start ${n}`);
        await wait(150);
        log.push(`end ${n}`);
        return n;
      },
    });
    app.orchestration("steps", function* (ctx) {
      const out: unknown[] = [];
      for (let i = 0; i < 3; i++) out.push(yield ctx.df.callActivity("step", i));
      return out;
    });
  };
  const log1: string[] = [];
  const app1 = createApp();
  register(app1, log1);
  const first = createHost({ store: `sqlite:${file}`, port: false, app: app1, logger: silentLogger });
  await first.start();
  const id = await first.client.startNew("steps", { instanceId: "drained" });
  await eventually(async () => log1.includes("start 0"));
  await first.stop();
  assert.deepEqual(log1, ["start 0", "end 0"], "stop waited for the activity in flight and took no new work");

  const log2: string[] = [];
  const app2 = createApp();
  register(app2, log2);
  const second = createHost({ store: `sqlite:${file}`, port: false, app: app2, logger: silentLogger });
  await second.start();
  try {
    assert.deepEqual((await second.client.waitForCompletion(id)).output, [0, 1, 2]);
    assert.ok(!log2.includes("start 0"), "step 0's result was committed before the first host stopped");
    const history = await storedHistory(second, id);
    assert.equal(history.filter((e) => e.type === "TaskCompleted").length, 3);
    await assertAllReplayCleanly(second.provider, app2.registry);
  } finally {
    await second.stop();
  }
});


it("keeps orchestration time monotonic when a worker with a slower clock takes over", async () => {
  const { ManualClock } = await import("../helpers/clock.js");
  const provider = new MemoryProvider();
  const register = (app: DurableApp): void => {
    app.orchestration("clocked", function* (ctx) {
      const before = ctx.df.currentUtcDateTime.getTime();
      yield ctx.df.waitForExternalEvent("next");
      return ctx.df.currentUtcDateTime.getTime() - before;
    });
  };
  const fast = new ManualClock(Date.parse("2026-06-01T12:00:00Z"));
  const app1 = createApp();
  register(app1);
  const first = createHost({ store: provider, port: false, app: app1, logger: silentLogger, clock: fast, pollIntervalMs: 10 });
  await first.start();
  const id = await first.client.startNew("clocked");
  await eventually(async () => (await first.client.getStatus(id)).runtimeStatus === "Running");
  await first.worker.stop();

  const slow = new ManualClock(Date.parse("2026-06-01T11:00:00Z")); // an hour behind
  const app2 = createApp();
  register(app2);
  const second = createHost({ store: provider, port: false, app: app2, logger: silentLogger, clock: slow, pollIntervalMs: 10 });
  await second.start();
  try {
    await second.client.raiseEvent(id, "next");
    const status = await second.client.waitForCompletion(id);
    assert.ok((status.output as number) >= 0, `time moved forward or stood still (delta ${String(status.output)} ms)`);
  } finally {
    await second.stop();
  }
});

class FlakyCommitProvider extends MemoryProvider {
  refused = 0;
  override async completeOrchestrationWorkItems(...args: Parameters<MemoryProvider["completeOrchestrationWorkItems"]>): ReturnType<MemoryProvider["completeOrchestrationWorkItems"]> {
    if (this.refused === 0) {
      this.refused++;
      return args[0].map(() => ({ ok: false as const, error: new Error("storage hiccup") }));
    }
    return super.completeOrchestrationWorkItems(...args);
  }
}

it("retries a step whose commit the store refused for another reason than a lost lease", async () => {
  const provider = new FlakyCommitProvider();
  const app = createApp();
  app.activity("one", { handler: () => 1 });
  app.orchestration("afterHiccup", function* (ctx) {
    return yield ctx.df.callActivity("one");
  });
  const host = createHost({ store: provider, port: false, app, logger: silentLogger });
  await host.start();
  try {
    const id = await host.client.startNew("afterHiccup");
    assert.equal((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 })).output, 1);
    assert.equal(provider.refused, 1);
    assert.equal(host.worker.stats.lockLost, 0, "not mistaken for a lost lease");
    await assertAllReplayCleanly(provider, app.registry);
  } finally {
    await host.stop();
  }
});
