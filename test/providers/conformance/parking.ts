import assert from "node:assert/strict";
import type { ParkInfo, StrandedWorkRequest } from "../../../src/providers/provider.js";
import {
  type Define,
  LEASE,
  T0,
  allInstances,
  assertLockLost,
  bodies,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  optimisticFor,
  scheduleActivities,
  signal,
  terminated,
  toEvent,
} from "../fixtures.js";

const park = (code: string, at: number, attempts = 1, retryAt?: number): ParkInfo => {
  const info: ParkInfo = { code, message: `parked: ${code} 'quoted' ünï`, since: at, attempts };
  if (retryAt !== undefined) info.retryAt = retryAt;
  return info;
};

export function abandonTests(test: Define): void {
  test("abandon releases the lease and makes the instance unlockable until now + retryAfterMs, messages in order", async (p) => {
    await create(p, "ab");
    await p.sendMessages([toEvent("ab", eventRaised("e1", T0)), toEvent("ab", eventRaised("e2", T0))], T0);
    const item = await lockOne(p, "ab", T0);
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 5_000 }, T0 + 10);
    assert.deepEqual(await lockAll(p, T0 + 10), []);
    assert.deepEqual(await lockAll(p, T0 + 5_009), []);
    assert.equal(await p.nextVisibleAt(T0 + 10), T0 + 5_010);
    const again = await lockOne(p, "ab", T0 + 5_010);
    assert.deepEqual(
      again.messages.map((m) => m.id),
      item.messages.map((m) => m.id),
    );
    assert.deepEqual(bodies(again.messages), bodies(item.messages));
    assert.notEqual(again.lockToken, item.lockToken);
    assert.equal(again.takeover, false);
    assertLockLost(await commitOne(p, commitFor(item), T0 + 5_011), "commit after abandon");
  });

  test("messages that arrive during the retry delay wait for it too, behind the earlier ones", async (p) => {
    await create(p, "ab2");
    const item = await lockOne(p, "ab2", T0);
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 60_000 }, T0 + 1);
    await p.sendMessages([toEvent("ab2", eventRaised("new", T0 + 2))], T0 + 2);
    assert.deepEqual(await lockAll(p, T0 + 2), []);
    assert.deepEqual(await lockAll(p, T0 + 60_000), []);
    const next = await lockOne(p, "ab2", T0 + 60_001);
    assert.deepEqual(
      next.messages.map((m) => m.message.event.type),
      ["ExecutionStarted", "EventRaised"],
    );
  });

  test("retryAfterMs 0 releases at once", async (p) => {
    await create(p, "ab0");
    await p.abandonOrchestrationWorkItem(await lockOne(p, "ab0", T0), { retryAfterMs: 0 }, T0 + 1);
    assert.deepEqual(ids(await lockAll(p, T0 + 1)), ["ab0"]);
  });

  test("abandon with a lost lease changes nothing", async (p) => {
    await create(p, "ab3");
    const stale = await lockOne(p, "ab3", T0);
    const holder = await lockOne(p, "ab3", T0 + LEASE);
    await p.abandonOrchestrationWorkItem(stale, { retryAfterMs: 60_000, park: park("STORAGE_ERROR", T0 + LEASE + 1) }, T0 + LEASE + 1);
    assert.deepEqual(await lockAll(p, T0 + LEASE + 2), [], "the holder keeps its lease");
    assert.equal(await p.nextVisibleAt(T0 + LEASE + 1), undefined, "no retry delay was set");
    assert.equal((await p.getInstance("ab3"))?.parked, undefined, "no park record was stored");
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
}

export function parkTests(test: Define): void {
  test("abandon with park stores the record: visible in getInstance, queryInstances and the next work item", async (p) => {
    await create(p, "pk");
    const first = park("NONDETERMINISM", T0, 1, T0 + 1_000);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "pk", T0), { retryAfterMs: 1_000, park: first }, T0);
    assert.deepEqual((await p.getInstance("pk"))?.parked, first);
    assert.deepEqual(
      (await allInstances(p)).map((r) => r.parked),
      [first],
    );
    const item = await lockOne(p, "pk", T0 + 1_000);
    assert.deepEqual(item.instance.parked, first);
    // A plain abandon keeps the record; a new park replaces it.
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, T0 + 1_000);
    assert.deepEqual((await p.getInstance("pk"))?.parked, first);
    const second = park("FUNCTION_NOT_FOUND", T0 + 1_001, 3);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "pk", T0 + 1_001), { retryAfterMs: 0, park: second }, T0 + 1_001);
    assert.deepEqual((await p.getInstance("pk"))?.parked, second);
  });

  test("the next successful commit clears the park record; a refused one does not", async (p) => {
    await create(p, "pk");
    const info = park("STORAGE_ERROR", T0);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "pk", T0), { retryAfterMs: 0, park: info }, T0);
    const stale = await lockOne(p, "pk", T0 + 1);
    const fresh = await lockOne(p, "pk", T0 + 1 + LEASE);
    assertLockLost(await commitOne(p, commitFor(stale), T0 + 2 + LEASE));
    assert.deepEqual((await p.getInstance("pk"))?.parked, info);
    await commitOk(p, commitFor(fresh), T0 + 3 + LEASE);
    const rec = await p.getInstance("pk");
    assert.ok(rec);
    assert.equal("parked" in rec, false, "cleared: absent, not undefined-valued");
  });

  test("an optimistic commit clears the park record too", async (p) => {
    await create(p, "pk");
    await commitOk(p, commitFor(await lockOne(p, "pk", T0)), T0);
    assert.ok(await p.markParked("pk", park("POISON_MESSAGE", T0 + 1), T0 + 1));
    await commitOk(p, optimisticFor((await p.getInstance("pk"))!), T0 + 2);
    assert.equal((await p.getInstance("pk"))?.parked, undefined);
  });

  test("wake on a message ends a retry delay; without it the message waits", async (p) => {
    await create(p, "wk");
    await create(p, "wk2");
    await p.abandonOrchestrationWorkItem(await lockOne(p, "wk", T0), { retryAfterMs: 60_000 }, T0);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "wk2", T0), { retryAfterMs: 60_000 }, T0);
    await p.sendMessages([toEvent("wk", eventRaised("plain", T0 + 1))], T0 + 1);
    assert.deepEqual(await lockAll(p, T0 + 1), []);
    await p.sendMessages([toEvent("wk", terminated(T0 + 2, '"stop"'), { wake: true })], T0 + 2);
    const item = await lockOne(p, "wk", T0 + 2);
    assert.deepEqual(
      item.messages.map((m) => m.message.event.type),
      ["ExecutionStarted", "EventRaised", "ExecutionTerminated"],
    );
    // A step's message can wake another instance as well.
    await commitOk(p, commitFor(item, { status: "Terminated", messages: [toEvent("wk2", eventRaised("rewind", T0 + 3), { wake: true })] }), T0 + 3);
    assert.deepEqual(ids(await lockAll(p, T0 + 3)), ["wk2"]);
  });

  test("wake does not break a live lease", async (p) => {
    await create(p, "wl");
    const held = await lockOne(p, "wl", T0);
    await p.sendMessages([toEvent("wl", terminated(T0 + 1), { wake: true })], T0 + 1);
    assert.deepEqual(await lockAll(p, T0 + 1), []);
    await commitOk(p, commitFor(held), T0 + 2);
    const next = await lockOne(p, "wl", T0 + 2);
    assert.deepEqual(
      next.messages.map((m) => m.message.event.type),
      ["ExecutionTerminated"],
    );
  });

  test("a wake that arrives under a lease is kept: the release that follows skips its retry delay", async (p) => {
    await create(p, "wp1");
    await create(p, "wp2");
    const first = await lockOne(p, "wp1", T0);
    const second = await lockOne(p, "wp2", T0);
    // A terminate (waking) arrives for wp1 while its step runs; wp2 gets a plain event.
    await p.sendMessages([toEvent("wp1", terminated(T0 + 1), { wake: true }), toEvent("wp2", eventRaised("plain", T0 + 1))], T0 + 1);
    await p.abandonOrchestrationWorkItem(first, { retryAfterMs: 60_000, park: park("NONDETERMINISM", T0 + 2) }, T0 + 2);
    await p.abandonOrchestrationWorkItem(second, { retryAfterMs: 60_000, park: park("NONDETERMINISM", T0 + 2) }, T0 + 2);
    const woken = await lockAll(p, T0 + 3);
    assert.deepEqual(ids(woken), ["wp1"], "the woken instance is taken at once, the other waits for its delay");
    await commitOk(p, commitFor(woken[0]!, { status: "Terminated" }), T0 + 4);
    assert.deepEqual(ids(await lockAll(p, T0 + 2 + 60_000)), ["wp2"]);
  });

  test("markParked stores the record on an unleased instance and changes nothing else", async (p) => {
    await create(p, "mp");
    const info = park("FUNCTION_NOT_FOUND", T0);
    const before = await p.getInstance("mp");
    assert.equal(await p.markParked("mp", info, T0), true);
    assert.deepEqual(await p.getInstance("mp"), { ...before, parked: info });
    const item = await lockOne(p, "mp", T0);
    assert.deepEqual(item.instance.parked, info, "still lockable at once, and the work item shows the record");
    assert.equal(item.dequeueCount, 1);
    await commitOk(p, commitFor(item), T0 + 1);
    assert.equal((await p.getInstance("mp"))?.parked, undefined);
  });

  test("markParked writes only a first record on a free instance: refused under a live lease, during a retry delay, over another record", async (p) => {
    await create(p, "mp");
    const held = await lockOne(p, "mp", T0, { leaseMs: 1_000 });
    assert.equal(await p.markParked("mp", park("FUNCTION_NOT_FOUND", T0 + 1), T0 + 1), false);
    assert.equal(await p.markParked("mp", park("FUNCTION_NOT_FOUND", T0 + 999), T0 + 999), false);
    assert.equal((await p.getInstance("mp"))?.parked, undefined);
    const late = park("FUNCTION_NOT_FOUND", T0 + 1_000);
    assert.equal(await p.markParked("mp", late, T0 + 1_000), true, "the lease expired: nobody holds it");
    assert.deepEqual((await p.getInstance("mp"))?.parked, late);
    assert.equal(await p.markParked("mp", park("OTHER", T0 + 1_000), T0 + 1_000), false, "a record is never overwritten");
    assert.deepEqual((await p.getInstance("mp"))?.parked, late);

    // A worker's own park (with a retry delay) is not replaced by a stranded-work mark either.
    await create(p, "wp");
    const item = await lockOne(p, "wp", T0);
    const own = { ...park("POISON_MESSAGE", T0 + 1), attempts: 12, retryAt: T0 + 60_000 };
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 60_000, park: own }, T0 + 1);
    assert.equal(await p.markParked("wp", park("FUNCTION_NOT_FOUND", T0 + 2), T0 + 2), false);
    assert.deepEqual((await p.getInstance("wp"))?.parked, own);
    assert.deepEqual(await lockAll(p, T0 + 2), [], "the retry delay still holds");
    void held;
    assert.equal(await p.markParked("nobody", own, T0), false);
    assert.equal(await p.getInstance("nobody"), undefined);
  });
}

