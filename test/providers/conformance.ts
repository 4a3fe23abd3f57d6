/**
 * The storage provider conformance suite (reliability anchors T20). One suite, run against every
 * StorageProvider (memory, SQLite file, SQLite :memory:, and later PostgreSQL) through the interface
 * only: no SQL, no provider internals, and time always passed in as fixed `now` values.
 *
 * `makeProvider` returns a fresh, empty store (the suite calls `initialize()` again, which must be
 * idempotent). `cleanup` closes whichever provider is current and removes the storage. `reopen`,
 * when the backend is persistent, closes the current provider and returns a new, initialized one
 * on the same storage (it becomes the current one for `cleanup`).
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { InstanceAlreadyExistsError, InstanceNotFoundError, InvalidArgumentError } from "../../src/core/errors.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { ALL_RUNTIME_STATUSES, isTerminalStatus, type OrchestrationRuntimeStatus } from "../../src/core/status.js";
import type { ActivityResult, ActivityTaskRequest, InstanceRecord, InstanceUpdate, OrchestrationWorkItem, StorageProvider } from "../../src/providers/provider.js";
import {
  FAR,
  LEASE,
  RICH_FAILURE,
  T0,
  allInstances,
  assertLockLost,
  byCreatedThenId,
  commitFor,
  commitOk,
  commitOne,
  create,
  entityOperation,
  entityRecord,
  eventRaised,
  executionCompleted,
  firstStepHistory,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  newEntityRow,
  orchestratorCompleted,
  orchestratorStarted,
  peekEvents,
  peekMessages,
  recordWork,
  runTo,
  startedEvent,
  taskCompleted,
  taskFailed,
  taskScheduled,
  timerFired,
} from "./fixtures.js";

export interface ProviderHandle {
  provider: StorageProvider;
  cleanup: () => Promise<void>;
  reopen?: () => Promise<StorageProvider>;
}

export type MakeProvider = () => Promise<ProviderHandle>;

type Body = (p: StorageProvider, h: ProviderHandle, t: TestContext) => Promise<void>;

const hasCode = (code: string, cls: abstract new (...args: never[]) => Error) => (err: unknown): boolean => {
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
  assert.equal((err as { code?: unknown }).code, code);
  return true;
};

/** Runs one step of `instanceId` that schedules activities `names` (task ids 1..n); returns the requests. */
async function scheduleActivities(p: StorageProvider, instanceId: string, names: string[], now = T0): Promise<ActivityTaskRequest[]> {
  const item = await lockOne(p, instanceId, now);
  const tasks: ActivityTaskRequest[] = names.map((name, i) => ({ instanceId, executionId: item.instance.executionId, taskScheduledId: i + 1, name, input: JSON.stringify(`${name}-in`) }));
  const started = item.messages.map((m) => m.message.event).filter((e) => e.type === "ExecutionStarted");
  await commitOk(p, commitFor(item, { newHistory: [orchestratorStarted(now), ...started, ...tasks.map((t) => taskScheduled(t.taskScheduledId, t.name, now, t.input)), orchestratorCompleted(now)], activityTasks: tasks }), now);
  return tasks;
}

