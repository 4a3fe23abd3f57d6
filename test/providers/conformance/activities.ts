import assert from "node:assert/strict";
import type { ActivityResult, ActivityTaskRequest, ActivityWorkItem, StorageProvider } from "../../../src/providers/provider.js";
import {
  type Define,
  FAR,
  LEASE,
  METADATA,
  RICH_FAILURE,
  T0,
  assertLockLost,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  lockActivities,
  lockOne,
  optimisticFor,
  orchestratorStarted,
  peekEvents,
  peekMessages,
  scheduleActivities,
  stored,
  taskCompleted,
  taskFailed,
  toEvent,
  toSelf,
  timerFired,
} from "../fixtures.js";

const byTaskId = (items: readonly ActivityWorkItem[]): ActivityWorkItem[] => [...items].sort((a, b) => a.taskScheduledId - b.taskScheduledId);

export function activityTests(test: Define): void {
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
    assert.deepEqual(await lockActivities(p, T0, { max: 0 }), []);
    const got: number[] = [];
    for (const n of [2, 2, 1, 0]) {
      const batch = await lockActivities(p, T0, { max: 2 });
      assert.equal(batch.length, n);
      got.push(...batch.map((b) => b.taskScheduledId));
    }
    assert.deepEqual(
      got.sort(),
      [1, 2, 3, 4, 5],
    );
  });

  test("concurrent lockers on one handle never get the same task", async (p) => {
    await create(p, "cl");
    await scheduleActivities(
      p,
      "cl",
      Array.from({ length: 10 }, (_, i) => `t${i}`),
    );
    const batches = await Promise.all([1, 2, 3, 4, 5].map((n) => lockActivities(p, T0, { max: 3, workerId: `w${n}` })));
    const all = batches.flat().map((b) => b.id);
    assert.equal(new Set(all).size, all.length);
    // A locker may pass over rows another one is locking at that moment (SKIP LOCKED on PostgreSQL):
    // those are left for the next round, never handed out twice.
    for (let round = 0; round < 5 && all.length < 10; round++) all.push(...(await lockActivities(p, T0, { max: 10, workerId: "late" })).map((b) => b.id));
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, 10);
  });

  test("functions: a worker locks only tasks of its activities (names case-insensitive)", async (p) => {
    await create(p, "fn");
    await scheduleActivities(p, "fn", ["SendEmail", "Charge", "sendemail"]);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await lockActivities(p, T0, { functions: [] }), []);
      assert.deepEqual(await lockActivities(p, T0, { functions: ["refund"] }), []);
    }
    const mail = await lockActivities(p, T0, { functions: ["sendemail"] });
    assert.deepEqual(
      byTaskId(mail).map((t) => [t.name, t.dequeueCount]),
      [
        ["SendEmail", 1],
        ["sendemail", 1],
      ],
    );
    assert.deepEqual(
      (await lockActivities(p, T0)).map((t) => t.name),
      ["Charge"],
      "undefined functions: any task",
    );
  });

  test("input and metadata round-trip", async (p) => {
    await create(p, "md");
    await scheduleActivities(p, "md", ["traced"], T0, METADATA);
    const [task] = await lockActivities(p, T0);
    assert.equal(task?.input, JSON.stringify("traced-in"));
    assert.deepEqual(task.metadata, METADATA);
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
    const results = await p.completeActivityWorkItems(
      [
        { item: ok, event: okEvent },
        { item: bad, event: badEvent },
      ],
      T0 + 2,
    );
    assert.deepEqual(results, [{ ok: true }, { ok: true }]);
    assert.deepEqual(await lockActivities(p, FAR), [], "tasks are deleted");
    const item = await lockOne(p, "ac", T0 + 2);
    assert.deepEqual(
      item.messages.map((m) => m.message),
      [stored(okEvent, { executionId: "acx" }), stored(badEvent, { executionId: "acx" })],
    );
  });

  test("a result for an older execution is still delivered with that execution's ID", async (p) => {
    await create(p, "oldexec", { executionId: "x1" });
    await scheduleActivities(p, "oldexec", ["a"]);
    const [task] = await lockActivities(p, T0);
    await p.sendMessages([toEvent("oldexec", eventRaised("tick", T0 + 1))], T0 + 1);
    await commitOk(p, commitFor(await lockOne(p, "oldexec", T0 + 1), { status: "ContinuedAsNew", replaceHistory: true, instance: { executionId: "x2" } }), T0 + 1);
    assert.deepEqual(await p.completeActivityWorkItems([{ item: task!, event: taskCompleted(1, T0 + 2) }], T0 + 2), [{ ok: true }]);
    assert.deepEqual(
      (await peekMessages(p, "oldexec", T0 + 2))?.map((m) => m.message.executionId),
      ["x1"],
    );
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
    const [ta, tb] = byTaskId(await lockActivities(p, T0));
    assert.ok(ta && tb);
    const [r1, r2] = await Promise.all([
      p.completeActivityWorkItems([{ item: ta, event: taskCompleted(1, T0, '"one"') }], T0 + 1),
      p.completeActivityWorkItems([{ item: ta, event: taskCompleted(1, T0, '"two"') }], T0 + 1),
    ]);
    const all = [...r1, ...r2];
    assert.equal(all.filter((r) => r.ok).length, 1);
    assertLockLost(all.find((r) => !r.ok));
    const inBatch = await p.completeActivityWorkItems(
      [
        { item: tb, event: taskCompleted(2, T0) },
        { item: tb, event: taskCompleted(2, T0) },
      ],
      T0 + 2,
    );
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
    assert.deepEqual(
      taken.map((x) => x.name),
      ["b"],
    );
    assert.deepEqual(await p.renewActivityWorkItems([a, b], LEASE, T0 + LEASE + 1), [true, false]);
    assert.equal(b.lockedUntil, T0 + LEASE, "a lost item keeps its old lockedUntil");
    assert.deepEqual(
      (await lockActivities(p, T0 + 2 * LEASE)).map((x) => x.name),
      ["b"],
    );
    assert.deepEqual(
      (await lockActivities(p, T0 + 2 * LEASE + 1)).map((x) => x.name),
      ["a"],
    );
  });
}

