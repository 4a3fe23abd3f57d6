import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../../src/core/errors.js";
import type { HistoryEvent } from "../../../src/core/history.js";
import type { OrchestrationRuntimeStatus } from "../../../src/core/status.js";
import type { InstanceQuery, InstanceRecord } from "../../../src/providers/provider.js";
import {
  type Define,
  RICH_FAILURE,
  T0,
  allInstances,
  byCreatedThenId,
  commitFor,
  commitOk,
  create,
  entityRecord,
  eventRaised,
  firstStepHistory,
  hasCode,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  orchestratorStarted,
  runTo,
  scheduleActivities,
  signal,
  startChild,
  startedEvent,
  taskScheduled,
  timerFired,
  toEvent,
} from "../fixtures.js";

export function instanceReadTests(test: Define): void {
  test("unknown instances: empty history, undefined record", async (p) => {
    assert.deepEqual(await p.getHistory("nope"), []);
    assert.deepEqual(await p.getHistory("nope", { fromSeq: 2, limit: 3 }), []);
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
    rec.failureDetails!.errorMessage = "changed";
    const hist = await p.getHistory("copy");
    hist.pop();
    (hist[1] as { name?: string }).name = "changed";
    assert.equal((await p.getInstance("copy"))?.runtimeStatus, "Running");
    assert.deepEqual((await p.getInstance("copy"))?.failureDetails, RICH_FAILURE);
    assert.deepEqual(await p.getHistory("copy"), firstStepHistory(req.startedEvent, T0));
  });

  test("getHistory pages with fromSeq (0-based) and limit", async (p) => {
    const req = await create(p, "pg");
    const history: HistoryEvent[] = firstStepHistory(
      req.startedEvent,
      T0,
      Array.from({ length: 7 }, (_, i) => taskScheduled(i, `t${i}`, T0)),
    );
    await commitOk(p, commitFor(await lockOne(p, "pg", T0), { newHistory: history }), T0);
    assert.equal(history.length, 10);
    assert.deepEqual(await p.getHistory("pg", {}), history);
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 0 }), history);
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 4 }), history.slice(4));
    assert.deepEqual(await p.getHistory("pg", { limit: 3 }), history.slice(0, 3));
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 3, limit: 4 }), history.slice(3, 7));
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 8, limit: 5 }), history.slice(8));
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 10 }), []);
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 2, limit: 0 }), []);
    // The pages walk the whole history.
    const pages: HistoryEvent[] = [];
    for (let from = 0; ; from += 3) {
      const page = await p.getHistory("pg", { fromSeq: from, limit: 3 });
      pages.push(...page);
      if (page.length < 3) break;
    }
    assert.deepEqual(pages, history);
    // After a replacement, positions count from the new history's start.
    await p.sendMessages([toEvent("pg", eventRaised("x", T0 + 1))], T0 + 1);
    const rewritten = [orchestratorStarted(T0 + 1), req.startedEvent];
    await commitOk(p, commitFor(await lockOne(p, "pg", T0 + 1), { replaceHistory: true, newHistory: rewritten }), T0 + 1);
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 1 }), [req.startedEvent]);
    assert.deepEqual(await p.getHistory("pg", { fromSeq: 2 }), []);
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
    assert.deepEqual(ids((await p.queryInstances({ name: "' OR 1=1 ---NAME" })).instances), ["' OR 1=1 --"]);
    assert.deepEqual(ids((await p.queryInstances({ name: "%" })).instances), []);
    assert.equal((await allInstances(p)).length, hostile.length);
    const locked = await lockAll(p, T0 + 100);
    assert.deepEqual(ids(locked).sort(), [...hostile].sort());
    await p.completeOrchestrationWorkItems(
      locked.map((i) => commitFor(i, { status: "Completed" })),
      T0 + 100,
    );
    assert.equal(await p.purgeInstance("' OR 1=1 --"), 1);
    assert.equal(await p.purgeInstance("%"), 1);
    assert.deepEqual(ids(await allInstances(p)).sort(), hostile.filter((h) => h !== "' OR 1=1 --" && h !== "%").sort());
  });
}

