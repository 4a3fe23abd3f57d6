/**
 * A history of over 100,000 events: a fan-out of 50,000 activities completes, and its history reads
 * back in pages (in process and over HTTP), every event once, in order.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { Task } from "../../src/core/tasks.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { forEachStore } from "../helpers/hosts.js";

const N = 50_000;

function register(app: DurableApp): void {
  app.activity("square", { handler: (i: number) => i * i });
  app.orchestration("wide", function* (ctx) {
    const n = ctx.df.getInput<number>();
    const tasks: Task[] = [];
    for (let i = 0; i < n; i++) tasks.push(ctx.df.callActivity("square", i));
    const results = (yield ctx.df.Task.all(tasks)) as number[];
    return results.reduce((a, b) => a + b, 0);
  });
}

forEachStore("a history of over 100,000 events", (start, store) => {
  // The memory store holds the same in a Map; the two stores on disk are the ones that page.
  if (store === "memory") return;
  it("completes, and its history reads back in pages, every event once and in order", async () => {
    const host = await start(register, { port: 0, maxConcurrentActivities: 200 });
    const id = await host.client.startNew("wide", { input: N });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 120_000 });
    assert.equal(status.runtimeStatus, "Completed");
    assert.equal(status.output, ((N - 1) * N * (2 * N - 1)) / 6);

    const stored = await host.provider.getHistory(id);
    assert.ok(stored.length > 100_000, `${stored.length} events`);
    const paged: HistoryEvent[] = [];
    let pages = 0;
    for (let from: number | undefined = 0; from !== undefined; pages++) {
      const page: { events: HistoryEvent[]; nextFrom?: number } = await host.client.getHistoryPage(id, { from, limit: 5_000 });
      paged.push(...page.events);
      from = page.nextFrom;
    }
    assert.equal(pages, Math.ceil(stored.length / 5_000));
    assert.equal(paged.length, stored.length);
    assert.deepEqual(paged.map((e) => e.type), stored.map((e) => e.type), "the pages put together are the stored history");
    const completed = paged.filter((e) => e.type === "TaskCompleted").map((e) => (e as { taskScheduledId: number }).taskScheduledId);
    assert.equal(new Set(completed).size, N, "each activity's result once");

    // The management API's page in the middle of it.
    const r = await fetch(`${host.url!}/runtime/webhooks/durabletask/instances/${id}/history?from=60000&limit=3`);
    assert.equal(r.status, 200);
    const middle = (await r.json()) as { events: HistoryEvent[]; nextFrom?: number };
    assert.deepEqual(middle.events.map((e) => e.type), stored.slice(60_000, 60_003).map((e) => e.type));
    assert.equal(middle.nextFrom, 60_003);
  });
});