/** activityResults: a step that consumes activity results directly, in its own transaction. */
export function activityResultTests(test: Define): void {
  /** An instance with two locked tasks (ids 1 and 2), its first step committed. */
  async function withTasks(p: StorageProvider): Promise<[ActivityWorkItem, ActivityWorkItem]> {
    await create(p, "ar", { executionId: "x1" });
    await scheduleActivities(p, "ar", ["one", "two"]);
    const [one, two] = byTaskId(await lockActivities(p, T0 + 1));
    assert.ok(one && two);
    return [one, two];
  }

  test("deletes the tasks with the step and enqueues no message for them (lease fence)", async (p) => {
    const [one, two] = await withTasks(p);
    await p.sendMessages([toEvent("ar", eventRaised("e", T0 + 2))], T0 + 2);
    const item = await lockOne(p, "ar", T0 + 2);
    const history = [orchestratorStarted(T0 + 3), taskCompleted(1, T0 + 3, '"1"'), taskCompleted(2, T0 + 3, '"2"')];
    await commitOk(
      p,
      commitFor(item, {
        newHistory: history,
        activityResults: [
          { item: one, event: taskCompleted(1, T0 + 3, '"1"') },
          { item: two, event: taskCompleted(2, T0 + 3, '"2"') },
        ],
      }),
      T0 + 3,
    );
    assert.deepEqual(await lockActivities(p, FAR), [], "both tasks are gone");
    assert.deepEqual(await peekEvents(p, "ar", T0 + 3), [], "the results went into the step, not the inbox");
    assert.deepEqual((await p.getHistory("ar")).slice(-3), history);
    assertLockLost((await p.completeActivityWorkItems([{ item: one, event: taskCompleted(1, T0 + 4) }], T0 + 4))[0], "the task was consumed by the step");
  });

  test("with an optimistic fence: the activity result and the next step in one transaction", async (p) => {
    const [one] = await withTasks(p);
    const rec = (await p.getInstance("ar"))!;
    const r = await commitOk(
      p,
      optimisticFor(rec, {
        newHistory: [orchestratorStarted(T0 + 3), taskCompleted(1, T0 + 3, '"1"')],
        activityResults: [{ item: one, event: taskCompleted(1, T0 + 3, '"1"') }],
      }),
      T0 + 3,
    );
    assert.equal(r.leasedActivities?.length ?? 0, 0);
    assert.equal((await p.getInstance("ar"))?.historyLength, rec.historyLength + 2);
    assert.deepEqual(
      (await lockActivities(p, FAR)).map((t) => t.name),
      ["two"],
      "only the consumed task is deleted",
    );
  });

  test("one stale task token refuses the whole commit, which writes nothing", async (p) => {
    const [one, two] = await withTasks(p);
    // Task one's lease expires and another worker takes it; task two's is renewed and stays valid.
    assert.deepEqual(await p.renewActivityWorkItems([two], LEASE, T0 + 2), [true]);
    const [taken, ...none] = await lockActivities(p, T0 + 1 + LEASE, { workerId: "other" });
    assert.equal(none.length, 0);
    assert.equal(taken?.taskScheduledId, 1);
    await p.sendMessages([toEvent("ar", eventRaised("e", T0 + 2 + LEASE))], T0 + 2 + LEASE);
    const item = await lockOne(p, "ar", T0 + 2 + LEASE);
    const before = { instance: await p.getInstance("ar"), history: await p.getHistory("ar") };
    const r = await commitOne(
      p,
      commitFor(item, {
        status: "Completed",
        newHistory: [orchestratorStarted(T0 + 3 + LEASE), taskCompleted(1, T0 + 3 + LEASE), taskCompleted(2, T0 + 3 + LEASE)],
        activityResults: [
          { item: two, event: taskCompleted(2, T0 + 3 + LEASE) },
          { item: one, event: taskCompleted(1, T0 + 3 + LEASE) },
        ],
        activityTasks: [{ instanceId: "ar", executionId: "x1", taskScheduledId: 3, name: "three" }],
        messages: [toSelf("ar", timerFired(4, T0 + 99_000), { visibleAt: T0 + 99_000 })],
      }),
      T0 + 3 + LEASE,
    );
    assertLockLost(r);
    assert.deepEqual({ instance: await p.getInstance("ar"), history: await p.getHistory("ar") }, before);
    assert.equal(await p.nextVisibleAt(T0 + 3 + LEASE), undefined, "no timer was delivered");
    assert.deepEqual(await p.renewActivityWorkItems([taken, two], LEASE, T0 + 3 + LEASE), [true, true], "neither task was deleted");
    // The instance's lease is still held and its message unconsumed.
    assert.deepEqual(await p.renewOrchestrationWorkItems([item], LEASE, T0 + 4 + LEASE), [true]);
    await commitOk(p, commitFor(item), T0 + 5 + LEASE);
    assert.deepEqual(
      (await lockActivities(p, FAR)).map((t) => t.name).sort(),
      ["one", "two"],
      "no task was deleted, none inserted",
    );
  });

  test("a result for a task already completed refuses the commit", async (p) => {
    const [one, two] = await withTasks(p);
    assert.deepEqual(await p.completeActivityWorkItems([{ item: two, event: taskCompleted(2, T0 + 2) }], T0 + 2), [{ ok: true }]);
    const item = await lockOne(p, "ar", T0 + 2);
    const r = await commitOne(
      p,
      commitFor(item, {
        newHistory: [orchestratorStarted(T0 + 3)],
        activityResults: [
          { item: one, event: taskCompleted(1, T0 + 3) },
          { item: two, event: taskCompleted(2, T0 + 3) },
        ],
      }),
      T0 + 3,
    );
    assertLockLost(r);
    assert.deepEqual(await p.renewActivityWorkItems([one], LEASE, T0 + 3), [true], "task one was not deleted");
    assert.deepEqual(await p.renewOrchestrationWorkItems([item], LEASE, T0 + 3), [true]);
    assert.deepEqual(
      item.messages.map((m) => m.message.event.type),
      ["TaskCompleted"],
    );
  });
}