export function queryInstancesTests(test: Define): void {
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
    assert.deepEqual(ids((await p.queryInstances({ runtimeStatus: ["Pending", "Failed", "Suspended"] })).instances), sorted(made.filter((m) => ["Pending", "Failed", "Suspended"].includes(m.status))));
    assert.deepEqual(await p.queryInstances({ runtimeStatus: [] }), { instances: [] });

    assert.deepEqual(ids((await p.queryInstances({ createdFrom: T0 + 30, createdTo: T0 + 70 })).instances), sorted(made.filter((m) => m.createdAt >= T0 + 30 && m.createdAt <= T0 + 70)));
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

  test("kind filters on the stored kind, not on the ID, with the other filters and paging", async (p) => {
    await runTo(p, "o1", "Running", { now: T0 });
    await runTo(p, "o2", "Completed", { now: T0 + 1 });
    for (const [i, id] of ["@counter@a", "@counter@b", "@account@a"].entries()) await p.sendMessages([signal(id, "x", T0 + 2 + i)], T0 + 2 + i);
    // An orchestration whose ID looks like an entity's, created after the entities.
    await create(p, "@counter@c", { now: T0 + 10 });
    assert.deepEqual(ids(await allInstances(p)), ["o1", "o2", "@counter@a", "@counter@b", "@account@a", "@counter@c"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "entity" })), ["@counter@a", "@counter@b", "@account@a"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "orchestration" })), ["o1", "o2", "@counter@c"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "entity", instanceIdPrefix: "@counter@" })), ["@counter@a", "@counter@b"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "orchestration", instanceIdPrefix: "@" })), ["@counter@c"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "orchestration", runtimeStatus: ["Running"] })), ["o1"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "entity", runtimeStatus: ["Running"] })), ["@counter@a", "@counter@b", "@account@a"]);
    assert.deepEqual(ids(await allInstances(p, { kind: "entity", runtimeStatus: ["Completed"] })), []);
    for (const r of await allInstances(p)) assert.equal(r.kind, r.instanceId.startsWith("@") && r.instanceId !== "@counter@c" ? "entity" : "orchestration", r.instanceId);

    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await p.queryInstances(token === undefined ? { kind: "entity", pageSize: 2 } : { kind: "entity", pageSize: 2, continuationToken: token });
      pages.push(ids(page.instances));
      token = page.continuationToken;
    } while (token !== undefined);
    assert.deepEqual(pages, [["@counter@a", "@counter@b"], ["@account@a"]]);
    const orchPage = await p.queryInstances({ kind: "orchestration", pageSize: 3 });
    assert.deepEqual(ids(orchPage.instances), ["o1", "o2", "@counter@c"]);
    assert.equal(orchPage.continuationToken, undefined, "no extra page when nothing of the kind follows");
  });

  test("name filters on the function name, case-insensitively, for orchestrations and entities", async (p) => {
    await create(p, "a1", { name: "Approval", now: T0 });
    await create(p, "a2", { name: "APPROVAL", now: T0 + 1 });
    await create(p, "b1", { name: "Billing", now: T0 + 2 });
    await create(p, "a3", { name: "Approvals", now: T0 + 3 });
    await p.sendMessages([signal("@approval@k", "x", T0 + 4), signal("@Counter@k", "x", T0 + 5)], T0 + 5);
    assert.deepEqual(ids(await allInstances(p, { name: "approval" })), ["a1", "a2", "@approval@k"]);
    assert.deepEqual(ids(await allInstances(p, { name: "aPPROVAL", kind: "orchestration" })), ["a1", "a2"]);
    assert.deepEqual(ids(await allInstances(p, { name: "Approval", kind: "entity" })), ["@approval@k"]);
    assert.deepEqual(ids(await allInstances(p, { name: "COUNTER" })), ["@Counter@k"], "entity names are stored lower-case");
    assert.deepEqual(ids(await allInstances(p, { name: "approv" })), [], "a name is not a prefix");
    assert.deepEqual(ids(await allInstances(p, { name: "billing", createdFrom: T0 + 3 })), []);
    assert.deepEqual(ids(await allInstances(p, { name: "approval", pageSize: 1 })), ["a1", "a2", "@approval@k"]);
    // A step that renames the instance moves it to the new name.
    await commitOk(p, commitFor(await lockOne(p, "b1", T0 + 6), { instance: { name: "Approval" } }), T0 + 6);
    assert.deepEqual(ids(await allInstances(p, { name: "APPROVAL" })), ["a1", "a2", "b1", "@approval@k"]);
    assert.deepEqual(ids(await allInstances(p, { name: "billing" })), []);
  });

  test("lastUpdatedFrom / lastUpdatedTo are inclusive bounds on lastUpdatedAt, for entities and orchestrations", async (p) => {
    // Orchestrations updated at T0+10 and T0+30; entities at T0+20 (a commit), T0+30 (a commit) and T0+40 (created by a message).
    await runTo(p, "o-10", "Completed", { now: T0 + 10 });
    await create(p, "o-30", { now: T0 });
    await commitOk(p, commitFor(await lockOne(p, "o-30", T0)), T0 + 30);
    for (const [id, at] of [
      ["@m@20", T0 + 20],
      ["@m@30", T0 + 30],
    ] as const) {
      await p.sendMessages([signal(id, "x", T0)], T0);
      await commitOk(p, commitFor(await lockOne(p, id, T0), { instance: { entityState: entityRecord(at) } }), at);
    }
    await p.sendMessages([signal("@m@40", "x", T0 + 40)], T0 + 40);
    const updated = async (q: InstanceQuery): Promise<string[]> => ids(await allInstances(p, q)).sort();

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
      const page = await p.queryInstances(token === undefined ? { pageSize: 60 } : { pageSize: 60, continuationToken: token });
      pages.push(page.instances);
      token = page.continuationToken;
    } while (token !== undefined);
    assert.deepEqual(
      pages.map((pg) => pg.length),
      [60, 60, 60, 60, 10],
    );
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
    assert.deepEqual(
      filtered,
      made.filter((r) => r.createdAt >= T0 + 2 && r.createdAt <= T0 + 4 && r.instanceId.startsWith("p-1")),
    );
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
    const bad = ["not a token", "%%%", Buffer.from("[1]").toString("base64url"), Buffer.from('{"createdAt":1,"instanceId":"x"}').toString("base64url"), Buffer.from('["1","x"]').toString("base64url")];
    for (const continuationToken of bad) {
      await assert.rejects(p.queryInstances({ continuationToken }), hasCode("INVALID_ARGUMENT", InvalidArgumentError), `token ${continuationToken}`);
    }
    for (const pageSize of [0, -1, 1.5]) {
      await assert.rejects(p.queryInstances({ pageSize }), hasCode("INVALID_ARGUMENT", InvalidArgumentError), `pageSize ${pageSize}`);
    }
  });
}

