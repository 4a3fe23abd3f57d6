import assert from "node:assert/strict";
import { it } from "node:test";
import { RemoteDurableClient } from "../../src/client/remote-client.js";
import type { Host } from "../../src/host/host.js";
import { eventually, forEachStore } from "../helpers/hosts.js";
import { clientEntityTests, registerClientEntities } from "./client-cases.js";
import { eid, stateEventually } from "./helpers.js";

const KEY = "entity-key";
const BASE = "/runtime/webhooks/durabletask";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(host: Host, method: string, path: string, init: { body?: string; headers?: Record<string, string>; key?: string | false } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== false) headers["x-functions-key"] = init.key ?? KEY;
  const res = await fetch(`${host.url}${BASE}/${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

forEachStore("entity client (remote, over HTTP)", (startHost) => {
  clientEntityTests(async () => {
    const host = await startHost(registerClientEntities, { port: 0, key: KEY });
    const remote = new RemoteDurableClient(host.url!, { key: KEY });
    return { client: remote, local: remote };
  });
});

forEachStore("entity HTTP routes", (startHost) => {
  const start = (): Promise<Host> => startHost(registerClientEntities, { port: 0, key: KEY });

  it("GET entities/{name}/{key}: 200 with the state, 404 when it does not exist; the key is required", async () => {
    const host = await start();
    await host.client.signalEntity(eid("counter", "Get-Me"), "add", 4);
    await stateEventually(host.client, eid("counter", "Get-Me"), (_v, exists) => exists);
    const ok = await call(host, "GET", "entities/COUNTER/Get-Me");
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(ok.json, { n: 4 });
    assert.equal((await call(host, "GET", "entities/counter/get-me")).status, 404, "keys are case-sensitive");
    assert.equal((await call(host, "GET", "entities/counter/nobody")).status, 404);
    assert.equal((await call(host, "GET", "entities/unregistered/nobody")).status, 404);
    assert.equal((await call(host, "GET", "entities/counter/Get-Me", { key: false })).status, 401, "the key is required");
    assert.equal((await call(host, "GET", `entities/counter/${encodeURIComponent("a#b")}`)).status, 400, "an invalid key is refused");
    assert.equal((await call(host, "GET", `entities/${encodeURIComponent("bad name")}/k`)).status, 400, "an invalid name is refused");
  });

  it("POST entities/{name}/{key}?op=: 202; JSON or text bodies; 400 for bad JSON, unknown entity functions or a missing op", async () => {
    const host = await start();
    const json = await call(host, "POST", "entities/Counter/p?op=add", { body: "5", headers: { "content-type": "application/json" } });
    assert.equal(json.status, 202);
    assert.equal(json.text, "");
    await stateEventually<{ n: number }>(host.client, eid("counter", "p"), (v) => v?.n === 5);
    const noBody = await call(host, "POST", "entities/counter/p?op=add");
    assert.equal(noBody.status, 202);
    await stateEventually<{ n: number }>(host.client, eid("counter", "p"), (v) => v?.n === 6, 10_000, "an empty body means no input (add 1)");

    const text = await call(host, "POST", "entities/other/t?op=set", { body: "plain text ✓", headers: { "content-type": "text/plain" } });
    assert.equal(text.status, 202);
    assert.equal(await stateEventually<string>(host.client, eid("other", "t"), (v) => v !== undefined), "plain text ✓", "a non-JSON body is passed as a string");
    const obj = await call(host, "POST", "entities/other/j?op=set", { body: JSON.stringify("json string"), headers: { "content-type": "application/json; charset=utf-8" } });
    assert.equal(obj.status, 202);
    assert.equal(await stateEventually<string>(host.client, eid("other", "j"), (v) => v !== undefined), "json string");

    const badJson = await call(host, "POST", "entities/counter/p?op=add", { body: "{nope", headers: { "content-type": "application/json" } });
    assert.equal(badJson.status, 400);
    assert.match(badJson.text, /Could not parse JSON content/);
    const unknown = await call(host, "POST", "entities/nosuch/k?op=add", { body: "1", headers: { "content-type": "application/json" } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /nosuch/);
    const noOp = await call(host, "POST", "entities/counter/p", { body: "1", headers: { "content-type": "application/json" } });
    assert.equal(noOp.status, 400);
    assert.match(noOp.text, /op/);
    assert.equal((await call(host, "POST", "entities/counter/p?op=", { body: "1", headers: { "content-type": "application/json" } })).status, 400);
    assert.equal((await call(host, "POST", `entities/counter/${encodeURIComponent("x?y")}?op=add`)).status, 400, "an invalid key is refused");
    assert.equal((await call(host, "POST", "entities/counter/p?op=add", { key: false })).status, 401);
    // Nothing refused was applied.
    assert.deepEqual((await host.client.readEntityState(eid("counter", "p"))).entityState, { n: 6 });
    assert.deepEqual(await host.client.readEntityState(eid("nosuch", "k")), { entityExists: false });
  });

  it("POST with signalTime delivers later; DELETE signals the built-in delete (202)", async () => {
    const host = await start();
    const due = Date.now() + 400;
    const later = await call(host, "POST", `entities/counter/later?op=addLater&signalTime=${new Date(due).toISOString()}`, {
      body: JSON.stringify({ amount: 2, notBefore: due }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(later.status, 202);
    const s = await stateEventually<{ n: number; at: number }>(host.client, eid("counter", "later"), (v) => v?.n === 2);
    assert.ok(s!.at >= due);
    assert.equal((await call(host, "POST", "entities/counter/later?op=add&signalTime=tomorrow")).status, 400);

    const del = await call(host, "DELETE", "entities/counter/later");
    assert.equal(del.status, 202);
    await stateEventually(host.client, eid("counter", "later"), (_v, exists) => !exists, 10_000, "deleted");
    assert.equal((await call(host, "GET", "entities/counter/later")).status, 404);
    assert.equal((await call(host, "DELETE", "entities/nosuch/k")).status, 400, "DELETE of an unknown entity function");
  });

  it("GET entities[/{name}] lists with top, fetchState and x-ms-continuation-token paging", async () => {
    const host = await start();
    for (let i = 0; i < 12; i++) await host.client.signalEntity(eid("counter", `e${String(i).padStart(2, "0")}`), "add", i);
    await host.client.signalEntity(eid("other", "x"), "set", "X");
    await eventually(async () => (await host.client.listEntities({ pageSize: 100 })).entities.length === 13);

    const keys: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page: Answer = await call(host, "GET", "entities/counter?top=5&fetchState=true", token ? { headers: { "x-ms-continuation-token": token } } : {});
      assert.equal(page.status, 200);
      const rows = page.json as { entityId: { name: string; key: string }; lastOperationTime: string; state?: unknown }[];
      assert.ok(Array.isArray(rows) && rows.length <= 5);
      for (const r of rows) {
        assert.equal(r.entityId.name, "counter");
        assert.match(r.lastOperationTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        assert.deepEqual(r.state, { n: Number(r.entityId.key.slice(1)) });
        keys.push(r.entityId.key);
      }
      token = page.headers.get("x-ms-continuation-token");
      pages++;
      assert.ok(pages <= 5);
    } while (token);
    assert.ok(pages >= 3, `12 entities in pages of 5 (${pages} pages)`);
    assert.deepEqual(keys.sort(), Array.from({ length: 12 }, (_, i) => `e${String(i).padStart(2, "0")}`));

    const all = await call(host, "GET", "entities");
    assert.equal(all.status, 200);
    const rows = all.json as { entityId: { name: string; key: string }; state?: unknown }[];
    assert.equal(rows.length, 13);
    assert.ok(rows.every((r) => !("state" in r)), "no state without fetchState");
    const other = await call(host, "GET", "entities/OTHER?fetchState=TRUE");
    assert.deepEqual((other.json as { entityId: unknown; state: unknown }[]).map((r) => [r.entityId, r.state]), [[{ name: "other", key: "x" }, "X"]]);
    assert.equal((await call(host, "GET", "entities?top=0")).status, 400);
    assert.equal((await call(host, "GET", "entities?lastOperationTimeFrom=yesterday")).status, 400);
    assert.deepEqual((await call(host, "GET", `entities?lastOperationTimeFrom=${new Date(Date.now() + 3_600_000).toISOString()}`)).json, []);
  });

  it("POST entities cleans entity storage (200 with the counts)", async () => {
    const host = await start();
    const answer = await call(host, "POST", "entities");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 0 });
    assert.equal((await call(host, "POST", "entities", { key: false })).status, 401);
  });
});