/** leaseActivities: a step leases the tasks it creates to the committing worker. */
export function leaseActivitiesTests(test: Define): void {
  const tasks = (names: string[]): ActivityTaskRequest[] =>
    names.map((name, i) => ({ instanceId: "la", executionId: "x1", taskScheduledId: i + 1, name, input: `"${name}-in"`, metadata: METADATA }));

  test("leases up to max matching tasks, with dequeueCount 1; lockActivityWorkItems skips them until the lease expires", async (p) => {
    await create(p, "la", { executionId: "x1" });
    const item = await lockOne(p, "la", T0);
    const requests = tasks(["A", "B", "C", "D"]);
    const r = await commitOk(p, commitFor(item, { activityTasks: requests, leaseActivities: { workerId: "me", leaseMs: 5_000, max: 2, functions: ["a", "c", "d"] } }), T0 + 1);
    const leased = r.leasedActivities ?? [];
    assert.equal(leased.length, 2);
    for (const t of leased) {
      const { id, lockToken, ...rest } = t;
      assert.equal(typeof id, "number");
      assert.ok(lockToken.length > 0);
      assert.ok(["A", "C", "D"].includes(t.name), `${t.name} is one of the worker's activities`);
      const request = requests.find((q) => q.name === t.name)!;
      assert.deepEqual(rest, { ...request, lockedUntil: T0 + 1 + 5_000, dequeueCount: 1 });
    }
    const leasedNames = leased.map((t) => t.name);
    const others = await lockActivities(p, T0 + 1);
    assert.deepEqual(
      others.map((t) => t.name).sort(),
      ["A", "B", "C", "D"].filter((n) => !leasedNames.includes(n)),
      "the tasks not leased are free for anyone",
    );
    assert.deepEqual(await lockActivities(p, T0 + 1 + 4_999), [], "the leased tasks are held");
    // The committing worker completes one of them on its lease.
    assert.deepEqual(await p.completeActivityWorkItems([{ item: leased[0]!, event: taskCompleted(leased[0]!.taskScheduledId, T0 + 2) }], T0 + 2), [{ ok: true }]);
    const expired = await lockActivities(p, T0 + 1 + 5_000);
    assert.deepEqual(
      expired.map((t) => [t.name, t.dequeueCount]),
      [[leased[1]!.name, 2]],
    );
  });

  test("max 0 leases nothing; without functions any task may be leased", async (p) => {
    await create(p, "la", { executionId: "x1" });
    const r0 = await commitOk(p, commitFor(await lockOne(p, "la", T0), { activityTasks: tasks(["A"]), leaseActivities: { workerId: "me", leaseMs: LEASE, max: 0 } }), T0);
    assert.equal(r0.leasedActivities?.length ?? 0, 0);
    assert.deepEqual(
      (await lockActivities(p, T0)).map((t) => t.name),
      ["A"],
    );
    await p.sendMessages([toEvent("la", eventRaised("more", T0 + 1))], T0 + 1);
    const r = await commitOk(p, commitFor(await lockOne(p, "la", T0 + 1), { activityTasks: tasks(["X", "Y", "Z"]), leaseActivities: { workerId: "me", leaseMs: LEASE, max: 10 } }), T0 + 1);
    assert.deepEqual(
      (r.leasedActivities ?? []).map((t) => t.name).sort(),
      ["X", "Y", "Z"],
    );
    assert.deepEqual(await lockActivities(p, T0 + 1), []);
  });
}
