import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { getClient, InstanceNotFoundError } from "../../src/index.js";
import { assertError, assertPayload, forEachHttpStore, hit, json, mgmt, raw, replayCheck, type StatusBody, waitForStatus } from "./helpers.js";

const KEY = "client-fn-key";

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("Fail", function* () {
    throw new Error("client-visible failure");
  });
  // The durable-functions HTTP starter, verbatim.
  app.client.http("HttpStart", {
    route: "orchestrators/{orchestratorName}",
    methods: ["POST"],
    handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.orchestratorName!, { input: await request.json() })),
  });
  app.client.http("SecureStart", {
    route: "secure/{orchestratorName}",
    methods: ["POST"],
    authLevel: "function",
    handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.orchestratorName!)),
  });
  app.client.http("Items", {
    route: "items/{category}/{id?}",
    methods: ["GET", "PUT"],
    handler: async (request) => ({
      status: request.method === "PUT" ? 201 : 200,
      jsonBody: { params: request.params, q: request.query.get("q"), method: request.method },
      headers: { "x-items": "yes" },
    }),
  });
  app.client.http("Shapes", {
    route: "shapes/{kind}",
    methods: ["GET"],
    handler: async (request, client, context) => {
      switch (request.params.kind) {
        case "text":
          return { body: "plain words", headers: { "content-type": "text/plain" } };
        case "status":
          return { status: 418 };
        case "nothing":
          return undefined;
        case "response":
          return new Response("<p>hi</p>", { status: 203, headers: { "content-type": "text/html", "x-raw": "1" } });
        case "throws":
          throw new Error("secret internal detail");
        case "not-found":
          return { jsonBody: await client.getStatus("no-such-instance") };
        case "durable-error":
          throw new InstanceNotFoundError("thrown-by-handler");
        case "get-client":
          return { jsonBody: { same: getClient(context) === client, name: context.functionName } };
        default:
          return { status: 400, jsonBody: { unknown: request.params.kind } };
      }
    },
  });
  app.client.http("WaitFor", {
    route: "wait/{orchestratorName}",
    methods: ["POST"],
    handler: async (request, client) => {
      const body = await request.text();
      const id = await client.startNew(request.params.orchestratorName!, body ? { input: JSON.parse(body) as unknown } : {});
      return client.waitForCompletionOrCreateCheckStatusResponse(request, id, {
        timeoutInMilliseconds: Number(request.query.get("timeout") ?? "10000"),
        retryIntervalInMilliseconds: Number(request.query.get("interval") ?? "20"),
      });
    },
  });
  app.client.http("Payload", {
    route: "payload/{id}",
    methods: ["GET"],
    handler: async (request, client) => ({
      jsonBody: request.query.get("fromRequest") ? client.createHttpManagementPayload(request.params.id!, request) : client.createHttpManagementPayload(request.params.id!),
    }),
  });
}

