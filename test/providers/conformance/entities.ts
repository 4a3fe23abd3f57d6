import assert from "node:assert/strict";
import { InstanceNotFoundError } from "../../../src/core/errors.js";
import type { HistoryEvent } from "../../../src/core/history.js";
import type { InstanceRecord } from "../../../src/providers/provider.js";
import {
  type Define,
  FAR,
  T0,
  allInstances,
  assertLockLost,
  bodies,
  commitFor,
  commitOk,
  commitOne,
  create,
  entityOperation,
  entityRecord,
  eventRaised,
  hasCode,
  ids,
  lockAll,
  lockOne,
  newEntityRow,
  peekEvents,
  peekMessages,
  signal,
  stored,
  toEvent,
  toParent,
} from "../fixtures.js";

/** The operation names of the entity requests among `events`. */
const ops = (events: readonly HistoryEvent[]): string[] => events.map((e) => (e.type === "EntityOperationSignaled" ? e.operation : e.type));

// Entities are instances of kind "entity" whose ID is `@name@key`. They have no history and no
// ExecutionStarted: their first message (of kind "entity") creates them, and a commit with
// deleteIfIdle removes them again.
export function entityTests(test: Define): void {
  test("a client message to an unknown entity creates it: kind entity, Running, named after the entity, the message queued", async (p) => {
    await p.sendMessages([signal("@counter@k", "add", T0, 5)], T0);
    assert.deepEqual(await p.getInstance("@counter@k"), newEntityRow("@counter@k", "counter", T0));
    assert.deepEqual(await p.getHistory("@counter@k"), []);
    const item = await lockOne(p, "@counter@k", T0);
    assert.deepEqual(item.instance, newEntityRow("@counter@k", "counter", T0));
    assert.deepEqual(bodies(item.messages), [stored(entityOperation("@counter@k", "add", T0, 5))]);
    await commitOk(p, commitFor(item), T0 + 1);

    // Later messages go to the same row: created once, in arrival order.
    await p.sendMessages([signal("@counter@k", "add", T0 + 5, 1), signal("@counter@k", "sub", T0 + 5, 2)], T0 + 5);
    const rec = await p.getInstance("@counter@k");
    assert.equal(rec?.createdAt, T0);
    assert.equal(rec?.name, "counter");
    assert.deepEqual(ops(await peekEvents(p, "@counter@k", T0 + 5)), ["add", "sub"]);
  });

  test("two messages to one new entity in one batch create one row", async (p) => {
    await p.sendMessages([signal("@counter@k", "a", T0), signal("@counter@k", "b", T0)], T0);
    assert.deepEqual(ids(await allInstances(p)), ["@counter@k"]);
    assert.deepEqual(ops(await peekEvents(p, "@counter@k", T0)), ["a", "b"]);
  });

  test("the entity name is the part between the two '@', lower-cased; the key may contain '@'", async (p) => {
    await p.sendMessages([signal("@account@alice@example.com", "deposit", T0, 1), signal("@MixedCase@Key", "x", T0)], T0);
    assert.deepEqual(await p.getInstance("@account@alice@example.com"), newEntityRow("@account@alice@example.com", "account", T0));
    assert.deepEqual(await p.getInstance("@MixedCase@Key"), newEntityRow("@MixedCase@Key", "mixedcase", T0));
  });

  test("a scheduled message to an unknown entity creates the row now and becomes visible later", async (p) => {
    await p.sendMessages([signal("@timer@t", "ring", T0, undefined, { visibleAt: T0 + 5_000 })], T0);
    assert.deepEqual(await p.getInstance("@timer@t"), newEntityRow("@timer@t", "timer", T0));
    assert.equal(await p.nextVisibleAt(T0), T0 + 5_000);
    assert.deepEqual(await lockAll(p, T0 + 4_999), []);
    assert.deepEqual(ids(await lockAll(p, T0 + 5_000)), ["@timer@t"]);
  });

  test("a refused batch creates no entity either; IDs that are not entity IDs are unknown instances", async (p) => {
    await assert.rejects(p.sendMessages([signal("@counter@k", "add", T0, 1), toEvent("ghost", eventRaised("e", T0))], T0), hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError));
    assert.equal(await p.getInstance("@counter@k"), undefined);
    assert.equal(await p.getInstance("ghost"), undefined);
    assert.deepEqual(await lockAll(p, FAR), []);
    // No second '@', an empty name, a name or key the entity rules refuse: not an entity, and unknown.
    for (const id of ["@solo", "@@k", "@bad name@k", "@counter@a/b"]) {
      await assert.rejects(p.sendMessages([signal(id, "x", T0)], T0), hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError), id);
    }
    assert.deepEqual(await p.queryInstances({}), { instances: [] });
  });

  test("a message of kind entity to an existing orchestration is appended to it", async (p) => {
    await create(p, "@orch@looks-like-an-entity", { executionId: "e" });
    await p.sendMessages([signal("@orch@looks-like-an-entity", "x", T0)], T0);
    const rec = await p.getInstance("@orch@looks-like-an-entity");
    assert.equal(rec?.kind, "orchestration");
    assert.deepEqual(
      (await peekEvents(p, "@orch@looks-like-an-entity", T0)).map((e) => e.type),
      ["ExecutionStarted", "EntityOperationSignaled"],
    );
  });

  test("a step's message to an unknown entity creates it; kind event to an unknown entity, or entity to a non-entity ID, is dropped", async (p) => {
    await create(p, "o");
    const item = await lockOne(p, "o", T0);
    await commitOk(
      p,
      commitFor(item, {
        messages: [
          signal("@counter@new", "add", T0 + 3, 7),
          signal("@counter@later", "add", T0 + 3, 8, { visibleAt: T0 + 9_000 }),
          toEvent("@counter@by-event", eventRaised("e", T0 + 3)),
          signal("@bad name@k", "x", T0 + 3),
          toEvent("ghost", eventRaised("e", T0 + 3)),
        ],
      }),
      T0 + 3,
    );
    assert.deepEqual(await p.getInstance("@counter@new"), newEntityRow("@counter@new", "counter", T0 + 3));
    assert.deepEqual(await p.getInstance("@counter@later"), newEntityRow("@counter@later", "counter", T0 + 3));
    assert.equal(await p.getInstance("@counter@by-event"), undefined);
    assert.equal(await p.getInstance("ghost"), undefined);
    assert.deepEqual(ops(await peekEvents(p, "@counter@new", T0 + 3)), ["add"]);
    assert.deepEqual(await peekEvents(p, "@counter@later", T0 + 3), []);
    assert.equal(await p.nextVisibleAt(T0 + 3), T0 + 9_000);
    assert.deepEqual(ids(await allInstances(p)).sort(), ["@counter@later", "@counter@new", "o"]);
  });

  test("an entity's commit delivers to other entities (created on the way) and to orchestrations", async (p) => {
    await create(p, "caller");
    await commitOk(p, commitFor(await lockOne(p, "caller", T0)), T0);
    await p.sendMessages([signal("@a@1", "ping", T0 + 1)], T0 + 1);
    const item = await lockOne(p, "@a@1", T0 + 1);
    const answer = eventRaised("response-1", T0 + 2, '{"result":"1"}');
    await commitOk(
      p,
      commitFor(item, {
        instance: { entityState: entityRecord(1) },
        messages: [signal("@b@2", "pong", T0 + 2), toParent("caller", answer, { executionId: "caller-exec-1" })],
      }),
      T0 + 2,
    );
    assert.deepEqual(await p.getInstance("@b@2"), newEntityRow("@b@2", "b", T0 + 2));
    assert.deepEqual(bodies(await peekMessages(p, "caller", T0 + 2)), [stored(answer, { executionId: "caller-exec-1" })]);
  });

  test("entityState round-trips through commits, work items, getInstance and queryInstances; a commit without it clears it", async (p) => {
    await p.sendMessages([signal("@counter@k", "add", T0, 5)], T0);
    const first = await lockOne(p, "@counter@k", T0);
    assert.equal("entityState" in first.instance, false, "a new entity has no entityState");
    const rich = entityRecord({ n: 5, text: "quotes ' \" and ünïcödé 😀", nested: { list: [1, null, true] } });
    await commitOk(p, commitFor(first, { instance: { entityState: rich } }), T0 + 10);
    const expected: InstanceRecord = { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 10, entityState: rich };
    assert.deepEqual(await p.getInstance("@counter@k"), expected);
    assert.deepEqual((await p.queryInstances({ kind: "entity" })).instances, [expected]);

    await p.sendMessages([signal("@counter@k", "add", T0 + 20, 1)], T0 + 20);
    const second = await lockOne(p, "@counter@k", T0 + 20);
    assert.deepEqual(second.instance, expected, "the work item carries the stored entityState");
    const next = entityRecord({ n: 6 });
    await commitOk(p, commitFor(second, { instance: { entityState: next } }), T0 + 21);
    assert.equal((await p.getInstance("@counter@k"))?.entityState, next);

    await p.sendMessages([signal("@counter@k", "noop", T0 + 30)], T0 + 30);
    const third = await lockOne(p, "@counter@k", T0 + 30);
    await commitOk(p, { ...commitFor(third), instance: { runtimeStatus: "Running", executionId: "", name: "counter" } }, T0 + 31);
    assert.deepEqual(await p.getInstance("@counter@k"), { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 31 });
  });

  test("deleteIfIdle removes the row in the same commit when no message is left, and still delivers the commit's messages", async (p) => {
    await create(p, "caller");
    await commitOk(p, commitFor(await lockOne(p, "caller", T0)), T0);
    await p.sendMessages([signal("@counter@k", "get", T0 + 1)], T0 + 1);
    const item = await lockOne(p, "@counter@k", T0 + 1);
    await commitOk(p, commitFor(item, { deleteIfIdle: true, messages: [toParent("caller", eventRaised("response-1", T0 + 2, "{}"), { executionId: "caller-exec-1" })] }), T0 + 2);
    assert.equal(await p.getInstance("@counter@k"), undefined);
    assert.deepEqual(await p.getHistory("@counter@k"), []);
    assert.deepEqual(ids(await allInstances(p)), ["caller"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "entity" })), []);
    assert.deepEqual(await peekEvents(p, "caller", T0 + 2), [eventRaised("response-1", T0 + 2, "{}")]);
    assert.deepEqual(ids(await lockAll(p, FAR)), ["caller"], "nothing is left queued for the entity");

    // The next message creates it again from scratch.
    await p.sendMessages([signal("@counter@k", "add", T0 + 50, 1)], T0 + 50);
    assert.deepEqual(await p.getInstance("@counter@k"), newEntityRow("@counter@k", "counter", T0 + 50));
  });

  test("deleteIfIdle keeps the row (with the commit's update) when a message arrived during the step", async (p) => {
    await p.sendMessages([signal("@counter@k", "delete", T0)], T0);
    const item = await lockOne(p, "@counter@k", T0);
    await p.sendMessages([signal("@counter@k", "add", T0 + 1, 3)], T0 + 1);
    await commitOk(p, commitFor(item, { deleteIfIdle: true, instance: { entityState: entityRecord(null) } }), T0 + 2);
    assert.deepEqual(await p.getInstance("@counter@k"), { ...newEntityRow("@counter@k", "counter", T0), lastUpdatedAt: T0 + 2, entityState: entityRecord(null) });
    const next = await lockOne(p, "@counter@k", T0 + 2);
    assert.deepEqual(bodies(next.messages), [stored(entityOperation("@counter@k", "add", T0 + 1, 3))]);
  });

  test("deleteIfIdle keeps the row when the step leaves a message unconsumed, sends one to itself, or has a scheduled one pending", async (p) => {
    // Unconsumed.
    await p.sendMessages([signal("@e@unconsumed", "a", T0), signal("@e@unconsumed", "b", T0)], T0);
    const u = await lockOne(p, "@e@unconsumed", T0);
    await commitOk(p, commitFor(u, { deleteIfIdle: true, consumed: [u.messages[0]!.id] }), T0 + 1);
    assert.ok(await p.getInstance("@e@unconsumed"));
    assert.deepEqual(
      (await peekMessages(p, "@e@unconsumed", T0 + 1))?.map((m) => m.id),
      [u.messages[1]!.id],
    );

    // To itself (a signal an entity sends to itself, or a forwarded request).
    await p.sendMessages([signal("@e@self", "a", T0)], T0);
    const s = await lockOne(p, "@e@self", T0);
    await commitOk(p, commitFor(s, { deleteIfIdle: true, messages: [signal("@e@self", "again", T0 + 1)] }), T0 + 1);
    assert.ok(await p.getInstance("@e@self"));
    assert.deepEqual(ops(await peekEvents(p, "@e@self", T0 + 1)), ["again"]);

    // A scheduled signal still waiting: deleting the row would strand it.
    await p.sendMessages([signal("@e@scheduled", "now", T0), signal("@e@scheduled", "later", T0, undefined, { visibleAt: T0 + 60_000 })], T0);
    const sc = await lockOne(p, "@e@scheduled", T0);
    assert.equal(sc.messages.length, 1);
    await commitOk(p, commitFor(sc, { deleteIfIdle: true }), T0 + 1);
    assert.ok(await p.getInstance("@e@scheduled"), "kept while a scheduled message waits");
    assert.equal(await p.nextVisibleAt(T0 + 1), T0 + 60_000);
    const later = await lockOne(p, "@e@scheduled", T0 + 60_000);
    assert.deepEqual(ops(later.messages.map((m) => m.message.event)), ["later"]);
    await commitOk(p, commitFor(later, { deleteIfIdle: true }), T0 + 60_000);
    assert.equal(await p.getInstance("@e@scheduled"), undefined);
  });

  test("a deleteIfIdle commit with a lost lease is refused and deletes nothing", async (p) => {
    await p.sendMessages([signal("@counter@k", "get", T0)], T0);
    const stale = await lockOne(p, "@counter@k", T0, { leaseMs: 1_000 });
    const fresh = await lockOne(p, "@counter@k", T0 + 1_000);
    assertLockLost(await commitOne(p, commitFor(stale, { deleteIfIdle: true }), T0 + 1_001));
    assert.ok(await p.getInstance("@counter@k"));
    await commitOk(p, commitFor(fresh, { deleteIfIdle: true }), T0 + 1_002);
    assert.equal(await p.getInstance("@counter@k"), undefined);
  });
}