export function runConformanceSuite(name: string, makeProvider: MakeProvider): void {
  const test = (title: string, body: Body): void => {
    it(title, async (t) => {
      const h = await makeProvider();
      try {
        await h.provider.initialize();
        await body(h.provider, h, t);
      } finally {
        await h.cleanup();
      }
    });
  };

  describe(`StorageProvider conformance: ${name}`, () => {
    describe("initialize", () => {
      test("is idempotent and leaves an empty store", async (p) => {
        await p.initialize();
        await p.initialize();
        assert.deepEqual(await p.queryInstances({}), { instances: [] });
        assert.equal(await p.nextVisibleAt(0), undefined);
        assert.deepEqual(await lockAll(p, FAR), []);
        assert.deepEqual(await lockActivities(p, FAR), []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("createInstance", () => {
      test("creates a Pending instance and enqueues its ExecutionStarted message", async (p) => {
        const parent = { name: "Parent", instanceId: "parent-1", executionId: "pexec", taskScheduledId: 3 };
        const req = await create(p, "c1", { name: "MyOrch", executionId: "e1", input: '{"a":1}', now: T0 + 5, parent });
        const expected: InstanceRecord = {
          instanceId: "c1",
          name: "MyOrch",
          executionId: "e1",
          runtimeStatus: "Pending",
          input: '{"a":1}',
          parentInstanceId: "parent-1",
          createdAt: T0 + 5,
          lastUpdatedAt: T0 + 5,
          historyLength: 0,
        };
        assert.deepEqual(await p.getInstance("c1"), expected);
        assert.deepEqual(await p.getHistory("c1"), []);
        const [item, ...rest] = await lockAll(p, T0 + 5);
        assert.equal(rest.length, 0);
        assert.ok(item);
        assert.equal(item.instanceId, "c1");
        assert.deepEqual(item.instance, expected);
        assert.equal(item.messages.length, 1);
        assert.deepEqual(item.messages[0]!.message, { event: req.startedEvent, executionId: "e1" });
      });

      test("an instance without input or parent has neither field", async (p) => {
        await create(p, "bare", { executionId: "e" });
        assert.deepEqual(await p.getInstance("bare"), {
          instanceId: "bare",
          name: "Orch",
          executionId: "e",
          runtimeStatus: "Pending",
          createdAt: T0,
          lastUpdatedAt: T0,
          historyLength: 0,
        });
      });

      for (const status of ["Pending", "Running", "Suspended", "ContinuedAsNew"] as const) {
        test(`refuses an existing ${status} instance with InstanceAlreadyExistsError and changes nothing`, async (p) => {
          await runTo(p, "dup", status, { input: '"first"' });
          // Leave work behind that must survive the refused create: a task, a timer and an event.
          let tasks: ActivityTaskRequest[] = [];
          if (status !== "Pending") {
            await p.sendMessages([{ instanceId: "dup", message: { event: eventRaised("kick", T0 + 1) } }], T0 + 1);
            tasks = await scheduleActivities(p, "dup", ["act"], T0 + 1);
          }
          await p.sendMessages([{ instanceId: "dup", message: { event: timerFired(9, T0 + 50_000) }, visibleAt: T0 + 50_000 }], T0 + 2);
          await p.sendMessages([{ instanceId: "dup", message: { event: eventRaised("ev", T0 + 2) } }], T0 + 2);
          const before = { instance: await p.getInstance("dup"), history: await p.getHistory("dup") };
          const messagesBefore = await peekMessages(p, "dup", T0 + 3);

          await assert.rejects(create(p, "dup", { executionId: "second", input: '"second"', now: T0 + 10 }), hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError));

          assert.deepEqual({ instance: await p.getInstance("dup"), history: await p.getHistory("dup") }, before);
          assert.deepEqual(await peekMessages(p, "dup", T0 + 3), messagesBefore);
          assert.equal(await p.nextVisibleAt(T0 + 10), T0 + 50_000);
          assert.deepEqual((await lockActivities(p, T0 + 10)).map((a) => a.name), tasks.map((x) => x.name));
        });
      }

      for (const status of ["Completed", "Failed", "Terminated", "Canceled"] as const) {
        test(`replaces a ${status} instance: old history, messages and tasks are gone`, async (p) => {
          await create(p, "re", { executionId: "old", input: '"old"', now: T0 });
          const item = await lockOne(p, "re", T0);
          const oldStarted = item.messages[0]!.message.event;
          await commitOk(
            p,
            commitFor(item, {
              status,
              newHistory: [orchestratorStarted(T0), oldStarted, taskScheduled(1, "act", T0), executionCompleted("Completed", T0, '"out"'), orchestratorCompleted(T0)],
              instance: { output: '"out"', customStatus: '"cs"', failureDetails: RICH_FAILURE },
              activityTasks: [{ instanceId: "re", executionId: "old", taskScheduledId: 1, name: "act" }],
              messages: [{ instanceId: "re", message: { event: timerFired(2, T0 + 60_000), executionId: "old" }, visibleAt: T0 + 60_000 }],
            }),
            T0,
          );
          await p.sendMessages([{ instanceId: "re", message: { event: eventRaised("late", T0 + 1) } }], T0 + 1);

          const req = await create(p, "re", { executionId: "new", input: '"new"', now: T0 + 100 });

          assert.deepEqual(await p.getInstance("re"), {
            instanceId: "re",
            name: "Orch",
            executionId: "new",
            runtimeStatus: "Pending",
            input: '"new"',
            createdAt: T0 + 100,
            lastUpdatedAt: T0 + 100,
            historyLength: 0,
          });
          assert.deepEqual(await p.getHistory("re"), []);
          assert.deepEqual(await lockActivities(p, FAR), [], "the old execution's activity task is gone");
          assert.equal(await p.nextVisibleAt(T0 + 100), undefined, "the old execution's timer is gone");
          const msgs = await peekMessages(p, "re", FAR);
          assert.deepEqual(msgs?.map((m) => m.message), [{ event: req.startedEvent, executionId: "new" }]);
        });
      }

      test("visibleAt delays the start", async (p) => {
        await create(p, "later", { now: T0, visibleAt: T0 + 5_000 });
        assert.equal((await p.getInstance("later"))?.runtimeStatus, "Pending");
        assert.deepEqual(await lockAll(p, T0), []);
        assert.equal(await p.nextVisibleAt(T0), T0 + 5_000);
        assert.deepEqual(await lockAll(p, T0 + 4_999), []);
        const items = await lockAll(p, T0 + 5_000);
        assert.deepEqual(ids(items), ["later"]);
        assert.equal(items[0]!.messages[0]!.message.event.type, "ExecutionStarted");
      });

      test("concurrent creates of one ID: exactly one wins", async (p) => {
        const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => create(p, "race", { executionId: `e${n}`, now: T0 + n })));
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
        for (const r of results) if (r.status === "rejected") hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError)(r.reason);
        const msgs = await peekMessages(p, "race", FAR);
        assert.equal(msgs?.length, 1);
        assert.equal(msgs[0]!.message.executionId, (await p.getInstance("race"))?.executionId);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("sendMessages", () => {
      test("enqueues messages in order, keeping executionId only when given, with visibleAt", async (p) => {
        await create(p, "s1", { executionId: "x1" });
        await p.sendMessages(
          [
            { instanceId: "s1", message: { event: eventRaised("a", T0, '"A"') } },
            { instanceId: "s1", message: { event: eventRaised("b", T0), executionId: "x1" } },
            { instanceId: "s1", message: { event: eventRaised("later", T0) }, visibleAt: T0 + 1_000 },
          ],
          T0,
        );
        const msgs = (await peekMessages(p, "s1", T0))!;
        assert.deepEqual(
          msgs.slice(1).map((m) => m.message),
          [{ event: eventRaised("a", T0, '"A"') }, { event: eventRaised("b", T0), executionId: "x1" }],
        );
        assert.equal(await p.nextVisibleAt(T0), T0 + 1_000);
        assert.deepEqual((await peekEvents(p, "s1", T0 + 1_000)).map((e) => (e.type === "EventRaised" ? e.name : e.type)), ["ExecutionStarted", "a", "b", "later"]);
      });

      test("an unknown instance raises InstanceNotFoundError and writes nothing", async (p) => {
        await create(p, "known");
        await assert.rejects(p.sendMessages([{ instanceId: "ghost", message: { event: eventRaised("e", T0) } }], T0), (err: unknown) => {
          hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError)(err);
          assert.equal((err as InstanceNotFoundError).instanceId, "ghost");
          return true;
        });
        await assert.rejects(
          p.sendMessages(
            [
              { instanceId: "known", message: { event: eventRaised("e1", T0) } },
              { instanceId: "ghost", message: { event: eventRaised("e2", T0) } },
              { instanceId: "known", message: { event: eventRaised("e3", T0) }, visibleAt: T0 + 10 },
            ],
            T0,
          ),
          hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError),
        );
        assert.equal(await p.getInstance("ghost"), undefined);
        assert.equal(await p.nextVisibleAt(T0), undefined);
        assert.deepEqual((await peekEvents(p, "known", FAR)).map((e) => e.type), ["ExecutionStarted"]);
      });

      test("an empty batch is a no-op", async (p) => {
        await p.sendMessages([], T0);
        assert.deepEqual(await lockAll(p, FAR), []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("lockOrchestrationWorkItems", () => {
      test("hands out only visible messages (visibleAt <= now)", async (p) => {
        await create(p, "v");
        await p.sendMessages([{ instanceId: "v", message: { event: timerFired(1, T0 + 1_000) }, visibleAt: T0 + 1_000 }], T0);
        const item = await lockOne(p, "v", T0);
        assert.deepEqual(item.messages.map((m) => m.message.event.type), ["ExecutionStarted"]);
        await commitOk(p, commitFor(item), T0);
        assert.deepEqual(await lockAll(p, T0 + 999), []);
        const [timer] = await lockAll(p, T0 + 1_000);
        assert.deepEqual(timer?.messages.map((m) => m.message.event), [timerFired(1, T0 + 1_000)]);
      });

      test("sets lockedUntil = now + leaseMs and returns the instance row", async (p) => {
        await create(p, "l", { input: '"in"' });
        const [item] = await p.lockOrchestrationWorkItems({ now: T0 + 7, leaseMs: 12_345, max: 5 });
        assert.ok(item);
        assert.equal(item.lockedUntil, T0 + 7 + 12_345);
        assert.equal(typeof item.lockToken, "string");
        assert.ok(item.lockToken.length > 0);
        assert.deepEqual(item.instance, await p.getInstance("l"));
      });

      test("a locked instance is not handed out again until its lease expires; takeover gives a new token", async (p) => {
        await create(p, "x");
        const [first] = await lockAll(p, T0);
        assert.ok(first);
        await p.sendMessages([{ instanceId: "x", message: { event: eventRaised("more", T0 + 1) } }], T0 + 1);
        assert.deepEqual(await lockAll(p, T0 + 1), []);
        assert.deepEqual(await lockAll(p, T0 + LEASE - 1), []);
        const [second, ...none] = await lockAll(p, T0 + LEASE);
        assert.equal(none.length, 0);
        assert.ok(second);
        assert.equal(second.instanceId, "x");
        assert.notEqual(second.lockToken, first.lockToken);
        assert.equal(second.lockedUntil, T0 + 2 * LEASE);
        assert.deepEqual(second.messages.map((m) => m.message.event.type), ["ExecutionStarted", "EventRaised"]);
        assert.deepEqual(second.messages[0], first.messages[0]);
        // The old holder is fenced off; the new one commits.
        assertLockLost(await commitOne(p, commitFor(first), T0 + LEASE + 1));
        await commitOk(p, commitFor(second), T0 + LEASE + 2);
      });

      test("respects max (and max 0 locks nothing)", async (p) => {
        for (let i = 0; i < 5; i++) await create(p, `m${i}`);
        assert.deepEqual(await p.lockOrchestrationWorkItems({ now: T0, leaseMs: LEASE, max: 0 }), []);
        const seen: string[] = [];
        for (const expected of [2, 2, 1, 0]) {
          const items = await p.lockOrchestrationWorkItems({ now: T0, leaseMs: LEASE, max: 2 });
          assert.equal(items.length, expected);
          seen.push(...ids(items));
        }
        assert.deepEqual([...seen].sort(), ["m0", "m1", "m2", "m3", "m4"]);
      });

      test("returns an instance's messages in id (arrival) order", async (p) => {
        await create(p, "o");
        for (let i = 0; i < 12; i++) await p.sendMessages([{ instanceId: "o", message: { event: eventRaised(`e${i}`, T0) } }], T0);
        await p.sendMessages(
          [12, 13, 14].map((i) => ({ instanceId: "o", message: { event: eventRaised(`e${i}`, T0) } })),
          T0,
        );
        const [item] = await lockAll(p, T0);
        assert.ok(item);
        const msgIds = item.messages.map((m) => m.id);
        assert.deepEqual(msgIds, [...msgIds].sort((a, b) => a - b));
        assert.equal(new Set(msgIds).size, msgIds.length);
        assert.deepEqual(
          item.messages.slice(1).map((m) => (m.message.event.type === "EventRaised" ? m.message.event.name : "?")),
          Array.from({ length: 15 }, (_, i) => `e${i}`),
        );
      });

      test("messages that arrive while an instance is locked stay for the next lock", async (p) => {
        await create(p, "w");
        const item = await lockOne(p, "w", T0);
        await p.sendMessages([{ instanceId: "w", message: { event: eventRaised("during", T0 + 1) } }], T0 + 1);
        assert.deepEqual(await lockAll(p, T0 + 2), [], "still locked");
        await commitOk(p, commitFor(item), T0 + 3);
        const next = await lockOne(p, "w", T0 + 3);
        assert.deepEqual(next.messages.map((m) => m.message.event), [eventRaised("during", T0 + 1)]);
      });

      test("concurrent lockers never get the same instance", async (p) => {
        for (let i = 0; i < 10; i++) await create(p, `cc${i}`);
        const batches = await Promise.all([1, 2, 3, 4, 5].map(() => p.lockOrchestrationWorkItems({ now: T0, leaseMs: LEASE, max: 3 })));
        const all = batches.flatMap(ids);
        assert.equal(new Set(all).size, all.length, `duplicates in ${JSON.stringify(all)}`);
        assert.equal(all.length, 10);
      });

      test("returned work items are copies: mutating them changes nothing stored", async (p) => {
        await create(p, "cp", { input: '"in"' });
        const item = await lockOne(p, "cp", T0);
        const ev = item.messages[0]!.message.event as { name?: string };
        ev.name = "mutated";
        item.instance.runtimeStatus = "Failed";
        item.instance.input = "mutated";
        assert.equal((await p.getInstance("cp"))?.runtimeStatus, "Pending");
        assert.equal((await p.getInstance("cp"))?.input, '"in"');
        await p.abandonOrchestrationWorkItem(item, 0, T0);
        const again = await lockOne(p, "cp", T0);
        assert.equal((again.messages[0]!.message.event as { name?: string }).name, "Orch");
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("completeOrchestrationWorkItems", () => {
      test("appends history in order across steps and counts it", async (p) => {
        const req = await create(p, "h");
        const s1 = await lockOne(p, "h", T0);
        const h1 = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0, '"x"'), taskScheduled(2, "b", T0)]);
        await commitOk(p, commitFor(s1, { newHistory: h1 }), T0 + 1);
        assert.deepEqual(await p.getHistory("h"), h1);
        assert.equal((await p.getInstance("h"))?.historyLength, h1.length);

        await p.sendMessages([{ instanceId: "h", message: { event: taskCompleted(2, T0 + 2, '"r"') } }], T0 + 2);
        const s2 = await lockOne(p, "h", T0 + 2);
        assert.equal(s2.instance.historyLength, h1.length);
        const h2: HistoryEvent[] = [orchestratorStarted(T0 + 2), taskCompleted(2, T0 + 2, '"r"'), taskFailed(1, T0 + 2, RICH_FAILURE), orchestratorCompleted(T0 + 2)];
        await commitOk(p, commitFor(s2, { newHistory: h2 }), T0 + 3);
        assert.deepEqual(await p.getHistory("h"), [...h1, ...h2]);
        assert.equal((await p.getInstance("h"))?.historyLength, h1.length + h2.length);

        // A step with no history (only duplicates) leaves history alone.
        await p.sendMessages([{ instanceId: "h", message: { event: taskCompleted(2, T0 + 4) } }], T0 + 4);
        await commitOk(p, commitFor(await lockOne(p, "h", T0 + 4)), T0 + 4);
        assert.deepEqual(await p.getHistory("h"), [...h1, ...h2]);
        assert.equal((await p.getInstance("h"))?.historyLength, h1.length + h2.length);
      });

      test("replaceHistory drops the stored history first", async (p) => {
        const req = await create(p, "rh");
        await commitOk(p, commitFor(await lockOne(p, "rh", T0), { newHistory: firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0)]) }), T0);
        await p.sendMessages([{ instanceId: "rh", message: { event: eventRaised("go", T0 + 1) } }], T0 + 1);
        const rewritten = [orchestratorStarted(T0 + 1), req.startedEvent, orchestratorCompleted(T0 + 1)];
        await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 1), { replaceHistory: true, newHistory: rewritten }), T0 + 1);
        assert.deepEqual(await p.getHistory("rh"), rewritten);
        assert.equal((await p.getInstance("rh"))?.historyLength, 3);
        // Appending after a replacement continues from the new history.
        await p.sendMessages([{ instanceId: "rh", message: { event: eventRaised("go2", T0 + 2) } }], T0 + 2);
        await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 2), { newHistory: [orchestratorStarted(T0 + 2)] }), T0 + 2);
        assert.deepEqual(await p.getHistory("rh"), [...rewritten, orchestratorStarted(T0 + 2)]);
        assert.equal((await p.getInstance("rh"))?.historyLength, 4);
        // Replacing with nothing empties it.
        await p.sendMessages([{ instanceId: "rh", message: { event: eventRaised("go3", T0 + 3) } }], T0 + 3);
        await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 3), { replaceHistory: true, newHistory: [] }), T0 + 3);
        assert.deepEqual(await p.getHistory("rh"), []);
        assert.equal((await p.getInstance("rh"))?.historyLength, 0);
      });

      test("deletes exactly the consumed messages", async (p) => {
        await create(p, "d");
        await create(p, "other");
        await p.sendMessages(["a", "b", "c"].map((n) => ({ instanceId: "d", message: { event: eventRaised(n, T0) } })), T0);
        const item = await lockOne(p, "d", T0);
        assert.equal(item.messages.length, 4);
        const [m0, m1, m2, m3] = item.messages;
        await commitOk(p, commitFor(item, { consumedMessageIds: [m0!.id, m2!.id] }), T0);
        const left = await peekMessages(p, "d", T0);
        assert.deepEqual(left, [m1, m3]);
        assert.deepEqual((await peekEvents(p, "other", T0)).map((e) => e.type), ["ExecutionStarted"]);
      });

      test("updates the instance row: status, output, customStatus, failureDetails, input, name, executionId", async (p) => {
        const parent = { name: "P", instanceId: "par", executionId: "pe", taskScheduledId: 1 };
        await create(p, "u", { executionId: "e1", input: '"in"', now: T0, parent });
        const item = await lockOne(p, "u", T0);
        await commitOk(
          p,
          commitFor(item, {
            status: "Failed",
            newHistory: [orchestratorStarted(T0 + 10), executionCompleted("Failed", T0 + 10, '"why"', RICH_FAILURE)],
            instance: { name: "Renamed", executionId: "e2", input: '"in2"', output: '"why"', customStatus: '{"step":3}', failureDetails: RICH_FAILURE },
          }),
          T0 + 10,
        );
        const expected: InstanceRecord = {
          instanceId: "u",
          name: "Renamed",
          executionId: "e2",
          runtimeStatus: "Failed",
          input: '"in2"',
          output: '"why"',
          customStatus: '{"step":3}',
          failureDetails: RICH_FAILURE,
          parentInstanceId: "par",
          createdAt: T0,
          lastUpdatedAt: T0 + 10,
          historyLength: 2,
        };
        assert.deepEqual(await p.getInstance("u"), expected);
        assert.deepEqual((await p.queryInstances({})).instances, [expected]);

        // Undefined fields clear what was stored.
        await p.sendMessages([{ instanceId: "u", message: { event: eventRaised("x", T0 + 20) } }], T0 + 20);
        const again = await lockOne(p, "u", T0 + 20);
        assert.deepEqual(again.instance, expected);
        await commitOk(p, { ...commitFor(again), instance: { runtimeStatus: "Running", executionId: "e3", name: "N" } }, T0 + 30);
        assert.deepEqual(await p.getInstance("u"), {
          instanceId: "u",
          name: "N",
          executionId: "e3",
          runtimeStatus: "Running",
          parentInstanceId: "par",
          createdAt: T0,
          lastUpdatedAt: T0 + 30,
          historyLength: 2,
        });
      });

      test("payloads round-trip exactly (unicode, escapes, 1 MB)", async (p) => {
        const big = JSON.stringify("x".repeat(1024 * 1024));
        const odd = JSON.stringify({ s: "ünïcödé 😀 \u0000 \u2028 'single' \"double\" \\back\\ ` ${x} %_", n: -0.5e-7, a: [null, true] });
        const req = await create(p, "pl", { input: odd });
        const item = await lockOne(p, "pl", T0);
        assert.equal(item.instance.input, odd);
        const hist = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "big", T0, big), eventRaised(odd, T0, odd)]);
        await commitOk(p, commitFor(item, { status: "Completed", newHistory: hist, instance: { output: big, customStatus: odd } }), T0);
        const rec = await p.getInstance("pl");
        assert.equal(rec?.input, odd);
        assert.equal(rec?.output, big);
        assert.equal(rec?.customStatus, odd);
        assert.deepEqual(await p.getHistory("pl"), hist);
      });

      test("inserts activity tasks, visible at once", async (p) => {
        await create(p, "at", { executionId: "ex" });
        const item = await lockOne(p, "at", T0);
        const tasks: ActivityTaskRequest[] = [
          { instanceId: "at", executionId: "ex", taskScheduledId: 1, name: "first", input: '"one"' },
          { instanceId: "at", executionId: "ex", taskScheduledId: 2, name: "second" },
        ];
        await commitOk(p, commitFor(item, { activityTasks: tasks }), T0 + 5);
        const locked = await p.lockActivityWorkItems({ now: T0 + 5, leaseMs: 1_000, max: 10 });
        const byId = [...locked].sort((a, b) => a.taskScheduledId - b.taskScheduledId);
        assert.equal(byId.length, 2);
        for (const [i, t] of tasks.entries()) {
          const got = byId[i]!;
          const { id, lockToken, ...rest } = got;
          assert.equal(typeof id, "number");
          assert.ok(lockToken.length > 0);
          assert.deepEqual(rest, { ...t, lockedUntil: T0 + 5 + 1_000, dequeueCount: 1 });
        }
        assert.notEqual(byId[0]!.id, byId[1]!.id);
        assert.notEqual(byId[0]!.lockToken, byId[1]!.lockToken);
      });

      test("delivers a timer to itself with visibleAt, bound to the execution", async (p) => {
        await create(p, "tm", { executionId: "ex" });
        await commitOk(p, commitFor(await lockOne(p, "tm", T0), { messages: [{ instanceId: "tm", visibleAt: T0 + 60_000, message: { executionId: "ex", event: timerFired(1, T0 + 60_000) } }] }), T0);
        assert.deepEqual(await lockAll(p, T0 + 59_999), []);
        assert.equal(await p.nextVisibleAt(T0), T0 + 60_000);
        const [item] = await lockAll(p, T0 + 60_000);
        assert.deepEqual(item?.messages.map((m) => m.message), [{ executionId: "ex", event: timerFired(1, T0 + 60_000) }]);
      });

      test("delivers events to other existing instances and drops messages to unknown instances", async (p) => {
        await create(p, "from");
        await create(p, "to");
        const r = await commitOne(
          p,
          commitFor(await lockOne(p, "from", T0), {
            messages: [
              { instanceId: "ghost", message: { event: eventRaised("lost", T0) } },
              { instanceId: "to", message: { event: eventRaised("hello", T0, '"hi"') } },
              { instanceId: "ghost", message: { event: taskCompleted(1, T0), executionId: "x" } },
            ],
          }),
          T0,
        );
        assert.ok(r.ok);
        assert.equal(await p.getInstance("ghost"), undefined);
        assert.deepEqual(await p.queryInstances({ instanceIdPrefix: "ghost" }), { instances: [] });
        assert.deepEqual((await peekMessages(p, "to", T0))?.slice(1).map((m) => m.message), [{ event: eventRaised("hello", T0, '"hi"') }]);
        assert.deepEqual(await lockAll(p, FAR).then(ids), ["to"]);
      });

      test("an ExecutionStarted message to a new instance creates it (sub-orchestration start)", async (p) => {
        await create(p, "parent", { executionId: "pexec" });
        const parentInfo = { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 4 };
        const child = startedEvent("child", "cexec", { name: "ChildOrch", input: '"ci"', parent: parentInfo, at: T0 + 7 });
        await commitOk(p, commitFor(await lockOne(p, "parent", T0), { messages: [{ instanceId: "child", message: { executionId: "cexec", event: child } }] }), T0 + 7);
        assert.deepEqual(await p.getInstance("child"), {
          instanceId: "child",
          name: "ChildOrch",
          executionId: "cexec",
          runtimeStatus: "Pending",
          input: '"ci"',
          parentInstanceId: "parent",
          createdAt: T0 + 7,
          lastUpdatedAt: T0 + 7,
          historyLength: 0,
        });
        const item = await lockOne(p, "child", T0 + 7);
        assert.deepEqual(item.messages.map((m) => m.message), [{ executionId: "cexec", event: child }]);
      });

      test("an ExecutionStarted message to a terminal instance replaces it", async (p) => {
        await runTo(p, "old-child", "Completed", { executionId: "gen1", output: '"done"' });
        await scheduleLeftovers(p, "old-child");
        await create(p, "parent", { executionId: "pexec" });
        const child = startedEvent("old-child", "gen2", { name: "Again", parent: { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 1 } });
        await commitOk(p, commitFor(await lockOne(p, "parent", T0 + 100), { messages: [{ instanceId: "old-child", message: { executionId: "gen2", event: child } }] }), T0 + 100);
        assert.deepEqual(await p.getInstance("old-child"), {
          instanceId: "old-child",
          name: "Again",
          executionId: "gen2",
          runtimeStatus: "Pending",
          parentInstanceId: "parent",
          createdAt: T0 + 100,
          lastUpdatedAt: T0 + 100,
          historyLength: 0,
        });
        assert.deepEqual(await p.getHistory("old-child"), []);
        assert.deepEqual(await lockActivities(p, FAR), []);
        assert.equal(await p.nextVisibleAt(T0 + 100), undefined);
        assert.deepEqual((await peekMessages(p, "old-child", FAR))?.map((m) => m.message), [{ executionId: "gen2", event: child }]);
      });

      test("an ExecutionStarted message to a running instance tells the parent's execution instead", async (p) => {
        await runTo(p, "busy", "Running", { executionId: "busy-exec", input: '"keep"' });
        const busyBefore = { instance: await p.getInstance("busy"), history: await p.getHistory("busy") };
        await create(p, "parent", { executionId: "pexec" });
        const child = startedEvent("busy", "new-exec", { name: "Child", parent: { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 6 } });
        await commitOk(p, commitFor(await lockOne(p, "parent", T0 + 10), { messages: [{ instanceId: "busy", message: { executionId: "new-exec", event: child } }] }), T0 + 10);
        assert.deepEqual({ instance: await p.getInstance("busy"), history: await p.getHistory("busy") }, busyBefore);
        const [item, ...others] = await lockAll(p, T0 + 10);
        assert.equal(others.length, 0, "the refused start is not queued for the busy instance");
        assert.equal(item?.instanceId, "parent");
        assert.equal(item.messages.length, 1);
        const msg = item.messages[0]!.message;
        assert.equal(msg.executionId, "pexec");
        assert.equal(msg.event.type, "SubOrchestrationInstanceFailed");
        if (msg.event.type !== "SubOrchestrationInstanceFailed") return;
        assert.equal(msg.event.taskScheduledId, 6);
        assert.equal(msg.event.failureDetails.code, "INSTANCE_ALREADY_EXISTS");
        assert.equal(msg.event.failureDetails.errorType, "InstanceAlreadyExistsError");
        assert.match(msg.event.reason, /busy/);
      });

      test("an ExecutionStarted message without a parent to a running instance is dropped", async (p) => {
        await runTo(p, "busy", "Running");
        await create(p, "sender");
        const before = await p.getInstance("busy");
        await commitOk(p, commitFor(await lockOne(p, "sender", T0 + 1), { messages: [{ instanceId: "busy", message: { executionId: "zz", event: startedEvent("busy", "zz") } }] }), T0 + 1);
        assert.deepEqual(await p.getInstance("busy"), before);
        assert.deepEqual(await lockAll(p, FAR), []);
      });

      test("continueAsNew: ExecutionStarted to itself is queued (not refused), history replaced", async (p) => {
        const parent = { name: "P", instanceId: "p0", executionId: "p0e", taskScheduledId: 2 };
        await create(p, "p0", { executionId: "p0e" });
        await runTo(p, "can", "Running", { executionId: "gen0", parent, input: '"0"' });
        await p.sendMessages([{ instanceId: "can", message: { event: eventRaised("go", T0 + 1) } }], T0 + 1);
        const item = await lockOne(p, "can", T0 + 1);
        const next = startedEvent("can", "gen1", { input: '"1"', parent, generation: 1, at: T0 + 1 });
        await commitOk(
          p,
          commitFor(item, {
            status: "ContinuedAsNew",
            replaceHistory: true,
            newHistory: [],
            instance: { executionId: "gen1", input: '"1"' },
            messages: [
              { instanceId: "can", message: { executionId: "gen1", event: next } },
              { instanceId: "can", message: { event: eventRaised("carried", T0 + 1) } },
            ],
          }),
          T0 + 1,
        );
        const rec = await p.getInstance("can");
        assert.equal(rec?.runtimeStatus, "ContinuedAsNew");
        assert.equal(rec.executionId, "gen1");
        assert.equal(rec.input, '"1"');
        assert.equal(rec.createdAt, T0);
        assert.equal(rec.historyLength, 0);
        assert.deepEqual(await p.getHistory("can"), []);
        const items = await lockAll(p, T0 + 1);
        assert.deepEqual(ids(items).sort(), ["can", "p0"]);
        const mine = items.find((i) => i.instanceId === "can")!;
        assert.deepEqual(mine.messages.map((m) => m.message), [{ executionId: "gen1", event: next }, { event: eventRaised("carried", T0 + 1) }]);
        const parentItem = items.find((i) => i.instanceId === "p0")!;
        assert.deepEqual(parentItem.messages.map((m) => m.message.event.type), ["ExecutionStarted"], "the parent is not told of a failed start");
      });

      test("releases the lease: new work makes the instance ready at once; the token is spent", async (p) => {
        await create(p, "rel");
        const item = await lockOne(p, "rel", T0);
        await commitOk(p, commitFor(item), T0 + 1);
        assert.deepEqual(await lockAll(p, T0 + 1), []);
        await p.sendMessages([{ instanceId: "rel", message: { event: eventRaised("x", T0 + 2) } }], T0 + 2);
        const again = await lockOne(p, "rel", T0 + 2);
        assert.notEqual(again.lockToken, item.lockToken);
        assertLockLost(await commitOne(p, commitFor(item), T0 + 3), "second commit with a spent token");
        await commitOk(p, commitFor(again), T0 + 3);
      });

      test("a commit with a lost lease is refused with LockLostError and writes nothing", async (p) => {
        await runTo(p, "target-done", "Completed");
        await runTo(p, "target-busy", "Running");
        const req = await create(p, "fenced", { input: '"in"' });
        await p.sendMessages([{ instanceId: "fenced", message: { event: eventRaised("e", T0) } }], T0);
        const stale = await lockOne(p, "fenced", T0);
        const taker = await lockOne(p, "fenced", T0 + LEASE);
        const before = {
          fenced: await p.getInstance("fenced"),
          done: await p.getInstance("target-done"),
          busy: await p.getInstance("target-busy"),
          history: await p.getHistory("fenced"),
          next: await p.nextVisibleAt(T0 + LEASE),
        };
        const parent = { name: "Orch", instanceId: "fenced", executionId: stale.instance.executionId, taskScheduledId: 1 };
        const r = await commitOne(
          p,
          commitFor(stale, {
            status: "Completed",
            newHistory: firstStepHistory(req.startedEvent, T0 + 1, [executionCompleted("Completed", T0 + 1, '"x"')]),
            instance: { output: '"x"', customStatus: '"cs"' },
            activityTasks: [{ instanceId: "fenced", executionId: stale.instance.executionId, taskScheduledId: 1, name: "act" }],
            messages: [
              { instanceId: "fenced", visibleAt: T0 + 99_999, message: { event: timerFired(1, T0 + 99_999) } },
              { instanceId: "target-busy", message: { event: eventRaised("from-stale", T0 + 1) } },
              { instanceId: "brand-new", message: { executionId: "bn", event: startedEvent("brand-new", "bn") } },
              { instanceId: "target-done", message: { executionId: "td2", event: startedEvent("target-done", "td2", { parent }) } },
              { instanceId: "target-busy", message: { executionId: "tb2", event: startedEvent("target-busy", "tb2", { parent }) } },
            ],
          }),
          T0 + LEASE + 1,
        );
        assertLockLost(r);
        assert.deepEqual(
          {
            fenced: await p.getInstance("fenced"),
            done: await p.getInstance("target-done"),
            busy: await p.getInstance("target-busy"),
            history: await p.getHistory("fenced"),
            next: await p.nextVisibleAt(T0 + LEASE),
          },
          before,
        );
        assert.equal(await p.getInstance("brand-new"), undefined);
        assert.deepEqual(await lockActivities(p, FAR), []);
        assert.deepEqual(await peekEvents(p, "target-busy", T0 + LEASE + 1), []);
        assert.deepEqual(await peekEvents(p, "target-done", T0 + LEASE + 1), []);
        // The consumed messages are still there for the holder of the lease, which can commit.
        assert.deepEqual(taker.messages, stale.messages);
        await commitOk(p, commitFor(taker, { newHistory: firstStepHistory(req.startedEvent, T0 + LEASE + 2) }), T0 + LEASE + 2);
        assert.equal((await p.getInstance("fenced"))?.historyLength, 3);
        assert.deepEqual(await lockAll(p, FAR), []);
      });

      test("a made-up token, or an instance that no longer exists, is refused", async (p) => {
        await create(p, "tok");
        const item = await lockOne(p, "tok", T0);
        assertLockLost(await commitOne(p, { ...commitFor(item), item: { ...item, lockToken: "not-the-token" } }, T0));
        assertLockLost(await commitOne(p, { ...commitFor(item), item: { ...item, instanceId: "nobody" } }, T0));
        assert.equal(await p.getInstance("nobody"), undefined);
        assert.equal(await p.purgeInstance("tok"), 1);
        assertLockLost(await commitOne(p, commitFor(item), T0), "commit after purge");
        assert.equal(await p.getInstance("tok"), undefined);
      });

      test("items in a batch are independent: one lost lease does not refuse the others", async (p) => {
        for (const id of ["b1", "b2", "b3"]) await create(p, id);
        const items = await lockAll(p, T0);
        assert.equal(items.length, 3);
        const byId = new Map(items.map((i) => [i.instanceId, i]));
        const lost = byId.get("b2")!;
        const taker = await p.lockOrchestrationWorkItems({ now: T0 + LEASE, leaseMs: LEASE, max: 10 });
        assert.deepEqual(ids(taker).sort(), ["b1", "b2", "b3"]);
        // Every lease expired and was taken over; b1 and b3 commit with their new tokens, b2 with its stale one.
        const fresh = new Map(taker.map((i) => [i.instanceId, i]));
        const results = await p.completeOrchestrationWorkItems(
          [
            commitFor(fresh.get("b1")!, { status: "Completed", instance: { output: '"1"' } }),
            commitFor(lost, { status: "Completed", instance: { output: '"2"' } }),
            commitFor(fresh.get("b3")!, { status: "Completed", instance: { output: '"3"' } }),
          ],
          T0 + LEASE + 1,
        );
        assert.equal(results.length, 3);
        assert.ok(results[0]?.ok);
        assertLockLost(results[1]);
        assert.ok(results[2]?.ok);
        assert.equal((await p.getInstance("b1"))?.output, '"1"');
        assert.equal((await p.getInstance("b2"))?.output, undefined);
        assert.equal((await p.getInstance("b2"))?.runtimeStatus, "Pending");
        assert.equal((await p.getInstance("b3"))?.output, '"3"');
        await commitOk(p, commitFor(fresh.get("b2")!), T0 + LEASE + 2);
      });

      test("two commits with the same token, even concurrently: only one wins", async (p) => {
        await create(p, "twice");
        const item = await lockOne(p, "twice", T0);
        const a = commitFor(item, { instance: { customStatus: '"a"' }, activityTasks: [{ instanceId: "twice", executionId: item.instance.executionId, taskScheduledId: 1, name: "A" }] });
        const b = commitFor(item, { instance: { customStatus: '"b"' }, activityTasks: [{ instanceId: "twice", executionId: item.instance.executionId, taskScheduledId: 1, name: "B" }] });
        const [ra, rb] = await Promise.all([commitOne(p, a, T0 + 1), commitOne(p, b, T0 + 1)]);
        assert.equal([ra, rb].filter((r) => r.ok).length, 1);
        assertLockLost(ra.ok ? rb : ra);
        const acts = await lockActivities(p, FAR);
        assert.equal(acts.length, 1);
        assert.equal(acts[0]!.name, ra.ok ? "A" : "B");
        assert.equal((await p.getInstance("twice"))?.customStatus, ra.ok ? '"a"' : '"b"');
        // Same in one batch.
        await p.sendMessages([{ instanceId: "twice", message: { event: eventRaised("x", T0 + 2) } }], T0 + 2);
        const again = await lockOne(p, "twice", T0 + 2);
        const res = await p.completeOrchestrationWorkItems([commitFor(again), commitFor(again)], T0 + 3);
        assert.ok(res[0]?.ok);
        assertLockLost(res[1]);
      });
      test("replacing a terminal instance fences off a worker still holding its old lease", async (p) => {
        // A worker is consuming leftover messages of a finished instance when the ID is started again,
        // once by a client and once by a parent's sub-orchestration start.
        for (const via of ["createInstance", "sub-orchestration"] as const) {
          const id = `fence-${via}`;
          await runTo(p, id, "Completed", { executionId: "old" });
          await p.sendMessages([{ instanceId: id, message: { event: eventRaised("leftover", T0 + 1) } }], T0 + 1);
          const stale = await lockOne(p, id, T0 + 1);
          if (via === "createInstance") {
            await create(p, id, { executionId: "new", now: T0 + 2 });
          } else {
            await create(p, `parent-of-${id}`, { executionId: "pe", now: T0 + 2 });
            const ev = startedEvent(id, "new", { parent: { name: "Orch", instanceId: `parent-of-${id}`, executionId: "pe", taskScheduledId: 1 } });
            await commitOk(p, commitFor(await lockOne(p, `parent-of-${id}`, T0 + 2), { messages: [{ instanceId: id, message: { executionId: "new", event: ev } }] }), T0 + 2);
          }
          const fresh = await p.getInstance(id);
          assert.equal(fresh?.executionId, "new");
          assert.equal(fresh.runtimeStatus, "Pending");
          assertLockLost(await commitOne(p, commitFor(stale, { status: "Completed", instance: { output: '"stale"' } }), T0 + 3), `stale commit after ${via}`);
          assert.deepEqual(await p.getInstance(id), fresh);
          const item = await lockOne(p, id, T0 + 3);
          assert.deepEqual(item.messages.map((m) => m.message.executionId), ["new"]);
          await commitOk(p, commitFor(item), T0 + 3);
        }
      });

      test("an activity of a replaced execution can no longer report", async (p) => {
        await create(p, "gen", { executionId: "g1" });
        await scheduleActivities(p, "gen", ["slow"]);
        const [task] = await lockActivities(p, T0);
        await p.sendMessages([{ instanceId: "gen", message: { event: eventRaised("stop", T0 + 1) } }], T0 + 1);
        await commitOk(p, commitFor(await lockOne(p, "gen", T0 + 1), { status: "Terminated" }), T0 + 1);
        await create(p, "gen", { executionId: "g2", now: T0 + 2 });
        assertLockLost((await p.completeActivityWorkItems([{ item: task!, event: taskCompleted(1, T0 + 3) }], T0 + 3))[0], "completion of a deleted task");
        assert.deepEqual((await peekMessages(p, "gen", T0 + 3))?.map((m) => m.message.executionId), ["g2"]);
      });

      test("two starts of the same new child in one commit: the first creates it, the second is refused", async (p) => {
        await create(p, "par", { executionId: "pe" });
        const mk = (exec: string, tsid: number) => startedEvent("kid", exec, { parent: { name: "Orch", instanceId: "par", executionId: "pe", taskScheduledId: tsid } });
        await commitOk(
          p,
          commitFor(await lockOne(p, "par", T0), {
            messages: [
              { instanceId: "kid", message: { executionId: "k1", event: mk("k1", 1) } },
              { instanceId: "kid", message: { executionId: "k2", event: mk("k2", 2) } },
            ],
          }),
          T0,
        );
        assert.equal((await p.getInstance("kid"))?.executionId, "k1");
        const items = await lockAll(p, T0);
        const kid = items.find((i) => i.instanceId === "kid");
        const par = items.find((i) => i.instanceId === "par");
        assert.deepEqual(kid?.messages.map((m) => m.message.executionId), ["k1"]);
        assert.deepEqual(par?.messages.map((m) => [m.message.event.type, m.message.event.type === "SubOrchestrationInstanceFailed" ? m.message.event.taskScheduledId : -1]), [["SubOrchestrationInstanceFailed", 2]]);
      });

      test("empty batches are no-ops", async (p) => {
        assert.deepEqual(await p.completeOrchestrationWorkItems([], T0), []);
        assert.deepEqual(await p.completeActivityWorkItems([], T0), []);
        assert.deepEqual(await p.renewOrchestrationWorkItems([], LEASE, T0), []);
        assert.deepEqual(await p.renewActivityWorkItems([], LEASE, T0), []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("abandon and renew (orchestrations)", () => {
      test("abandon releases the lease and hides the messages until now + retryAfterMs", async (p) => {
        await create(p, "ab");
        await p.sendMessages([{ instanceId: "ab", message: { event: eventRaised("e", T0) } }], T0);
        const item = await lockOne(p, "ab", T0);
        await p.abandonOrchestrationWorkItem(item, 5_000, T0 + 10);
        assert.deepEqual(await lockAll(p, T0 + 10), []);
        assert.deepEqual(await lockAll(p, T0 + 5_009), []);
        assert.equal(await p.nextVisibleAt(T0 + 10), T0 + 5_010);
        const again = await lockOne(p, "ab", T0 + 5_010);
        assert.deepEqual(again.messages, item.messages);
        assert.notEqual(again.lockToken, item.lockToken);
        assertLockLost(await commitOne(p, commitFor(item), T0 + 5_011), "commit after abandon");
      });

      test("abandon releases the lease at once: a new message makes the instance ready", async (p) => {
        await create(p, "ab2");
        const item = await lockOne(p, "ab2", T0);
        await p.abandonOrchestrationWorkItem(item, 60_000, T0 + 1);
        await p.sendMessages([{ instanceId: "ab2", message: { event: eventRaised("new", T0 + 2) } }], T0 + 2);
        const next = await lockOne(p, "ab2", T0 + 2);
        assert.deepEqual(next.messages.map((m) => m.message.event), [eventRaised("new", T0 + 2)]);
      });

      test("abandon with a lost lease changes nothing", async (p) => {
        await create(p, "ab3");
        const stale = await lockOne(p, "ab3", T0);
        const holder = await lockOne(p, "ab3", T0 + LEASE);
        await p.abandonOrchestrationWorkItem(stale, 60_000, T0 + LEASE + 1);
        assert.deepEqual(await lockAll(p, T0 + LEASE + 2), [], "the holder keeps its lease");
        assert.equal(await p.nextVisibleAt(T0 + LEASE + 1), undefined, "messages were not delayed");
        await commitOk(p, commitFor(holder), T0 + LEASE + 3);
      });

      test("renew extends leases still held and returns false for lost ones", async (p) => {
        await create(p, "rn1");
        await create(p, "rn2");
        const items = await lockAll(p, T0);
        const one = items.find((i) => i.instanceId === "rn1")!;
        const two = items.find((i) => i.instanceId === "rn2")!;
        assert.deepEqual(await p.renewOrchestrationWorkItems([one], LEASE, T0 + 20_000), [true]);
        assert.equal(one.lockedUntil, T0 + 20_000 + LEASE, "the item's lockedUntil follows the renewal");
        // rn2's lease expires and is taken over; rn1's renewed lease holds.
        const taken = await lockAll(p, T0 + LEASE);
        assert.deepEqual(ids(taken), ["rn2"]);
        assert.deepEqual(await p.renewOrchestrationWorkItems([one, two], LEASE, T0 + LEASE + 1), [true, false]);
        assert.equal(two.lockedUntil, T0 + LEASE, "a lost item keeps its old lockedUntil");
        // rn1 now holds until T0+2*LEASE+1; rn2's new holder until T0+2*LEASE.
        assert.deepEqual(ids(await lockAll(p, T0 + 2 * LEASE)), ["rn2"]);
        assert.deepEqual(ids(await lockAll(p, T0 + 2 * LEASE + 1)), ["rn1"]);
        assert.deepEqual(await p.renewOrchestrationWorkItems([], LEASE, T0), []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("activity work items", () => {
      test("lock hands out visible tasks once, with a lease; expiry lets another take over with a new token", async (p) => {
        await create(p, "act");
        await scheduleActivities(p, "act", ["a"]);
        const [first, ...none] = await lockActivities(p, T0);
        assert.equal(none.length, 0);
        assert.ok(first);
        assert.equal(first.dequeueCount, 1);
        assert.equal(first.lockedUntil, T0 + LEASE);
        assert.deepEqual(await lockActivities(p, T0 + 1), []);
        assert.deepEqual(await lockActivities(p, T0 + LEASE - 1), []);
        const [second] = await lockActivities(p, T0 + LEASE);
        assert.ok(second);
        assert.equal(second.id, first.id);
        assert.notEqual(second.lockToken, first.lockToken);
        assert.equal(second.dequeueCount, 2);
        assert.equal(second.lockedUntil, T0 + 2 * LEASE);
        const [third] = await lockActivities(p, T0 + 2 * LEASE);
        assert.equal(third?.dequeueCount, 3);
      });

      test("respects max (and max 0 locks nothing)", async (p) => {
        await create(p, "many");
        await scheduleActivities(p, "many", ["a", "b", "c", "d", "e"]);
        assert.deepEqual(await p.lockActivityWorkItems({ now: T0, leaseMs: LEASE, max: 0 }), []);
        const got: number[] = [];
        for (const n of [2, 2, 1, 0]) {
          const batch = await p.lockActivityWorkItems({ now: T0, leaseMs: LEASE, max: 2 });
          assert.equal(batch.length, n);
          got.push(...batch.map((b) => b.taskScheduledId));
        }
        assert.deepEqual(got.sort(), [1, 2, 3, 4, 5]);
      });

      test("concurrent lockers never get the same task", async (p) => {
        await create(p, "cl");
        await scheduleActivities(p, "cl", Array.from({ length: 10 }, (_, i) => `t${i}`));
        const batches = await Promise.all([1, 2, 3, 4, 5].map(() => p.lockActivityWorkItems({ now: T0, leaseMs: LEASE, max: 3 })));
        const all = batches.flat().map((b) => b.id);
        assert.equal(new Set(all).size, all.length);
        assert.equal(all.length, 10);
      });

      test("complete deletes the task and enqueues TaskCompleted/TaskFailed with the executionId", async (p) => {
        await create(p, "ac", { executionId: "acx" });
        await scheduleActivities(p, "ac", ["ok", "bad"]);
        const locked = await lockActivities(p, T0 + 1);
        const ok = locked.find((a) => a.name === "ok")!;
        const bad = locked.find((a) => a.name === "bad")!;
        assert.equal(ok.executionId, "acx");
        const okEvent = taskCompleted(ok.taskScheduledId, T0 + 2, '{"r":1}');
        const badEvent = taskFailed(bad.taskScheduledId, T0 + 2, RICH_FAILURE);
        const results = await p.completeActivityWorkItems([{ item: ok, event: okEvent }, { item: bad, event: badEvent }], T0 + 2);
        assert.deepEqual(results, [{ ok: true }, { ok: true }]);
        assert.deepEqual(await lockActivities(p, FAR), [], "tasks are deleted");
        const item = await lockOne(p, "ac", T0 + 2);
        assert.deepEqual(item.messages.map((m) => m.message), [
          { event: okEvent, executionId: "acx" },
          { event: badEvent, executionId: "acx" },
        ]);
      });

      test("a result for an older execution is still delivered with that execution's ID", async (p) => {
        await create(p, "oldexec", { executionId: "x1" });
        await scheduleActivities(p, "oldexec", ["a"]);
        const [task] = await lockActivities(p, T0);
        await p.sendMessages([{ instanceId: "oldexec", message: { event: eventRaised("tick", T0 + 1) } }], T0 + 1);
        await commitOk(p, commitFor(await lockOne(p, "oldexec", T0 + 1), { status: "ContinuedAsNew", replaceHistory: true, instance: { executionId: "x2" } }), T0 + 1);
        assert.deepEqual(await p.completeActivityWorkItems([{ item: task!, event: taskCompleted(1, T0 + 2) }], T0 + 2), [{ ok: true }]);
        assert.deepEqual((await peekMessages(p, "oldexec", T0 + 2))?.map((m) => m.message.executionId), ["x1"]);
      });

      test("complete with a lost lease is refused and enqueues nothing; the new holder's completes", async (p) => {
        await create(p, "al");
        await scheduleActivities(p, "al", ["a"]);
        const [stale] = await lockActivities(p, T0);
        const [holder] = await lockActivities(p, T0 + LEASE);
        assert.ok(stale && holder);
        const [r] = await p.completeActivityWorkItems([{ item: stale, event: taskCompleted(1, T0 + LEASE + 1, '"stale"') }], T0 + LEASE + 1);
        assertLockLost(r, "stale activity completion");
        assert.deepEqual(await peekEvents(p, "al", FAR), []);
        const [r2] = await p.completeActivityWorkItems([{ item: holder, event: taskCompleted(1, T0 + LEASE + 2, '"fresh"') }], T0 + LEASE + 2);
        assert.ok(r2?.ok);
        assert.deepEqual(await peekEvents(p, "al", FAR), [taskCompleted(1, T0 + LEASE + 2, '"fresh"')]);
      });

      test("two completes with the same token, even concurrently: only one wins", async (p) => {
        await create(p, "a2");
        await scheduleActivities(p, "a2", ["a", "b"]);
        const [ta, tb] = (await lockActivities(p, T0)).sort((x, y) => x.taskScheduledId - y.taskScheduledId);
        assert.ok(ta && tb);
        const [r1, r2] = await Promise.all([
          p.completeActivityWorkItems([{ item: ta, event: taskCompleted(1, T0, '"one"') }], T0 + 1),
          p.completeActivityWorkItems([{ item: ta, event: taskCompleted(1, T0, '"two"') }], T0 + 1),
        ]);
        const all = [...r1, ...r2];
        assert.equal(all.filter((r) => r.ok).length, 1);
        assertLockLost(all.find((r) => !r.ok));
        const inBatch = await p.completeActivityWorkItems([{ item: tb, event: taskCompleted(2, T0) }, { item: tb, event: taskCompleted(2, T0) }], T0 + 2);
        assert.ok(inBatch[0]?.ok);
        assertLockLost(inBatch[1]);
        const events = await peekEvents(p, "a2", FAR);
        assert.equal(events.filter((e) => e.type === "TaskCompleted" && e.taskScheduledId === 1).length, 1);
        assert.equal(events.filter((e) => e.type === "TaskCompleted" && e.taskScheduledId === 2).length, 1);
      });

      test("a batch is independent per item", async (p) => {
        await create(p, "ab");
        await scheduleActivities(p, "ab", ["a", "b"]);
        const first = await lockActivities(p, T0);
        const a = first.find((x) => x.name === "a")!;
        const taken = await lockActivities(p, T0 + LEASE);
        const b = taken.find((x) => x.name === "b")!;
        const results: ActivityResult[] = [
          { item: a, event: taskCompleted(a.taskScheduledId, T0) },
          { item: b, event: taskCompleted(b.taskScheduledId, T0) },
        ];
        const [ra, rb] = await p.completeActivityWorkItems(results, T0 + LEASE + 1);
        assertLockLost(ra);
        assert.ok(rb?.ok);
        assert.deepEqual(await peekEvents(p, "ab", FAR), [taskCompleted(b.taskScheduledId, T0)]);
      });

      test("abandon releases the lease and hides the task until now + retryAfterMs", async (p) => {
        await create(p, "aa");
        await scheduleActivities(p, "aa", ["a"]);
        const [item] = await lockActivities(p, T0);
        assert.ok(item);
        await p.abandonActivityWorkItem(item, 2_000, T0 + 5);
        assert.deepEqual(await lockActivities(p, T0 + 5), []);
        assert.deepEqual(await lockActivities(p, T0 + 2_004), []);
        assert.equal(await p.nextVisibleAt(T0 + 5), T0 + 2_005);
        const [again] = await lockActivities(p, T0 + 2_005);
        assert.equal(again?.id, item.id);
        assert.equal(again.dequeueCount, 2);
        assertLockLost((await p.completeActivityWorkItems([{ item, event: taskCompleted(1, T0) }], T0 + 2_006))[0], "complete after abandon");
      });

      test("abandon with a lost lease changes nothing", async (p) => {
        await create(p, "aal");
        await scheduleActivities(p, "aal", ["a"]);
        const [stale] = await lockActivities(p, T0);
        const [holder] = await lockActivities(p, T0 + LEASE);
        await p.abandonActivityWorkItem(stale!, 60_000, T0 + LEASE + 1);
        assert.deepEqual(await lockActivities(p, T0 + LEASE + 2), [], "the holder keeps its lease");
        assert.equal(await p.nextVisibleAt(T0 + LEASE + 1), undefined);
        assert.deepEqual((await p.completeActivityWorkItems([{ item: holder!, event: taskCompleted(1, T0) }], T0 + LEASE + 3))[0], { ok: true });
      });

      test("renew extends leases still held and returns false for lost ones", async (p) => {
        await create(p, "ar");
        await scheduleActivities(p, "ar", ["a", "b"]);
        const items = await lockActivities(p, T0);
        const a = items.find((x) => x.name === "a")!;
        const b = items.find((x) => x.name === "b")!;
        assert.deepEqual(await p.renewActivityWorkItems([a], LEASE, T0 + 10_000), [true]);
        assert.equal(a.lockedUntil, T0 + 10_000 + LEASE);
        const taken = await lockActivities(p, T0 + LEASE);
        assert.deepEqual(taken.map((x) => x.name), ["b"]);
        assert.deepEqual(await p.renewActivityWorkItems([a, b], LEASE, T0 + LEASE + 1), [true, false]);
        assert.deepEqual((await lockActivities(p, T0 + 2 * LEASE)).map((x) => x.name), ["b"]);
        assert.deepEqual((await lockActivities(p, T0 + 2 * LEASE + 1)).map((x) => x.name), ["a"]);
        assert.deepEqual(await p.renewActivityWorkItems([], LEASE, T0), []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("getHistory and getInstance", () => {
      test("unknown instances: empty history, undefined record", async (p) => {
        assert.deepEqual(await p.getHistory("nope"), []);
        assert.equal(await p.getInstance("nope"), undefined);
      });

      test("instance IDs are exact and case-sensitive", async (p) => {
        await create(p, "Case", { executionId: "upper" });
        await create(p, "case", { executionId: "lower" });
        await create(p, "case ", { executionId: "space" });
        assert.equal((await p.getInstance("Case"))?.executionId, "upper");
        assert.equal((await p.getInstance("case"))?.executionId, "lower");
        assert.equal((await p.getInstance("case "))?.executionId, "space");
        assert.equal(await p.getInstance("CASE"), undefined);
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "c" })).instances).sort(), ["case", "case "]);
      });

      test("returned records and history are copies", async (p) => {
        const req = await create(p, "copy");
        await commitOk(p, commitFor(await lockOne(p, "copy", T0), { newHistory: firstStepHistory(req.startedEvent, T0), instance: { failureDetails: RICH_FAILURE } }), T0);
        const rec = (await p.getInstance("copy"))!;
        rec.runtimeStatus = "Failed";
        rec.failureDetails!.message = "changed";
        const hist = await p.getHistory("copy");
        hist.pop();
        (hist[1] as { name?: string }).name = "changed";
        assert.equal((await p.getInstance("copy"))?.runtimeStatus, "Running");
        assert.deepEqual((await p.getInstance("copy"))?.failureDetails, RICH_FAILURE);
        assert.deepEqual(await p.getHistory("copy"), firstStepHistory(req.startedEvent, T0));
      });

      test("hostile strings are stored and matched literally", async (p) => {
        const hostile = ["' OR 1=1 --", "x'); DROP TABLE instances; --", '"; DELETE FROM history; --', "%", "_", "a%b_c", "ünï😀", "$1 :name @p ?"];
        for (const [i, id] of hostile.entries()) await create(p, id, { name: `${id}-name`, input: JSON.stringify(id), now: T0 + i });
        for (const id of hostile) {
          const rec = await p.getInstance(id);
          assert.equal(rec?.instanceId, id);
          assert.equal(rec.name, `${id}-name`);
          assert.equal(rec.input, JSON.stringify(id));
        }
        assert.equal(await p.getInstance("' OR '1'='1"), undefined);
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "' OR 1=1" })).instances), ["' OR 1=1 --"]);
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "' OR '1'='1" })).instances), []);
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "ünï" })).instances), ["ünï😀"]);
        assert.equal((await allInstances(p)).length, hostile.length);
        const locked = await lockAll(p, T0 + 100);
        assert.deepEqual(ids(locked).sort(), [...hostile].sort());
        await p.completeOrchestrationWorkItems(locked.map((i) => commitFor(i, { status: "Completed" })), T0 + 100);
        assert.equal(await p.purgeInstance("' OR 1=1 --"), 1);
        assert.equal(await p.purgeInstance("%"), 1);
        assert.deepEqual(ids(await allInstances(p)).sort(), hostile.filter((h) => h !== "' OR 1=1 --" && h !== "%").sort());
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("queryInstances", () => {
      test("filters by runtimeStatus, createdFrom/createdTo (inclusive) and instanceIdPrefix, sorted by createdAt", async (p) => {
        const statuses: OrchestrationRuntimeStatus[] = ["Pending", "Running", "Completed", "Failed", "Terminated", "Canceled", "Suspended", "ContinuedAsNew"];
        const made: { id: string; status: OrchestrationRuntimeStatus; createdAt: number }[] = [];
        for (let i = 0; i < 24; i++) {
          const id = `q-${String(i).padStart(2, "0")}`;
          const status = statuses[i % statuses.length]!;
          // Creation order differs from createdAt order, and pairs share a createdAt.
          const createdAt = T0 + Math.floor((23 - i) / 2) * 10;
          await runTo(p, id, status, { now: createdAt });
          made.push({ id, status, createdAt });
        }
        const sorted = (xs: typeof made): string[] => [...xs].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((x) => x.id);

        const all = (await p.queryInstances({})).instances;
        assert.deepEqual(ids(all), sorted(made));
        assert.deepEqual([...all].sort(byCreatedThenId), all);
        for (const r of all) assert.equal(r.runtimeStatus, made.find((m) => m.id === r.instanceId)?.status);

        assert.deepEqual(ids((await p.queryInstances({ runtimeStatus: ["Completed"] })).instances), sorted(made.filter((m) => m.status === "Completed")));
        assert.deepEqual(
          ids((await p.queryInstances({ runtimeStatus: ["Pending", "Failed", "Suspended"] })).instances),
          sorted(made.filter((m) => ["Pending", "Failed", "Suspended"].includes(m.status))),
        );
        assert.deepEqual(await p.queryInstances({ runtimeStatus: [] }), { instances: [] });

        assert.deepEqual(
          ids((await p.queryInstances({ createdFrom: T0 + 30, createdTo: T0 + 70 })).instances),
          sorted(made.filter((m) => m.createdAt >= T0 + 30 && m.createdAt <= T0 + 70)),
        );
        assert.equal((await p.queryInstances({ createdFrom: T0 + 30, createdTo: T0 + 30 })).instances.length, 2, "both bounds inclusive");
        assert.deepEqual(ids((await p.queryInstances({ createdFrom: T0 + 101 })).instances), sorted(made.filter((m) => m.createdAt >= T0 + 101)));
        assert.deepEqual(ids((await p.queryInstances({ createdTo: T0 + 9 })).instances), sorted(made.filter((m) => m.createdAt <= T0 + 9)));
        assert.deepEqual(await p.queryInstances({ createdFrom: T0 + 31, createdTo: T0 + 39 }), { instances: [] });

        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "q-1" })).instances), sorted(made.filter((m) => m.id.startsWith("q-1"))));
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "Q-1" })).instances), [], "prefix is case-sensitive");
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "q-07" })).instances), ["q-07"]);
        assert.deepEqual(ids((await p.queryInstances({ instanceIdPrefix: "" })).instances), sorted(made));

        assert.deepEqual(
          ids((await p.queryInstances({ instanceIdPrefix: "q-1", runtimeStatus: ["Running", "Completed"], createdFrom: T0 + 20, createdTo: T0 + 60 })).instances),
          sorted(made.filter((m) => m.id.startsWith("q-1") && ["Running", "Completed"].includes(m.status) && m.createdAt >= T0 + 20 && m.createdAt <= T0 + 60)),
        );
      });

      test("instanceIdPrefix treats '%', '_' and other pattern characters literally", async (p) => {
        const names = ["100%_done", "100%x", "100x_done", "100_a", "1000", "abc", "a*b", "a.b", "a[b]", "a^b", "a$b", "a'b"];
        for (const n of names) await create(p, n);
        const q = async (prefix: string): Promise<string[]> => ids((await p.queryInstances({ instanceIdPrefix: prefix })).instances).sort();
        assert.deepEqual(await q("100%"), ["100%_done", "100%x"]);
        assert.deepEqual(await q("100%_"), ["100%_done"]);
        assert.deepEqual(await q("100_"), ["100_a"]);
        assert.deepEqual(await q("100"), ["1000", "100%_done", "100%x", "100_a", "100x_done"].sort());
        assert.deepEqual(await q("%"), []);
        assert.deepEqual(await q("_"), []);
        assert.deepEqual(await q("%done"), []);
        assert.deepEqual(await q("a*"), ["a*b"]);
        assert.deepEqual(await q("a."), ["a.b"]);
        assert.deepEqual(await q("a["), ["a[b]"]);
        assert.deepEqual(await q("a^"), ["a^b"]);
        assert.deepEqual(await q("a$"), ["a$b"]);
        assert.deepEqual(await q("a'"), ["a'b"]);
        assert.deepEqual(await q("100%_done!"), [], "a prefix longer than the ID does not match");
      });

      test("pages with continuation tokens over more rows than one page", async (p) => {
        const n = 250;
        const made: InstanceRecord[] = [];
        for (let i = 0; i < n; i++) {
          await create(p, `p-${String(i).padStart(3, "0")}`, { now: T0 + (i % 7) });
          made.push((await p.getInstance(`p-${String(i).padStart(3, "0")}`))!);
        }
        made.sort(byCreatedThenId);

        const first = await p.queryInstances({});
        assert.equal(first.instances.length, 100, "default page size is 100");
        assert.equal(typeof first.continuationToken, "string");

        const pages: InstanceRecord[][] = [];
        let token: string | undefined;
        do {
          const page: Awaited<ReturnType<StorageProvider["queryInstances"]>> = await p.queryInstances(token === undefined ? { pageSize: 60 } : { pageSize: 60, continuationToken: token });
          pages.push(page.instances);
          token = page.continuationToken;
        } while (token !== undefined);
        assert.deepEqual(pages.map((pg) => pg.length), [60, 60, 60, 60, 10]);
        assert.deepEqual(pages.flat(), made);

        // An exact multiple of the page size ends without an empty extra page.
        const exact = await p.queryInstances({ pageSize: 125 });
        assert.equal(exact.instances.length, 125);
        const rest = await p.queryInstances({ pageSize: 125, continuationToken: exact.continuationToken! });
        assert.equal(rest.instances.length, 125);
        assert.equal(rest.continuationToken, undefined);
        assert.equal("continuationToken" in rest, false, "absent, not undefined-valued, on the last page");

        // Paging combined with filters.
        const filtered = await allInstances(p, { pageSize: 7, createdFrom: T0 + 2, createdTo: T0 + 4, instanceIdPrefix: "p-1" });
        assert.deepEqual(filtered, made.filter((r) => r.createdAt >= T0 + 2 && r.createdAt <= T0 + 4 && r.instanceId.startsWith("p-1")));
      });

      test("a continuation token stays valid when the row it points at is deleted", async (p) => {
        for (let i = 0; i < 10; i++) await runTo(p, `k${i}`, "Completed", { now: T0 + i });
        const page1 = await p.queryInstances({ pageSize: 4 });
        assert.deepEqual(ids(page1.instances), ["k0", "k1", "k2", "k3"]);
        assert.equal(await p.purgeInstance("k3"), 1);
        assert.equal(await p.purgeInstance("k4"), 1);
        const page2 = await p.queryInstances({ pageSize: 4, continuationToken: page1.continuationToken! });
        assert.deepEqual(ids(page2.instances), ["k5", "k6", "k7", "k8"]);
      });

      test("an invalid continuation token or page size raises InvalidArgumentError", async (p) => {
        await create(p, "one");
        const bad = [
          "not a token",
          "%%%",
          Buffer.from("[1]").toString("base64url"),
          Buffer.from('{"createdAt":1,"instanceId":"x"}').toString("base64url"),
          Buffer.from('["1","x"]').toString("base64url"),
        ];
        for (const continuationToken of bad) {
          await assert.rejects(p.queryInstances({ continuationToken }), hasCode("INVALID_ARGUMENT", InvalidArgumentError), `token ${continuationToken}`);
        }
        for (const pageSize of [0, -1, 1.5]) {
          await assert.rejects(p.queryInstances({ pageSize }), hasCode("INVALID_ARGUMENT", InvalidArgumentError), `pageSize ${pageSize}`);
        }
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("purge", () => {
      test("purgeInstance removes the instance with its history, messages and tasks; returns 1 then 0", async (p) => {
        await create(p, "keep");
        await create(p, "gone");
        await scheduleActivities(p, "gone", ["a"]);
        await p.sendMessages(
          [
            { instanceId: "gone", message: { event: eventRaised("e", T0) } },
            { instanceId: "gone", message: { event: timerFired(2, T0 + 9_000) }, visibleAt: T0 + 9_000 },
          ],
          T0,
        );
        assert.equal(await p.purgeInstance("gone"), 1);
        assert.equal(await p.getInstance("gone"), undefined);
        assert.deepEqual(await p.getHistory("gone"), []);
        assert.deepEqual(await lockActivities(p, FAR), []);
        assert.equal(await p.nextVisibleAt(T0), undefined);
        assert.deepEqual(ids(await lockAll(p, FAR)), ["keep"]);
        assert.equal(await p.purgeInstance("gone"), 0);
        assert.equal(await p.purgeInstance("never-was"), 0);
        assert.deepEqual(ids(await allInstances(p)), ["keep"]);
      });

      test("a purged ID can be created again from scratch", async (p) => {
        await runTo(p, "again", "Running");
        assert.equal(await p.purgeInstance("again"), 1);
        const req = await create(p, "again", { executionId: "fresh", now: T0 + 5 });
        assert.equal((await p.getInstance("again"))?.historyLength, 0);
        assert.deepEqual((await peekMessages(p, "again", FAR))?.map((m) => m.message), [{ event: req.startedEvent, executionId: "fresh" }]);
      });

      test("purgeInstances handles more instances than fit in one page or batch", async (p) => {
        const n = 1_234;
        for (let i = 0; i < n; i++) await create(p, `bulk-${i}`, { now: T0 + (i % 10) });
        await create(p, "bulk-running", { now: T0 });
        const items = await lockAll(p, T0 + 10, 5_000);
        assert.equal(items.length, n + 1);
        const results = await p.completeOrchestrationWorkItems(
          items.map((i) => commitFor(i, { status: i.instanceId === "bulk-running" ? "Running" : "Completed" })),
          T0 + 10,
        );
        assert.ok(results.every((r) => r.ok));
        assert.equal(await p.purgeInstances({ createdFrom: T0 }), n);
        assert.deepEqual(ids(await allInstances(p)), ["bulk-running"]);
      });

      test("purgeInstances deletes only terminal instances matching the filter", async (p) => {
        for (const [i, status] of ALL_RUNTIME_STATUSES.entries()) {
          await runTo(p, `a-${status}`, status, { now: T0 + i });
          await runTo(p, `b-${status}`, status, { now: T0 + 100 + i });
        }
        await scheduleLeftovers(p, "a-Completed");
        assert.equal(await p.nextVisibleAt(T0 + 1_000), T0 + 70_000);
        assert.equal((await lockActivities(p, T0 + 200, 1000, 1)).length, 1);
        assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: ["Running", "Pending"] }), 0, "non-terminal statuses are never purged");
        assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: [] }), 0);
        assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: ["Completed", "Running"] }), 1);
        assert.equal(await p.getInstance("b-Completed"), undefined);
        assert.equal(await p.purgeInstances({ createdFrom: T0 + 100 }), 3);
        const remaining = ids(await allInstances(p));
        assert.deepEqual(
          remaining,
          [...ALL_RUNTIME_STATUSES.map((s) => `a-${s}`), ...ALL_RUNTIME_STATUSES.filter((s) => !isTerminalStatus(s)).map((s) => `b-${s}`)],
        );
        // Bounds are inclusive.
        const completedAt = T0 + ALL_RUNTIME_STATUSES.indexOf("Completed");
        const failedAt = T0 + ALL_RUNTIME_STATUSES.indexOf("Failed");
        assert.equal(await p.purgeInstances({ createdFrom: completedAt, createdTo: completedAt }), 1);
        assert.equal(await p.getInstance("a-Completed"), undefined);
        assert.deepEqual(await lockActivities(p, FAR), [], "the purged instance's tasks are gone");
        assert.equal(await p.nextVisibleAt(T0 + 1_000), undefined, "the purged instance's timer is gone");
        assert.equal(await p.purgeInstances({ createdFrom: 0, createdTo: failedAt - 1 }), 0);
        assert.equal(await p.purgeInstances({ createdFrom: 0 }), 3);
        assert.deepEqual(
          ids(await allInstances(p)).sort(),
          ALL_RUNTIME_STATUSES.filter((s) => !isTerminalStatus(s))
            .flatMap((s) => [`a-${s}`, `b-${s}`])
            .sort(),
        );
        // Survivors keep their history.
        for (const id of ids(await allInstances(p))) if (!id.endsWith("Pending")) assert.ok((await p.getHistory(id)).length >= 3, id);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("nextVisibleAt", () => {
      test("is the earliest message or task visibility strictly after now", async (p) => {
        assert.equal(await p.nextVisibleAt(T0), undefined);
        await create(p, "n", { now: T0 });
        assert.equal(await p.nextVisibleAt(T0), undefined, "a message visible now is not in the future");
        await p.sendMessages(
          [
            { instanceId: "n", message: { event: timerFired(1, T0 + 3_000) }, visibleAt: T0 + 3_000 },
            { instanceId: "n", message: { event: timerFired(2, T0 + 8_000) }, visibleAt: T0 + 8_000 },
          ],
          T0,
        );
        assert.equal(await p.nextVisibleAt(T0), T0 + 3_000);
        await scheduleActivities(p, "n", ["a"]);
        const [task] = await lockActivities(p, T0);
        await p.abandonActivityWorkItem(task!, 1_000, T0);
        assert.equal(await p.nextVisibleAt(T0), T0 + 1_000, "an abandoned task counts");
        assert.equal(await p.nextVisibleAt(T0 + 1_000), T0 + 3_000);
        assert.equal(await p.nextVisibleAt(T0 + 2_999), T0 + 3_000);
        assert.equal(await p.nextVisibleAt(T0 + 3_000), T0 + 8_000);
        assert.equal(await p.nextVisibleAt(T0 + 8_000), undefined);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("onWork", () => {
      test("a released step announces messages that arrived while it held the lease", async (p, _h, t) => {
        if (!p.onWork) {
          t.skip("this provider has no onWork");
          return;
        }
        await create(p, "busy", { now: T0 });
        const item = await lockOne(p, "busy", T0 + 1);
        const rec = recordWork(p as StorageProvider & { onWork: NonNullable<StorageProvider["onWork"]> });
        await p.sendMessages([{ instanceId: "busy", message: { event: eventRaised("late", T0 + 2) } }], T0 + 2);
        rec.events.length = 0;
        await commitOk(p, commitFor(item), T0 + 3);
        // Without this the waiting message would sit until the next poll: nothing else announces it.
        await rec.until("orchestration", T0 + 3);
        rec.stop();
      });

      test("notifies new work with its kind and visibleAt; nothing for refused writes; stops on unsubscribe", async (p, _h, t) => {
        if (!p.onWork) {
          t.skip("this provider has no onWork");
          return;
        }
        const rec = recordWork(p as StorageProvider & { onWork: NonNullable<StorageProvider["onWork"]> });
        await create(p, "w1", { now: T0 });
        await rec.until("orchestration", T0);
        await create(p, "w2", { now: T0, visibleAt: T0 + 4_000 });
        await rec.until("orchestration", T0 + 4_000);
        await p.sendMessages([{ instanceId: "w1", message: { event: eventRaised("e", T0 + 1) } }], T0 + 1);
        await rec.until("orchestration", T0 + 1);

        const item = await lockOne(p, "w1", T0 + 2);
        await commitOk(
          p,
          commitFor(item, {
            activityTasks: [{ instanceId: "w1", executionId: item.instance.executionId, taskScheduledId: 1, name: "a" }],
            messages: [{ instanceId: "w1", visibleAt: T0 + 9_000, message: { event: timerFired(2, T0 + 9_000) } }],
          }),
          T0 + 3,
        );
        await rec.until("activity", T0 + 3);
        const [task] = await lockActivities(p, T0 + 4);
        assert.ok(task);
        await p.abandonActivityWorkItem(task, 500, T0 + 5);
        await rec.until("activity", T0 + 505);
        const [again] = await lockActivities(p, T0 + 505);
        assert.deepEqual(await p.completeActivityWorkItems([{ item: again!, event: taskCompleted(1, T0 + 506) }], T0 + 506), [{ ok: true }]);
        await rec.until("orchestration", T0 + 506);

        // Refused writes announce nothing: check with a marker sent afterwards.
        rec.events.length = 0;
        await assert.rejects(create(p, "w1", { now: T0 + 600 }));
        await assert.rejects(p.sendMessages([{ instanceId: "ghost", message: { event: eventRaised("e", T0 + 601) } }], T0 + 601));
        assertLockLost(await commitOne(p, commitFor(item, { activityTasks: [{ instanceId: "w1", executionId: "x", taskScheduledId: 9, name: "z" }] }), T0 + 602));
        assertLockLost((await p.completeActivityWorkItems([{ item: again!, event: taskCompleted(1, T0 + 603) }], T0 + 603))[0]);
        await p.sendMessages([{ instanceId: "w1", message: { event: eventRaised("marker", T0 + 777) }, visibleAt: T0 + 777 }], T0 + 604);
        await rec.until("orchestration", T0 + 777);
        assert.deepEqual(rec.events, [["orchestration", T0 + 777]]);

        rec.stop();
        rec.events.length = 0;
        await create(p, "w3", { now: T0 + 800 });
        await p.sendMessages([{ instanceId: "w1", message: { event: eventRaised("after", T0 + 801) } }], T0 + 801);
        assert.deepEqual(rec.events, []);
      });
    });

    // ------------------------------------------------------------------------------------------
    describe("durability across reopen", () => {
      test("instances, history, messages, timers, tasks and leases survive a reopen", async (p0, h, t) => {
        if (!h.reopen) {
          t.skip("this provider is not persistent");
          return;
        }
        const req = await create(p0, "dur", { executionId: "de", input: '"in"' });
        const item = await lockOne(p0, "dur", T0);
        const hist = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0)]);
        await commitOk(
          p0,
          commitFor(item, {
            newHistory: hist,
            instance: { customStatus: '"cs"', failureDetails: RICH_FAILURE },
            activityTasks: [{ instanceId: "dur", executionId: "de", taskScheduledId: 1, name: "a", input: '"ai"' }],
            messages: [{ instanceId: "dur", visibleAt: T0 + 50_000, message: { executionId: "de", event: timerFired(2, T0 + 50_000) } }],
          }),
          T0 + 1,
        );
        await p0.sendMessages([{ instanceId: "dur", message: { event: eventRaised("e", T0 + 2) } }], T0 + 2);
        const held = await lockOne(p0, "dur", T0 + 2);
        const record = await p0.getInstance("dur");

        const p = await h.reopen();
        assert.deepEqual(await p.getInstance("dur"), record);
        assert.deepEqual(await p.getHistory("dur"), hist);
        assert.equal(await p.nextVisibleAt(T0 + 2), T0 + 50_000);
        assert.deepEqual(await lockAll(p, T0 + 3), [], "the lease taken before the reopen still holds");
        await commitOk(p, commitFor(held), T0 + 3);
        const [task] = await lockActivities(p, T0 + 3);
        assert.equal(task?.name, "a");
        assert.equal(task.input, '"ai"');
        assert.equal(task.dequeueCount, 1);
        const [timer] = await lockAll(p, T0 + 50_000);
        assert.deepEqual(timer?.messages.map((m) => m.message), [{ executionId: "de", event: timerFired(2, T0 + 50_000) }]);
      });
    });
    // ------------------------------------------------------------------------------------------
    describe("entities", () => {
      // Entities are instances whose ID is `@name@key`. They have no history and no ExecutionStarted:
      // their first message creates them, and a commit with deleteIfIdle removes them again.

      test("sendMessages to an unknown entity creates it: Running, named after the entity, with the message queued", async (p) => {
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0, 5) } }], T0);
        assert.deepEqual(await p.getInstance("@counter@k"), newEntityRow("@counter@k", "counter", T0));
        assert.deepEqual(await p.getHistory("@counter@k"), []);
        const item = await lockOne(p, "@counter@k", T0);
        assert.deepEqual(item.instance, newEntityRow("@counter@k", "counter", T0));
        assert.deepEqual(item.messages.map((m) => m.message), [{ event: entityOperation("add", T0, 5) }]);
        await commitOk(p, commitFor(item), T0 + 1);

        // Later messages go to the same row: created once, in arrival order.
        await p.sendMessages(
          [
            { instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 5, 1) } },
            { instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 5, 2) } },
          ],
          T0 + 5,
        );
        const rec = await p.getInstance("@counter@k");
        assert.equal(rec?.createdAt, T0);
        assert.equal(rec?.name, "counter");
        assert.deepEqual((await peekEvents(p, "@counter@k", T0 + 5)).map((e) => (e.type === "EventRaised" ? e.input : e.type)), [
          entityOperation("add", T0 + 5, 1).input,
          entityOperation("add", T0 + 5, 2).input,
        ]);
      });

      test("the entity name is the part between the two '@'; the key may contain '@'", async (p) => {
        await p.sendMessages([{ instanceId: "@account@alice@example.com", message: { event: entityOperation("deposit", T0, 1) } }], T0);
        assert.deepEqual(await p.getInstance("@account@alice@example.com"), newEntityRow("@account@alice@example.com", "account", T0));
      });

      test("a scheduled message to an unknown entity creates the row now and becomes visible later", async (p) => {
        await p.sendMessages([{ instanceId: "@timer@t", message: { event: entityOperation("ring", T0) }, visibleAt: T0 + 5_000 }], T0);
        assert.deepEqual(await p.getInstance("@timer@t"), newEntityRow("@timer@t", "timer", T0));
        assert.equal(await p.nextVisibleAt(T0), T0 + 5_000);
        assert.deepEqual(await lockAll(p, T0 + 4_999), []);
        assert.deepEqual(ids(await lockAll(p, T0 + 5_000)), ["@timer@t"]);
      });

      test("messages to unknown orchestrations are still refused, and a refused batch creates no entity either", async (p) => {
        await assert.rejects(
          p.sendMessages(
            [
              { instanceId: "@counter@k", message: { event: entityOperation("add", T0, 1) } },
              { instanceId: "ghost", message: { event: eventRaised("e", T0) } },
            ],
            T0,
          ),
          hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError),
        );
        assert.equal(await p.getInstance("@counter@k"), undefined);
        assert.equal(await p.getInstance("ghost"), undefined);
        assert.deepEqual(await lockAll(p, FAR), []);
        // Not entity IDs: no second '@', or an empty name. They are orchestration IDs, and unknown.
        for (const id of ["@solo", "@@k"]) {
          await assert.rejects(p.sendMessages([{ instanceId: id, message: { event: eventRaised("e", T0) } }], T0), hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError), id);
        }
        assert.deepEqual(await p.queryInstances({}), { instances: [] });
      });

      test("a commit's message to an unknown entity creates it; one to an unknown orchestration is dropped", async (p) => {
        await create(p, "o");
        const item = await lockOne(p, "o", T0);
        await commitOk(
          p,
          commitFor(item, {
            messages: [
              { instanceId: "@counter@new", message: { event: entityOperation("add", T0 + 3, 7) } },
              { instanceId: "@counter@later", message: { event: entityOperation("add", T0 + 3, 8) }, visibleAt: T0 + 9_000 },
              { instanceId: "ghost", message: { event: eventRaised("e", T0 + 3) } },
            ],
          }),
          T0 + 3,
        );
        assert.deepEqual(await p.getInstance("@counter@new"), newEntityRow("@counter@new", "counter", T0 + 3));
        assert.deepEqual(await p.getInstance("@counter@later"), newEntityRow("@counter@later", "counter", T0 + 3));
        assert.equal(await p.getInstance("ghost"), undefined);
        assert.deepEqual((await peekEvents(p, "@counter@new", T0 + 3)).map((e) => (e.type === "EventRaised" ? e.input : e.type)), [entityOperation("add", T0 + 3, 7).input]);
        assert.deepEqual(await peekEvents(p, "@counter@later", T0 + 3), []);
        assert.equal(await p.nextVisibleAt(T0 + 3), T0 + 9_000);
        assert.deepEqual(ids(await allInstances(p)).sort(), ["@counter@later", "@counter@new", "o"]);
      });

      test("an entity's commit delivers to other entities (created on the way) and to orchestrations", async (p) => {
        await create(p, "caller");
        await commitOk(p, commitFor(await lockOne(p, "caller", T0)), T0);
        await p.sendMessages([{ instanceId: "@a@1", message: { event: entityOperation("ping", T0 + 1) } }], T0 + 1);
        const item = await lockOne(p, "@a@1", T0 + 1);
        await commitOk(
          p,
          commitFor(item, {
            instance: { entityState: entityRecord(1) },
            messages: [
              { instanceId: "@b@2", message: { event: entityOperation("pong", T0 + 2) } },
              { instanceId: "caller", message: { event: eventRaised("response-1", T0 + 2, '{"result":"1"}'), executionId: "caller-exec-1" } },
            ],
          }),
          T0 + 2,
        );
        assert.deepEqual(await p.getInstance("@b@2"), newEntityRow("@b@2", "b", T0 + 2));
        assert.deepEqual((await peekMessages(p, "caller", T0 + 2))?.map((m) => m.message), [{ event: eventRaised("response-1", T0 + 2, '{"result":"1"}'), executionId: "caller-exec-1" }]);
      });

      test("entityState round-trips through commits, work items, getInstance and queryInstances; a commit without it clears it", async (p) => {
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0, 5) } }], T0);
        const first = await lockOne(p, "@counter@k", T0);
        assert.equal("entityState" in first.instance, false, "a new entity has no entityState");
        const rich = entityRecord({ n: 5, text: "quotes ' \" and ünïcödé 😀", nested: { list: [1, null, true] } });
        await commitOk(p, commitFor(first, { instance: { entityState: rich } }), T0 + 10);
        const expected: InstanceRecord = { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 10, entityState: rich };
        assert.deepEqual(await p.getInstance("@counter@k"), expected);
        assert.deepEqual((await p.queryInstances({ kind: "entity" })).instances, [expected]);

        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 20, 1) } }], T0 + 20);
        const second = await lockOne(p, "@counter@k", T0 + 20);
        assert.deepEqual(second.instance, expected, "the work item carries the stored entityState");
        const next = entityRecord({ n: 6 });
        await commitOk(p, commitFor(second, { instance: { entityState: next } }), T0 + 21);
        assert.equal((await p.getInstance("@counter@k"))?.entityState, next);

        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("noop", T0 + 30) } }], T0 + 30);
        await commitOk(p, commitFor(await lockOne(p, "@counter@k", T0 + 30)), T0 + 31);
        assert.deepEqual(await p.getInstance("@counter@k"), { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 31 });
      });

      test("entityState survives a reopen", async (p0, h, t) => {
        if (!h.reopen) {
          t.skip("this provider is not persistent");
          return;
        }
        await p0.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0, 5) } }], T0);
        await commitOk(p0, commitFor(await lockOne(p0, "@counter@k", T0), { instance: { entityState: entityRecord(5) } }), T0 + 1);
        await p0.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 2, 1) } }], T0 + 2);
        const record = await p0.getInstance("@counter@k");
        const p = await h.reopen();
        assert.deepEqual(await p.getInstance("@counter@k"), record);
        assert.equal(record?.entityState, entityRecord(5));
        const item = await lockOne(p, "@counter@k", T0 + 3);
        assert.deepEqual(item.messages.map((m) => m.message), [{ event: entityOperation("add", T0 + 2, 1) }]);
      });

      test("deleteIfIdle removes the row in the same commit when no message is left, and still delivers the commit's messages", async (p) => {
        await create(p, "caller");
        await commitOk(p, commitFor(await lockOne(p, "caller", T0)), T0);
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("get", T0 + 1) } }], T0 + 1);
        const item = await lockOne(p, "@counter@k", T0 + 1);
        await commitOk(
          p,
          commitFor(item, {
            deleteIfIdle: true,
            messages: [{ instanceId: "caller", message: { event: eventRaised("response-1", T0 + 2, "{}"), executionId: "caller-exec-1" } }],
          }),
          T0 + 2,
        );
        assert.equal(await p.getInstance("@counter@k"), undefined);
        assert.deepEqual(await p.getHistory("@counter@k"), []);
        assert.deepEqual(ids(await allInstances(p)), ["caller"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "entity" })), []);
        assert.deepEqual((await peekMessages(p, "caller", T0 + 2))?.map((m) => m.message.event), [eventRaised("response-1", T0 + 2, "{}")]);
        assert.deepEqual(ids(await lockAll(p, FAR)), ["caller"], "nothing is left queued for the entity");

        // The next message creates it again from scratch.
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 50, 1) } }], T0 + 50);
        assert.deepEqual(await p.getInstance("@counter@k"), newEntityRow("@counter@k", "counter", T0 + 50));
      });

      test("deleteIfIdle keeps the row (with the commit's update) when a message arrived during the step", async (p) => {
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("delete", T0) } }], T0);
        const item = await lockOne(p, "@counter@k", T0);
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("add", T0 + 1, 3) } }], T0 + 1);
        await commitOk(p, commitFor(item, { deleteIfIdle: true, instance: { entityState: entityRecord(null) } }), T0 + 2);
        assert.deepEqual(await p.getInstance("@counter@k"), { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 2, entityState: entityRecord(null) });
        const next = await lockOne(p, "@counter@k", T0 + 2);
        assert.deepEqual(next.messages.map((m) => m.message), [{ event: entityOperation("add", T0 + 1, 3) }]);
      });

      test("deleteIfIdle keeps the row when the step leaves a message unconsumed, sends one to itself, or has a scheduled one pending", async (p) => {
        // Unconsumed.
        await p.sendMessages(
          [
            { instanceId: "@e@unconsumed", message: { event: entityOperation("a", T0) } },
            { instanceId: "@e@unconsumed", message: { event: entityOperation("b", T0) } },
          ],
          T0,
        );
        const u = await lockOne(p, "@e@unconsumed", T0);
        await commitOk(p, commitFor(u, { deleteIfIdle: true, consumedMessageIds: [u.messages[0]!.id] }), T0 + 1);
        assert.ok(await p.getInstance("@e@unconsumed"));
        assert.deepEqual((await peekMessages(p, "@e@unconsumed", T0 + 1))?.map((m) => m.id), [u.messages[1]!.id]);

        // To itself (a signal an entity sends to itself, or a forwarded request).
        await p.sendMessages([{ instanceId: "@e@self", message: { event: entityOperation("a", T0) } }], T0);
        const s = await lockOne(p, "@e@self", T0);
        await commitOk(p, commitFor(s, { deleteIfIdle: true, messages: [{ instanceId: "@e@self", message: { event: entityOperation("again", T0 + 1) } }] }), T0 + 1);
        assert.ok(await p.getInstance("@e@self"));
        assert.deepEqual((await peekEvents(p, "@e@self", T0 + 1)).map((e) => (e.type === "EventRaised" ? e.input : e.type)), [entityOperation("again", T0 + 1).input]);

        // A scheduled signal still waiting: deleting the row would strand it.
        await p.sendMessages(
          [
            { instanceId: "@e@scheduled", message: { event: entityOperation("now", T0) } },
            { instanceId: "@e@scheduled", message: { event: entityOperation("later", T0) }, visibleAt: T0 + 60_000 },
          ],
          T0,
        );
        const sc = await lockOne(p, "@e@scheduled", T0);
        assert.equal(sc.messages.length, 1);
        await commitOk(p, commitFor(sc, { deleteIfIdle: true }), T0 + 1);
        assert.ok(await p.getInstance("@e@scheduled"), "kept while a scheduled message waits");
        assert.equal(await p.nextVisibleAt(T0 + 1), T0 + 60_000);
        const later = await lockOne(p, "@e@scheduled", T0 + 60_000);
        assert.deepEqual(later.messages.map((m) => m.message.event), [entityOperation("later", T0)]);
        await commitOk(p, commitFor(later, { deleteIfIdle: true }), T0 + 60_000);
        assert.equal(await p.getInstance("@e@scheduled"), undefined);
      });

      test("a deleteIfIdle commit with a lost lease is refused and deletes nothing", async (p) => {
        await p.sendMessages([{ instanceId: "@counter@k", message: { event: entityOperation("get", T0) } }], T0);
        const stale = await lockOne(p, "@counter@k", T0, 1_000);
        const fresh = await lockOne(p, "@counter@k", T0 + 1_000);
        assertLockLost(await commitOne(p, commitFor(stale, { deleteIfIdle: true }), T0 + 1_001));
        assert.ok(await p.getInstance("@counter@k"));
        await commitOk(p, commitFor(fresh, { deleteIfIdle: true }), T0 + 1_002);
        assert.equal(await p.getInstance("@counter@k"), undefined);
      });

      test("queryInstances kind 'entity' / 'orchestration' filters on the '@' prefix, with the other filters and paging", async (p) => {
        await runTo(p, "o1", "Running", { now: T0 });
        await runTo(p, "o2", "Completed", { now: T0 + 1 });
        for (const [i, id] of ["@counter@a", "@counter@b", "@account@a"].entries()) {
          await p.sendMessages([{ instanceId: id, message: { event: entityOperation("x", T0 + 2 + i) } }], T0 + 2 + i);
        }
        assert.deepEqual(ids(await allInstances(p)), ["o1", "o2", "@counter@a", "@counter@b", "@account@a"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "entity" })), ["@counter@a", "@counter@b", "@account@a"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "orchestration" })), ["o1", "o2"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "entity", instanceIdPrefix: "@counter@" })), ["@counter@a", "@counter@b"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "orchestration", instanceIdPrefix: "@" })), []);
        assert.deepEqual(ids(await allInstances(p, { kind: "orchestration", runtimeStatus: ["Running"] })), ["o1"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "entity", runtimeStatus: ["Running"] })), ["@counter@a", "@counter@b", "@account@a"]);
        assert.deepEqual(ids(await allInstances(p, { kind: "entity", runtimeStatus: ["Completed"] })), []);

        const pages: string[][] = [];
        let token: string | undefined;
        do {
          const page: Awaited<ReturnType<StorageProvider["queryInstances"]>> = await p.queryInstances(token === undefined ? { kind: "entity", pageSize: 2 } : { kind: "entity", pageSize: 2, continuationToken: token });
          pages.push(ids(page.instances));
          token = page.continuationToken;
        } while (token !== undefined);
        assert.deepEqual(pages, [["@counter@a", "@counter@b"], ["@account@a"]]);
        const orchPage = await p.queryInstances({ kind: "orchestration", pageSize: 2 });
        assert.deepEqual(ids(orchPage.instances), ["o1", "o2"]);
        assert.equal(orchPage.continuationToken, undefined, "no extra page when the entities come after the last orchestration");
      });

      test("lastUpdatedFrom / lastUpdatedTo are inclusive bounds on lastUpdatedAt, for entities and orchestrations", async (p) => {
        // Orchestrations updated at T0+10 and T0+30; entities at T0+20 (a commit), T0+30 (a commit) and T0+40 (created by a message).
        await runTo(p, "o-10", "Completed", { now: T0 + 10 });
        await create(p, "o-30", { now: T0 });
        await commitOk(p, commitFor(await lockOne(p, "o-30", T0)), T0 + 30);
        for (const [id, at] of [["@m@20", T0 + 20], ["@m@30", T0 + 30]] as const) {
          await p.sendMessages([{ instanceId: id, message: { event: entityOperation("x", T0) } }], T0);
          await commitOk(p, commitFor(await lockOne(p, id, T0), { instance: { entityState: entityRecord(at) } }), at);
        }
        await p.sendMessages([{ instanceId: "@m@40", message: { event: entityOperation("x", T0 + 40) } }], T0 + 40);
        const updated = async (q: Parameters<StorageProvider["queryInstances"]>[0]): Promise<string[]> => ids(await allInstances(p, q)).sort();

        assert.deepEqual((await allInstances(p)).map((r) => [r.instanceId, r.lastUpdatedAt - T0]).sort(), [
          ["@m@20", 20],
          ["@m@30", 30],
          ["@m@40", 40],
          ["o-10", 10],
          ["o-30", 30],
        ]);
        assert.deepEqual(await updated({ lastUpdatedFrom: T0 + 30 }), ["@m@30", "@m@40", "o-30"]);
        assert.deepEqual(await updated({ lastUpdatedTo: T0 + 30 }), ["@m@20", "@m@30", "o-10", "o-30"]);
        assert.deepEqual(await updated({ lastUpdatedFrom: T0 + 30, lastUpdatedTo: T0 + 30 }), ["@m@30", "o-30"], "both bounds inclusive");
        assert.deepEqual(await updated({ lastUpdatedFrom: T0 + 20, lastUpdatedTo: T0 + 39, kind: "entity" }), ["@m@20", "@m@30"]);
        assert.deepEqual(await updated({ lastUpdatedFrom: T0 + 11, lastUpdatedTo: T0 + 19 }), []);
        assert.deepEqual(await updated({ lastUpdatedFrom: T0 + 41 }), []);
        assert.deepEqual(await updated({ lastUpdatedTo: T0 + 9 }), []);
        // Independent of createdAt: every entity above was created at T0 or T0+40.
        assert.deepEqual(await updated({ kind: "entity", createdFrom: T0, createdTo: T0, lastUpdatedFrom: T0 + 25 }), ["@m@30"]);
      });
    });
  });
}