export function strandedWorkTests(test: Define): void {
  const functions: StrandedWorkRequest["functions"] = { orchestrations: ["known"], entities: ["counter"], activities: ["knownact"] };

  test("findStrandedWork lists instances and tasks waiting for a function none of the given names has", async (p) => {
    await create(p, "k1", { name: "Known" });
    await create(p, "u1", { name: "Unknown" });
    await create(p, "u2", { name: "Unknown", now: T0 + 100 });
    await create(p, "u3", { name: "Unknown", visibleAt: T0 + 100 });
    await p.sendMessages([signal("@counter@1", "x", T0), signal("@ghost@1", "x", T0)], T0);
    await create(p, "host", { name: "Known" });
    await scheduleActivities(p, "host", ["KnownAct", "MissingAct", "LeasedAct"]);
    const [leased, ...more] = await lockActivities(p, T0, { functions: ["leasedact"] });
    assert.ok(leased);
    assert.equal(more.length, 0);

    const work = await p.findStrandedWork({ functions, now: T0 + 50, visibleBefore: T0 + 50, limit: 100 });
    assert.deepEqual(
      [...work.instances].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1)),
      [
        { instanceId: "@ghost@1", kind: "entity", name: "ghost" },
        { instanceId: "u1", kind: "orchestration", name: "Unknown" },
      ],
      "u2 and u3 have not waited long enough; Known and counter have a host",
    );
    assert.deepEqual(work.activities, [{ instanceId: "host", name: "MissingAct" }], "a leased task is being worked on");

    const later = await p.findStrandedWork({ functions, now: T0 + 200, visibleBefore: T0 + 200, limit: 100 });
    assert.deepEqual(later.instances.map((i) => i.instanceId).sort(), ["@ghost@1", "u1", "u2", "u3"]);
    const afterLease = await p.findStrandedWork({ functions, now: T0 + LEASE, visibleBefore: T0 + 200, limit: 100 });
    assert.deepEqual(afterLease.activities.map((a) => a.name).sort(), ["LeasedAct", "MissingAct"], "an expired lease leaves its task stranded again");

    const limited = await p.findStrandedWork({ functions, now: T0 + 200, visibleBefore: T0 + 200, limit: 2 });
    assert.equal(limited.instances.length, 2);
    assert.ok(limited.activities.length <= 2);
    const everything = await p.findStrandedWork({ functions: { orchestrations: ["unknown", "known"], entities: ["counter", "ghost"], activities: ["knownact", "missingact", "leasedact"] }, now: T0 + 200, visibleBefore: T0 + 200, limit: 100 });
    assert.deepEqual(everything, { instances: [], activities: [] }, "names compare case-insensitively");

    // Read-only: the work is still there for a host that has the functions.
    assert.deepEqual(ids(await lockAll(p, T0 + 200, { functions: { orchestrations: ["unknown"], entities: ["ghost"] } })).sort(), ["@ghost@1", "u1", "u2", "u3"]);
  });
}
