import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { Host } from "../../src/host/host.js";
import { eventually } from "../helpers/hosts.js";
import { assertError, DF_TIME, forEachHttpStore, mgmt, replayCheck, startOver, type StatusBody, waitForStatus } from "./helpers.js";

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("Fail", function* () {
    throw new Error("kaput");
  });
}

async function list(host: Host, query = "", token?: string): Promise<{ ids: string[]; body: StatusBody[]; token: string | null }> {
  const a = await mgmt(host, `/instances/${query}`, token === undefined ? {} : { headers: { "x-ms-continuation-token": token } });
  assert.equal(a.status, 200, `${query}: ${a.text}`);
  assert.match(a.headers.get("content-type") ?? "", /^application\/json/);
  const body = a.json as StatusBody[];
  assert.ok(Array.isArray(body));
  return { ids: body.map((s) => s.instanceId).sort(), body, token: a.headers.get("x-ms-continuation-token") };
}

/** The creation time in ms, as stored (status objects, like the wire, have second precision). */
async function createdAt(host: Host, id: string): Promise<number> {
  return (await host.provider.getInstance(id))!.createdAt;
}

/** Waits until the given instance's creation time is strictly in the past (ms), so the next one is later. */
async function afterCreation(host: Host, id: string): Promise<number> {
  const created = await createdAt(host, id);
  await eventually(async () => Date.now() > created + 1, 5_000, "the clock to move on");
  return created;
}