/** Leaves an activity task, a future timer and an event queued for a (possibly terminal) instance. */
async function scheduleLeftovers(p: StorageProvider, instanceId: string): Promise<void> {
  const rec = await p.getInstance(instanceId);
  assert.ok(rec);
  await p.sendMessages(
    [
      { instanceId, message: { event: eventRaised("leftover", T0) } },
      { instanceId, message: { event: timerFired(7, T0 + 70_000), executionId: rec.executionId }, visibleAt: T0 + 70_000 },
    ],
    T0,
  );
  // A task left by a worker: schedule it through a step, then put the instance back as it was.
  const item: OrchestrationWorkItem = await lockOne(p, instanceId, T0);
  await commitOk(
    p,
    commitFor(item, {
      consumedMessageIds: [],
      instance: withRecord(rec),
      activityTasks: [{ instanceId, executionId: rec.executionId, taskScheduledId: 99, name: "leftover-task" }],
    }),
    rec.lastUpdatedAt,
  );
}

/** The update that writes `rec` back unchanged. */
function withRecord(rec: InstanceRecord): InstanceUpdate {
  const u: InstanceUpdate = { runtimeStatus: rec.runtimeStatus, executionId: rec.executionId, name: rec.name };
  if (rec.input !== undefined) u.input = rec.input;
  if (rec.output !== undefined) u.output = rec.output;
  if (rec.customStatus !== undefined) u.customStatus = rec.customStatus;
  if (rec.failureDetails !== undefined) u.failureDetails = rec.failureDetails;
  return u;
}
