import assert from "node:assert/strict";
import { InstanceAlreadyExistsError } from "../../../src/core/errors.js";
import type { ActivityWorkItem, StorageProvider } from "../../../src/providers/provider.js";
import {
  type Define,
  LEASE,
  T0,
  assertLockLost,
  bodies,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  firstStepHistory,
  fulfilled,
  hasCode,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  optimisticFor,
  orchestratorStarted,
  race,
  runTo,
  scheduleActivities,
  secondHandle,
  signal,
  stored,
  taskCompleted,
  timerFired,
  toEvent,
  toSelf,
} from "../fixtures.js";

/** Enough rounds to run each interleaving both ways many times, few enough to stay fast. */
const ROUNDS = 50;

/** The two handles, swapped every other pair of rounds so each plays both roles in both orders. */
const roles = (round: number, p: StorageProvider, q: StorageProvider): [StorageProvider, StorageProvider] => (round % 4 < 2 ? [p, q] : [q, p]);

const at = (round: number): number => T0 + round * 10 * LEASE;

// Each test runs two operations on two handles of one store at once, round after round; each round
// uses its own instance IDs and times, and purges what it made, so the rounds do not see each other.
export function interleavingTests(test: Define): void {
  test("a deleteIfIdle commit against a message to that entity: no message is ever left without its row", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const id = `@counter@r${round}`;
      const now = at(round);
      await a.sendMessages([signal(id, "first", now)], now);
      const item = await lockOne(a, id, now);
      const [committed, sent] = await race(
        round,
        () => commitOne(a, commitFor(item, { deleteIfIdle: true }), now + 1),
        () => b.sendMessages([signal(id, "second", now + 1)], now + 1),
      );
      assert.ok(fulfilled(committed, "the commit").ok, `round ${round}: the commit holds its lease`);
      fulfilled(sent, "the send");
      const rec = await b.getInstance(id);
      assert.ok(rec, `round ${round}: the entity exists while a message waits for it`);
      assert.equal(rec.kind, "entity");
      const next = await lockOne(b, id, now + 2);
      assert.deepEqual(
        next.messages.map((m) => (m.message.event.type === "EntityOperationSignaled" ? m.message.event.operation : "?")),
        ["second"],
        `round ${round}`,
      );
      await commitOk(b, commitFor(next, { deleteIfIdle: true }), now + 3);
      assert.equal(await a.getInstance(id), undefined);
    }
  });

  test("two creates of one ID: exactly one wins, the other gets INSTANCE_ALREADY_EXISTS", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const id = `dup-${round}`;
      const now = at(round);
      // Every third round the ID belongs to a finished instance: one create replaces it, the other is refused.
      if (round % 3 === 2) await runTo(a, id, "Completed", { executionId: "finished", now });
      const [ra, rb] = await race(
        round,
        () => create(a, id, { executionId: "from-a", now: now + 1 }),
        () => create(b, id, { executionId: "from-b", now: now + 1 }),
      );
      const winners = [ra, rb].filter((r) => r.status === "fulfilled");
      assert.equal(winners.length, 1, `round ${round}: exactly one create wins`);
      const loser = [ra, rb].find((r) => r.status === "rejected")!;
      hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError)(loser.reason);
      const expected = ra.status === "fulfilled" ? "from-a" : "from-b";
      const rec = await p.getInstance(id);
      assert.equal(rec?.executionId, expected);
      assert.equal(rec.runtimeStatus, "Pending");
      assert.deepEqual(await q.getHistory(id), []);
      const item = await lockOne(q, id, now + 1);
      assert.deepEqual(
        item.messages.map((m) => m.message.executionId),
        [expected],
        `round ${round}: only the winner's start is queued`,
      );
      assert.equal(await p.purgeInstance(id), 1);
    }
  });

  test("a lock against a replace: the old execution's lease never commits into the new instance", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const id = `re-${round}`;
      const now = at(round);
      await runTo(a, id, "Completed", { executionId: "old", now });
      await a.sendMessages([toEvent(id, eventRaised("leftover", now))], now);
      const [locked, created] = await race(
        round,
        () => lockAll(a, now + 1, { workerId: "a" }),
        () => create(b, id, { executionId: "new", now: now + 1 }),
      );
      fulfilled(created, "the replacing create");
      let item = fulfilled(locked, "the lock").find((i) => i.instanceId === id);
      // A store with concurrent writers may skip the row while the replace holds it: lock it after.
      item ??= (await lockAll(a, now + 1, { workerId: "a" })).find((i) => i.instanceId === id);
      if (item?.instance.executionId === "old") {
        assertLockLost(
          await commitOne(a, commitFor(item, { status: "Completed", newHistory: [orchestratorStarted(now + 2)], instance: { output: '"stale"' }, messages: [toSelf(id, timerFired(1, now + 5), { visibleAt: now + 5 })] }), now + 2),
          `round ${round}: the old lease`,
        );
        const rec = await b.getInstance(id);
        assert.equal(rec?.executionId, "new");
        assert.equal(rec.runtimeStatus, "Pending");
        assert.equal(rec.output, undefined);
        assert.deepEqual(await b.getHistory(id), []);
        const fresh = await lockOne(b, id, now + 5);
        assert.deepEqual(
          fresh.messages.map((m) => [m.message.event.type, m.message.executionId]),
          [["ExecutionStarted", "new"]],
          `round ${round}: neither the leftover nor the stale timer`,
        );
      } else {
        // The lock came after the replace: it holds the new instance, with only the new start.
        assert.ok(item, `round ${round}: the new instance is ready`);
        assert.equal(item.instance.executionId, "new");
        assert.deepEqual(
          item.messages.map((m) => [m.message.event.type, m.message.executionId]),
          [["ExecutionStarted", "new"]],
        );
        await commitOk(a, commitFor(item), now + 2);
      }
      assert.equal(await p.purgeInstance(id), 1);
    }
  });

  test("two workers locking at once never get the same instance, nor the same task", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const now = at(round);
      const host = `tasks-${round}`;
      await create(a, host, { now });
      await scheduleActivities(a, host, ["t0", "t1", "t2", "t3", "t4", "t5"], now);
      const made = Array.from({ length: 6 }, (_, i) => `w${round}-${i}`);
      for (const [i, id] of made.entries()) await create(i % 2 === 0 ? a : b, id, { now });

      const [la, lb] = await race(
        round,
        () => lockAll(a, now + 1, { max: 4, workerId: "a" }),
        () => lockAll(b, now + 1, { max: 4, workerId: "b" }),
      );
      const got = [...fulfilled(la, "lock a"), ...fulfilled(lb, "lock b"), ...(await lockAll(p, now + 1, { workerId: "c" }))];
      assert.deepEqual(ids(got).sort(), [...made].sort(), `round ${round}: each instance locked exactly once`);
      for (const item of got) assert.equal(item.dequeueCount, 1);
      assert.ok((await p.completeOrchestrationWorkItems(got.map((i) => commitFor(i, { status: "Completed" })), now + 2)).every((r) => r.ok));

      const [ta, tb] = await race(
        round,
        () => lockActivities(a, now + 3, { max: 4, workerId: "a" }),
        () => lockActivities(b, now + 3, { max: 4, workerId: "b" }),
      );
      const tasks: ActivityWorkItem[] = [...fulfilled(ta, "task lock a"), ...fulfilled(tb, "task lock b"), ...(await lockActivities(q, now + 3, { workerId: "c" }))];
      assert.deepEqual(
        tasks.map((x) => x.name).sort(),
        ["t0", "t1", "t2", "t3", "t4", "t5"],
        `round ${round}: each task locked exactly once`,
      );
      for (const x of tasks) assert.equal(x.dequeueCount, 1);
      assert.ok((await q.completeActivityWorkItems(tasks.map((item) => ({ item, event: taskCompleted(item.taskScheduledId, now + 4) })), now + 4)).every((r) => r.ok));
      for (const id of [host, ...made]) assert.equal(await p.purgeInstance(id), 1);
    }
  });

  test("a stale lease committing against a takeover: one of them gets the step, a refused commit writes nothing", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const id = `st-${round}`;
      const now = at(round);
      const req = await create(a, id, { executionId: "x", now });
      const stale = await lockOne(a, id, now, { leaseMs: 1_000, workerId: "a" });
      const expiry = now + 1_000;
      const [committed, locked] = await race(
        round,
        () =>
          commitOne(
            a,
            commitFor(stale, {
              status: "Completed",
              newHistory: firstStepHistory(req.startedEvent, expiry),
              instance: { output: '"stale"' },
              activityTasks: [{ instanceId: id, executionId: "x", taskScheduledId: 1, name: "stale-task" }],
              messages: [toSelf(id, timerFired(2, expiry + 500), { visibleAt: expiry + 500 })],
            }),
            expiry,
          ),
        () => lockAll(b, expiry, { workerId: "b" }),
      );
      const r = fulfilled(committed, "the stale commit");
      const taken = fulfilled(locked, "the takeover").find((i) => i.instanceId === id);
      assert.notEqual(r.ok, taken !== undefined, `round ${round}: exactly one of the stale holder and the taker has the step`);
      if (taken) {
        assertLockLost(r, `round ${round}: the stale commit`);
        assert.equal(taken.takeover, true);
        const rec = await b.getInstance(id);
        assert.equal(rec?.runtimeStatus, "Pending");
        assert.equal(rec.output, undefined);
        assert.deepEqual(await b.getHistory(id), []);
        assert.deepEqual(await lockActivities(b, expiry), [], "no task from the stale commit");
        assert.equal(await b.nextVisibleAt(expiry), undefined, "no timer from the stale commit");
        assert.deepEqual(bodies(taken.messages), [stored(req.startedEvent, { executionId: "x" })]);
        await commitOk(b, commitFor(taken, { status: "Completed" }), expiry + 1);
      } else {
        assert.equal((await b.getInstance(id))?.output, '"stale"');
        const tasks = await lockActivities(b, expiry);
        assert.deepEqual(
          tasks.map((x) => x.name),
          ["stale-task"],
        );
        assert.ok((await b.completeActivityWorkItems([{ item: tasks[0]!, event: taskCompleted(1, expiry) }], expiry))[0]?.ok);
      }
      assert.equal(await p.purgeInstance(id), 1);
    }
  });

  test("an optimistic commit against a lease commit of the same instance: exactly one wins", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = roles(round, p, q);
      const id = `op-${round}`;
      const now = at(round);
      const req = await create(a, id, { executionId: "x", now });
      const first = firstStepHistory(req.startedEvent, now);
      await commitOk(a, commitFor(await lockOne(a, id, now), { newHistory: first }), now);
      await a.sendMessages([toEvent(id, eventRaised("e", now + 1))], now + 1);
      // The lease expires at `expiry` without being taken over: an optimistic commit may then go ahead.
      const leased = await lockOne(a, id, now + 1, { leaseMs: 1_000 });
      const expiry = now + 1_001;
      const rec = (await b.getInstance(id))!;
      const viaLease = [orchestratorStarted(expiry), eventRaised("e", now + 1)];
      const viaOptimistic = [orchestratorStarted(expiry), taskCompleted(1, expiry, '"r"')];
      const [rl, ro] = await race(
        round,
        () => commitOne(a, commitFor(leased, { newHistory: viaLease, instance: { customStatus: '"lease"' } }), expiry),
        () => commitOne(b, optimisticFor(rec, { newHistory: viaOptimistic, instance: { customStatus: '"optimistic"' } }), expiry),
      );
      const lease = fulfilled(rl, "the lease commit");
      const optimistic = fulfilled(ro, "the optimistic commit");
      assert.notEqual(lease.ok, optimistic.ok, `round ${round}: exactly one wins`);
      assertLockLost(lease.ok ? optimistic : lease, `round ${round}: the loser`);
      const winner = lease.ok ? viaLease : viaOptimistic;
      assert.deepEqual(await p.getHistory(id), [...first, ...winner], `round ${round}: only the winner's events`);
      assert.equal((await q.getInstance(id))?.customStatus, lease.ok ? '"lease"' : '"optimistic"');
      // The optimistic commit consumed nothing: the event is still queued when it won.
      const left = (await lockAll(p, expiry)).find((i) => i.instanceId === id);
      assert.deepEqual(
        left?.messages.map((m) => m.message.event),
        lease.ok ? undefined : [eventRaised("e", now + 1)],
      );
      assert.equal(await p.purgeInstance(id), 1);
    }
  });
}