forEachHttpStore("HTTP list (GET instances/)", (start) => {
  it("filters by runtimeStatus (comma list and repeated), instanceIdPrefix, createdTimeFrom/To; showInput; never history", async () => {
    const host = await start(register);
    await startOver(host, "Echo", { i: 1 }, "done-1");
    await startOver(host, "Echo", { i: 2 }, "done-2");
    await startOver(host, "Fail", undefined, "failed-1");
    await startOver(host, "Wait", { w: 1 }, "run-1");
    await waitForStatus(host, "done-1", ["Completed"]);
    await waitForStatus(host, "done-2", ["Completed"]);
    await waitForStatus(host, "failed-1", ["Failed"]);
    await waitForStatus(host, "run-1", ["Running"]);

    const all = await list(host);
    assert.deepEqual(all.ids, ["done-1", "done-2", "failed-1", "run-1"]);
    assert.equal(all.token, null, "one page: no continuation token");
    for (const s of all.body) {
      // Durable Functions' fields, plus Perdure's execution ID (and failure details for a failed one).
      const perdure = s.runtimeStatus === "Failed" ? ["executionId", "failureDetails"] : ["executionId"];
      assert.deepEqual(Object.keys(s).sort(), ["createdTime", "customStatus", "input", "instanceId", "lastUpdatedTime", "name", "output", "runtimeStatus", ...perdure].sort());
      assert.match(s.createdTime, DF_TIME);
      assert.match(s.lastUpdatedTime, DF_TIME);
    }
    assert.deepEqual(all.body.find((s) => s.instanceId === "run-1")!.input, { w: 1 }, "showInput defaults to true");
    assert.equal((await list(host, "?showHistory=true")).body.every((s) => !("historyEvents" in s)), true, "a list never carries history");
    assert.ok((await list(host, "?showInput=false")).body.every((s) => s.input === null));

    assert.deepEqual((await list(host, "?runtimeStatus=Completed")).ids, ["done-1", "done-2"]);
    assert.deepEqual((await list(host, "?runtimeStatus=Completed,Running")).ids, ["done-1", "done-2", "run-1"]);
    assert.deepEqual((await list(host, "?runtimeStatus=Completed&runtimeStatus=Failed")).ids, ["done-1", "done-2", "failed-1"]);
    assert.deepEqual((await list(host, "?runtimeStatus=Failed,Running&runtimeStatus=Completed")).ids, ["done-1", "done-2", "failed-1", "run-1"]);
    assert.deepEqual((await list(host, "?runtimeStatus=Terminated")).ids, []);
    assertError(await mgmt(host, "/instances/?runtimeStatus=completed"), 400, "INVALID_QUERY_PARAMETER", "status names are case-sensitive");
    assertError(await mgmt(host, "/instances/?runtimeStatus=Completed,Sleeping"), 400, "INVALID_QUERY_PARAMETER");

    assert.deepEqual((await list(host, "?instanceIdPrefix=done-")).ids, ["done-1", "done-2"]);
    assert.deepEqual((await list(host, "?instanceIdPrefix=done-&runtimeStatus=Running")).ids, []);
    assert.deepEqual((await list(host, "?instanceIdPrefix=zzz")).ids, []);
    assert.deepEqual((await list(host, "?instanceIdPrefix=%25")).ids, [], "a LIKE wildcard is a literal");
    assert.deepEqual((await list(host, "?instanceIdPrefix=_")).ids, [], "a LIKE wildcard is a literal");

    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.deepEqual((await list(host, `?createdTimeFrom=${future}`)).ids, []);
    assert.deepEqual((await list(host, "?createdTimeTo=2000-01-01T00:00:00Z")).ids, []);
    assert.deepEqual((await list(host, `?createdTimeFrom=2000-01-01T00:00:00Z&createdTimeTo=${future}`)).ids, all.ids);
    assert.deepEqual((await list(host, "?createdTimeFrom=2000-01-01")).ids, all.ids, "a date without time");
    await replayCheck(host);
  });

  it("createdTimeFrom/To are inclusive bounds at millisecond precision", async () => {
    const host = await start(register);
    await startOver(host, "Echo", 1, "t-a");
    const a = await afterCreation(host, "t-a");
    await startOver(host, "Echo", 2, "t-b");
    const b = await afterCreation(host, "t-b");
    await startOver(host, "Echo", 3, "t-c");
    const c = await createdAt(host, "t-c");
    const iso = (ms: number): string => new Date(ms).toISOString();
    assert.deepEqual((await list(host, `?createdTimeTo=${iso(a)}`)).ids, ["t-a"]);
    assert.deepEqual((await list(host, `?createdTimeFrom=${iso(b)}&createdTimeTo=${iso(b)}`)).ids, ["t-b"]);
    assert.deepEqual((await list(host, `?createdTimeFrom=${iso(b)}`)).ids, ["t-b", "t-c"]);
    assert.deepEqual((await list(host, `?createdTimeFrom=${iso(a + 1)}&createdTimeTo=${iso(c - 1)}`)).ids, ["t-b"]);
    // An offset instead of Z means the same instant.
    const plusOne = new Date(b + 3_600_000).toISOString().replace("Z", "+01:00");
    assert.deepEqual((await list(host, `?createdTimeFrom=${encodeURIComponent(plusOne)}&createdTimeTo=${iso(b)}`)).ids, ["t-b"]);
    for (const id of ["t-a", "t-b", "t-c"]) await waitForStatus(host, id, ["Completed"]);
    await replayCheck(host);
  });

  it("continuation-token paging: 25 instances with top=10 → 3 pages, every id exactly once, filters kept across pages", async () => {
    const host = await start(register);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await startOver(host, "Echo", i, `page-${String(i).padStart(2, "0")}`));
    await startOver(host, "Echo", "x", "other-1");
    for (const id of [...ids, "other-1"]) await waitForStatus(host, id, ["Completed"]);

    const seen: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const p = await list(host, "?top=10&instanceIdPrefix=page-&showInput=false", token);
      sizes.push(p.ids.length);
      seen.push(...p.body.map((s) => s.instanceId));
      assert.ok(p.body.every((s) => s.input === null), "showInput=false holds on every page");
      if (!p.token) break;
      token = p.token;
    }
    assert.deepEqual(sizes, [10, 10, 5]);
    assert.equal(new Set(seen).size, seen.length, "no id twice");
    assert.deepEqual([...seen].sort(), [...ids].sort(), "every id exactly once");

    // Without a prefix filter, all 26 across pages of 10; the token also works with another top.
    const first = await list(host, "?top=10");
    assert.equal(first.body.length, 10);
    assert.ok(first.token);
    const rest = await list(host, "?top=100", first.token);
    assert.equal(rest.body.length, 16);
    assert.equal(rest.token, null, "the last page has no continuation token");
    assert.equal(new Set([...first.ids, ...rest.ids]).size, 26);

    // top larger than the store: one page; an empty x-ms-continuation-token is the first page.
    const one = await list(host, "?top=1000", "");
    assert.equal(one.body.length, 26);
    assert.equal(one.token, null);
    await replayCheck(host);
  });

  it("400 for bad filters: dates, booleans, top, runtimeStatus, continuation tokens", async () => {
    const host = await start(register);
    for (const q of [
      "createdTimeFrom=yesterday",
      "createdTimeTo=2026-13-01",
      "createdTimeFrom=1700000000",
      "showInput=yes",
      "top=0",
      "top=-5",
      "top=ten",
      "top=1.5",
      "runtimeStatus=Bogus",
      "runtimeStatus=Running,Nope",
    ]) {
      assertError(await mgmt(host, `/instances/?${q}`), 400, "INVALID_QUERY_PARAMETER", q);
    }
    for (const token of ["garbage", "bnVsbA==", Buffer.from('{"a":1}').toString("base64url"), "%%%"]) {
      assertError(await mgmt(host, "/instances/", { headers: { "x-ms-continuation-token": token } }), 400, "INVALID_ARGUMENT", `token ${token}`);
    }
  });
});