export function nextVisibleAtTests(test: Define): void {
  test("is the earliest message, task or retry time strictly after now", async (p) => {
    assert.equal(await p.nextVisibleAt(T0), undefined);
    await create(p, "n", { now: T0 });
    assert.equal(await p.nextVisibleAt(T0), undefined, "a message visible now is not in the future");
    await p.sendMessages([toEvent("n", timerFired(1, T0 + 3_000), { visibleAt: T0 + 3_000 }), toEvent("n", timerFired(2, T0 + 8_000), { visibleAt: T0 + 8_000 })], T0);
    assert.equal(await p.nextVisibleAt(T0), T0 + 3_000);
    await scheduleActivities(p, "n", ["a"]);
    const [task] = await lockActivities(p, T0);
    await p.abandonActivityWorkItem(task!, 1_000, T0);
    assert.equal(await p.nextVisibleAt(T0), T0 + 1_000, "an abandoned task counts");
    assert.equal(await p.nextVisibleAt(T0 + 1_000), T0 + 3_000);
    assert.equal(await p.nextVisibleAt(T0 + 2_999), T0 + 3_000);
    assert.equal(await p.nextVisibleAt(T0 + 3_000), T0 + 8_000);
    assert.equal(await p.nextVisibleAt(T0 + 8_000), undefined);

    // A retry delay counts: the instance's messages are due when it ends.
    await create(p, "r", { now: T0 + 9_000 });
    await p.abandonOrchestrationWorkItem(await lockOne(p, "r", T0 + 9_000), { retryAfterMs: 500 }, T0 + 9_000);
    assert.equal(await p.nextVisibleAt(T0 + 9_000), T0 + 9_500);
    assert.equal(await p.nextVisibleAt(T0 + 9_499), T0 + 9_500);
    assert.equal(await p.nextVisibleAt(T0 + 9_500), undefined);
  });
}

export function workCountsTests(test: Define): void {
  test("counts ready instances by kind, ready activity tasks and parked instances", async (p) => {
    assert.deepEqual(await p.workCounts(T0), { orchestrations: 0, entities: 0, activities: 0, parked: 0 });
    await create(p, "ready");
    await create(p, "leased");
    await create(p, "later", { visibleAt: T0 + 10_000 });
    await lockOne(p, "leased", T0);
    await p.sendMessages([signal("@counter@k", "add", T0, 1)], T0);
    await create(p, "work");
    await scheduleActivities(p, "work", ["a", "b"]);
    assert.equal((await lockActivities(p, T0, { max: 1 })).length, 1);
    await create(p, "stuck");
    const item = await lockOne(p, "stuck", T0);
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 60_000, park: { code: "STORAGE_ERROR", message: "parked", since: T0, attempts: 1 } }, T0);
    assert.deepEqual(await p.workCounts(T0 + 1), { orchestrations: 1, entities: 1, activities: 1, parked: 1 }, "ready: 'ready', the entity, one task; 'leased', 'later' and 'stuck' wait");
    assert.deepEqual(await p.workCounts(T0 + 10_000), { orchestrations: 2, entities: 1, activities: 1, parked: 1 }, "'later' is due");
  });
}