forEachHttpStore("HTTP client functions (app.client.http)", (start) => {
  it("the durable-functions starter: 202 payload under /api/<route>, route params, 405 wrong method, 404 unknown route, 400s", async () => {
    const host = await start(register);
    const a = await hit(host, "/api/orchestrators/Echo", json({ hello: "world" }));
    assert.equal(a.status, 202, a.text);
    assert.equal(a.headers.get("retry-after"), "10");
    const payload = a.json as Record<string, string>;
    assertPayload(payload, payload.id!, host.url!);
    assert.equal(a.headers.get("location"), payload.statusQueryGetUri);
    const done = await waitForStatus(host, payload.id!, ["Completed"]);
    assert.deepEqual(done.output, { hello: "world" });
    assert.equal(done.name, "Echo");

    // Literal route segments match case-insensitively; the param keeps its case.
    const mixed = await hit(host, "/api/Orchestrators/echo", json(5));
    assert.equal(mixed.status, 202, mixed.text);
    await waitForStatus(host, (mixed.json as { id: string }).id, ["Completed"]);

    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      assertError(await hit(host, "/api/orchestrators/Echo", { method }), 405, "METHOD_NOT_ALLOWED", method);
    }
    assertError(await hit(host, "/api/orchestrators"), 404, "NOT_FOUND");
    assertError(await hit(host, "/api/orchestrators/Echo/extra", json(1)), 404, "NOT_FOUND");
    assertError(await hit(host, "/api/nothing-here"), 404, "NOT_FOUND");
    assertError(await hit(host, "/api/orchestrators/NoSuch", json(1)), 400, "FUNCTION_NOT_FOUND");
    assertError(await hit(host, "/api/orchestrators/Echo", { method: "POST", body: "{not json" }), 400, "INVALID_JSON");
    assertError(await hit(host, "/api/orchestrators/Echo", { method: "POST" }), 400, "INVALID_JSON", "request.json() of an empty body");

    // Built from the request's origin.
    const viaHost = await raw(host, "POST", "/api/orchestrators/Echo", { host: "public.example:8443", "content-type": "application/json" }, "1");
    assert.equal(viaHost.status, 202, viaHost.text);
    const p2 = JSON.parse(viaHost.text) as Record<string, string>;
    assertPayload(p2, p2.id!, "http://public.example:8443");
    await waitForStatus(host, p2.id!, ["Completed"]);
    await replayCheck(host);
  });

  it("route params (optional ones too), query, and object returns ({status, jsonBody, headers}, body, Response, undefined)", async () => {
    const host = await start(register);
    const a = await hit(host, "/api/items/books/42?q=dune");
    assert.equal(a.status, 200);
    assert.equal(a.headers.get("x-items"), "yes");
    assert.match(a.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(a.json, { params: { category: "books", id: "42" }, q: "dune", method: "GET" });
    assert.deepEqual((await hit(host, "/api/items/books")).json, { params: { category: "books" }, q: null, method: "GET" });
    assert.deepEqual(((await hit(host, "/api/items/sci%20fi/a%2Fb")).json as { params: unknown }).params, { category: "sci fi", id: "a/b" });
    const put = await hit(host, "/api/items/books/7", { method: "PUT", body: "x" });
    assert.equal(put.status, 201);
    assertError(await hit(host, "/api/items/books/7", { method: "POST" }), 405, "METHOD_NOT_ALLOWED");
    assertError(await hit(host, "/api/items"), 404, "NOT_FOUND");

    const text = await hit(host, "/api/shapes/text");
    assert.equal(text.status, 200);
    assert.equal(text.headers.get("content-type"), "text/plain");
    assert.equal(text.text, "plain words");
    const teapot = await hit(host, "/api/shapes/status");
    assert.equal(teapot.status, 418);
    assert.equal(teapot.text, "");
    const nothing = await hit(host, "/api/shapes/nothing");
    assert.equal(nothing.status, 204);
    const response = await hit(host, "/api/shapes/response");
    assert.equal(response.status, 203);
    assert.equal(response.headers.get("x-raw"), "1");
    assert.equal(response.text, "<p>hi</p>");
    const other = await hit(host, "/api/shapes/other");
    assert.equal(other.status, 400);
    assert.deepEqual(other.json, { unknown: "other" });

    // Errors: a DurableError keeps its status; anything else is a 500 that says nothing more.
    assertError(await hit(host, "/api/shapes/not-found"), 404, "INSTANCE_NOT_FOUND");
    assertError(await hit(host, "/api/shapes/durable-error"), 404, "INSTANCE_NOT_FOUND");
    const thrown = await hit(host, "/api/shapes/throws");
    assertError(thrown, 500, "INTERNAL_ERROR");
    assert.ok(!thrown.text.includes("secret internal detail"), "no internals in the answer");
    assert.deepEqual((await hit(host, "/api/shapes/get-client")).json, { same: true, name: "Shapes" });
    assert.equal((await hit(host, "/healthz")).status, 200, "the host is fine after a throwing handler");
  });

  it('authLevel "function" needs the key (?code= or x-functions-key); anonymous routes do not', async () => {
    const host = await start(register, { key: KEY });
    assertError(await hit(host, "/api/secure/Echo", { method: "POST" }), 401, "UNAUTHORIZED");
    assertError(await hit(host, "/api/secure/Echo?code=wrong", { method: "POST" }), 401, "UNAUTHORIZED");
    assertError(await hit(host, `/api/secure/Echo?code=${KEY}x`, { method: "POST" }), 401, "UNAUTHORIZED");
    assertError(await hit(host, "/api/secure/Echo", { method: "POST", headers: { "x-functions-key": KEY.slice(0, 5) } }), 401, "UNAUTHORIZED");
    const list = await mgmt(host, "/instances/", { headers: { "x-functions-key": KEY } });
    assert.deepEqual(list.json, [], "nothing started without the key");

    const byQuery = await hit(host, `/api/secure/Echo?code=${KEY}`, { method: "POST" });
    assert.equal(byQuery.status, 202, byQuery.text);
    const payload = byQuery.json as Record<string, string>;
    assertPayload(payload, payload.id!, host.url!, KEY);
    const byHeader = await hit(host, "/api/secure/Echo", { method: "POST", headers: { "x-functions-key": KEY } });
    assert.equal(byHeader.status, 202, byHeader.text);
    // An anonymous route needs no key, but the URLs it hands out carry it.
    const anon = await hit(host, "/api/orchestrators/Echo", json(1));
    assert.equal(anon.status, 202, anon.text);
    assertPayload(anon.json as Record<string, unknown>, (anon.json as { id: string }).id, host.url!, KEY);
    for (const id of [payload.id!, (byHeader.json as { id: string }).id, (anon.json as { id: string }).id]) {
      await waitForStatus(host, id, ["Completed"], `?code=${KEY}`);
    }
    await replayCheck(host);
  });

  it('authLevel "function" on a host without a key is open', async () => {
    const host = await start(register);
    const a = await hit(host, "/api/secure/Echo", { method: "POST" });
    assert.equal(a.status, 202, a.text);
    await waitForStatus(host, (a.json as { id: string }).id, ["Completed"]);
    await replayCheck(host);
  });

  it("waitForCompletionOrCreateCheckStatusResponse: 200 with the output when fast, 202 payload when slow, 500 with the status for a failure", async () => {
    const host = await start(register);
    const fast = await hit(host, "/api/wait/Echo", json({ quick: true }));
    assert.equal(fast.status, 200, fast.text);
    assert.deepEqual(fast.json, { quick: true });

    const slow = await hit(host, "/api/wait/Wait?timeout=150&interval=30", { method: "POST" });
    assert.equal(slow.status, 202, slow.text);
    assert.equal(slow.headers.get("retry-after"), "10");
    const payload = slow.json as Record<string, string>;
    assertPayload(payload, payload.id!, host.url!);
    assert.equal(slow.headers.get("location"), payload.statusQueryGetUri);
    assert.equal(((await mgmt(host, `/instances/${payload.id!}`)).json as StatusBody).runtimeStatus, "Running");

    const failed = await hit(host, "/api/wait/Fail", { method: "POST" });
    assert.equal(failed.status, 500, failed.text);
    const status = failed.json as StatusBody;
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.name, "Fail");
    assert.match(JSON.stringify(status.output), /client-visible failure/);

    // retry interval over the timeout is the caller's mistake: 400.
    assertError(await hit(host, "/api/wait/Echo?timeout=10&interval=50", { method: "POST" }), 400, "INVALID_ARGUMENT");

    await mgmt(host, `/instances/${payload.id!}/raiseEvent/go`, json("late"));
    assert.equal((await waitForStatus(host, payload.id!, ["Completed"])).output, "late");
    await waitForStatus(host, payload.id!, ["Completed"]);
    await replayCheck(host);
  });

  it("createHttpManagementPayload: the host's own origin by default, the request's when given; ids are URL-encoded", async () => {
    const host = await start(register, { key: KEY });
    const own = await hit(host, "/api/payload/abc");
    assert.equal(own.status, 200, own.text);
    assertPayload(own.json as Record<string, unknown>, "abc", host.url!, KEY);
    const encoded = await hit(host, "/api/payload/a%20b%3Ac");
    assertPayload(encoded.json as Record<string, unknown>, "a b:c", host.url!, KEY);
    const viaRequest = await raw(host, "GET", "/api/payload/abc?fromRequest=1", { host: "proxy.example" });
    assert.equal(viaRequest.status, 200, viaRequest.text);
    assertPayload(JSON.parse(viaRequest.text) as Record<string, unknown>, "abc", "http://proxy.example", KEY);
    // The key-carrying URLs work against the management API.
    const status = await fetch((own.json as { statusQueryGetUri: string }).statusQueryGetUri);
    assert.equal(status.status, 404, "authorized (the instance just does not exist)");
  });
});