forEachHttpStore("HTTP purge (DELETE instances/{id} and instances/)", (start) => {
  it("purge one: 200 {instancesDeleted:1} then 404; the instance and its history are gone", async () => {
    const host = await start(register);
    const id = await startOver(host, "Echo", "bye");
    await waitForStatus(host, id, ["Completed"]);
    await replayCheck(host);
    const a = await mgmt(host, `/instances/${id}`, { method: "DELETE" });
    assert.equal(a.status, 200, a.text);
    assert.match(a.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(a.json, { instancesDeleted: 1 });
    assertError(await mgmt(host, `/instances/${id}`), 404, "INSTANCE_NOT_FOUND");
    assertError(await mgmt(host, `/instances/${id}`, { method: "DELETE" }), 404, "INSTANCE_NOT_FOUND");
    assertError(await mgmt(host, "/instances/never-existed", { method: "DELETE" }), 404, "INSTANCE_NOT_FOUND");
    assert.deepEqual(await host.provider.getHistory(id), []);
    // Purging a running instance is allowed (no status check), as in Durable Functions.
    const running = await startOver(host, "Wait", undefined, "run-purge");
    await waitForStatus(host, running, ["Running"]);
    assert.deepEqual((await mgmt(host, "/instances/run-purge", { method: "DELETE" })).json, { instancesDeleted: 1 });
    assertError(await mgmt(host, "/instances/run-purge"), 404, "INSTANCE_NOT_FOUND");
  });

  it("purge by filter: 400 without createdTimeFrom, 200 with the count, 404 when nothing matches; running instances stay", async () => {
    const host = await start(register);
    const from = "2000-01-01T00:00:00Z";
    assertError(await mgmt(host, "/instances/", { method: "DELETE" }), 400, "INVALID_QUERY_PARAMETER");
    assertError(await mgmt(host, "/instances/?runtimeStatus=Completed", { method: "DELETE" }), 400, "INVALID_QUERY_PARAMETER");
    assertError(await mgmt(host, "/instances/?createdTimeFrom=soon", { method: "DELETE" }), 400, "INVALID_QUERY_PARAMETER");
    assertError(await mgmt(host, `/instances/?createdTimeFrom=${from}&runtimeStatus=Gone`, { method: "DELETE" }), 400, "INVALID_QUERY_PARAMETER");
    const none = await mgmt(host, `/instances/?createdTimeFrom=${from}`, { method: "DELETE" });
    assertError(none, 404, "INSTANCE_NOT_FOUND");
    assert.equal((none.json as { instancesDeleted: number }).instancesDeleted, 0);

    for (let i = 0; i < 3; i++) await startOver(host, "Echo", i, `c-${i}`);
    await startOver(host, "Fail", undefined, "f-1");
    await startOver(host, "Wait", undefined, "r-1");
    for (let i = 0; i < 3; i++) await waitForStatus(host, `c-${i}`, ["Completed"]);
    await waitForStatus(host, "f-1", ["Failed"]);
    await waitForStatus(host, "r-1", ["Running"]);
    await replayCheck(host);

    // A window in the future or the past matches nothing.
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal((await mgmt(host, `/instances/?createdTimeFrom=${future}`, { method: "DELETE" })).status, 404);
    assert.equal((await mgmt(host, `/instances/?createdTimeFrom=${from}&createdTimeTo=2000-01-02T00:00:00Z`, { method: "DELETE" })).status, 404);

    const completed = await mgmt(host, `/instances/?createdTimeFrom=${from}&runtimeStatus=Completed`, { method: "DELETE" });
    assert.equal(completed.status, 200, completed.text);
    assert.deepEqual(completed.json, { instancesDeleted: 3 });
    assert.deepEqual((await list(host)).ids, ["f-1", "r-1"]);

    // Without a status filter: every finished instance in the window; the running one stays.
    const rest = await mgmt(host, `/instances/?createdTimeFrom=${from}&createdTimeTo=${future}`, { method: "DELETE" });
    assert.deepEqual(rest.json, { instancesDeleted: 1 });
    assert.deepEqual((await list(host)).ids, ["r-1"]);
    assert.equal((await mgmt(host, `/instances/?createdTimeFrom=${from}`, { method: "DELETE" })).status, 404);
    assert.equal(((await mgmt(host, "/instances/r-1")).json as StatusBody).runtimeStatus, "Running");
    await replayCheck(host);
  });
});