export function countInstancesTests(test: Define): void {
  test("version: stored from the ExecutionStarted of a start, a sub-orchestration and a replacing start; filters exactly", async (p) => {
    await create(p, "v1", { version: "1.0", now: T0 });
    await runTo(p, "v2", "Completed", { version: "2.0", now: T0 + 1 });
    await create(p, "none", { now: T0 + 2 });
    await create(p, "v1-long", { version: "1.0.0", now: T0 + 3 });
    await p.sendMessages([signal("@counter@k", "x", T0 + 4)], T0 + 4);
    // A child started by a step carries the version its ExecutionStarted names.
    const item = await lockOne(p, "v1", T0 + 5);
    const parent = { name: "Orch", instanceId: "v1", executionId: item.instance.executionId, taskScheduledId: 0 };
    await commitOk(p, commitFor(item, { instance: { name: "Renamed" }, messages: [startChild(startedEvent("child", "c1", { parent, version: "0.9", at: T0 + 5 }))] }), T0 + 5);
    assert.equal((await p.getInstance("v1"))?.version, "1.0", "a step keeps the version");
    assert.equal((await p.getInstance("v2"))?.version, "2.0", "a finished instance keeps it");
    assert.equal((await p.getInstance("child"))?.version, "0.9");
    assert.equal((await p.getInstance("none"))?.version, undefined);
    assert.equal((await p.getInstance("@counter@k"))?.version, undefined, "entities have none");
    assert.deepEqual(ids(await allInstances(p, { version: "1.0" })), ["v1"], "exact: 1.0 is not 1.0.0");
    assert.deepEqual(ids(await allInstances(p, { version: "0.9", kind: "orchestration" })), ["child"]);
    assert.deepEqual(ids(await allInstances(p, { version: "2.0", runtimeStatus: ["Completed"] })), ["v2"]);
    assert.deepEqual(ids(await allInstances(p, { version: "2.0", runtimeStatus: ["Running"] })), []);
    assert.deepEqual(await p.countInstances({ kind: "orchestration", version: "1.0.0" }), { Pending: 1 });
    // Starting a finished instance again replaces its version with the new start's (or none).
    await create(p, "v2", { version: "3.0", now: T0 + 6 });
    assert.equal((await p.getInstance("v2"))?.version, "3.0");
    assert.deepEqual(ids(await allInstances(p, { version: "2.0" })), []);
    await runTo(p, "v3", "Completed", { version: "3.0", now: T0 + 7 });
    await create(p, "v3", { now: T0 + 8 });
    assert.equal((await p.getInstance("v3"))?.version, undefined);
  });

  test("counts per runtime status with the filters of queryInstances, without paging", async (p) => {
    const statuses: OrchestrationRuntimeStatus[] = ["Pending", "Running", "Completed", "Failed", "Terminated", "Running", "Completed", "Completed"];
    const made: { id: string; status: OrchestrationRuntimeStatus; createdAt: number; name: string }[] = [];
    for (let i = 0; i < 150; i++) {
      const status = statuses[i % statuses.length]!;
      const id = `${i % 2 === 0 ? "even" : "odd"}-${String(i).padStart(3, "0")}`;
      const name = i % 3 === 0 ? "Fizz" : "other";
      await runTo(p, id, status, { now: T0 + i, name });
      made.push({ id, status, createdAt: T0 + i, name });
    }
    await p.sendMessages([signal("@counter@k", "add", T0, 1)], T0);
    const expect = (xs: typeof made): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const m of xs) c[m.status] = (c[m.status] ?? 0) + 1;
      return c;
    };
    assert.deepEqual(await p.countInstances({ kind: "orchestration" }), expect(made), "more than a page of instances, all counted");
    assert.deepEqual(await p.countInstances({ kind: "orchestration", instanceIdPrefix: "even-" }), expect(made.filter((m) => m.id.startsWith("even-"))));
    assert.deepEqual(await p.countInstances({ kind: "orchestration", name: "fizz" }), expect(made.filter((m) => m.name === "Fizz")), "names match case-insensitively");
    assert.deepEqual(await p.countInstances({ kind: "orchestration", createdFrom: T0 + 100, createdTo: T0 + 119 }), expect(made.filter((m) => m.createdAt >= T0 + 100 && m.createdAt <= T0 + 119)));
    assert.deepEqual(await p.countInstances({ kind: "orchestration", runtimeStatus: ["Failed", "Pending"] }), expect(made.filter((m) => m.status === "Failed" || m.status === "Pending")));
    assert.deepEqual(await p.countInstances({ runtimeStatus: [] }), {});
    assert.deepEqual(await p.countInstances({ kind: "entity" }), { Running: 1 });
    assert.deepEqual(await p.countInstances({ kind: "orchestration", instanceIdPrefix: "none-" }), {});
  });
}
