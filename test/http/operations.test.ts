import assert from "node:assert/strict";
import { hostname } from "node:os";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { Host } from "../../src/host/host.js";
import { eventually } from "../helpers/hosts.js";
import { assertError, assertPayload, BASE, forEachHttpStore, hit, json, mgmt, raw, replayCheck, startOver, type StatusBody, waitForStatus } from "./helpers.js";

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("Counter", function* (ctx) {
    // Waits for "tick" twice, then "go": proves events arrive while it is running or suspended.
    const a: unknown = yield ctx.df.waitForExternalEvent("tick");
    const b: unknown = yield ctx.df.waitForExternalEvent("tick");
    const c: unknown = yield ctx.df.waitForExternalEvent("go");
    return [a, b, c];
  });
}

const post = (host: Host, path: string, init: RequestInit = {}): ReturnType<typeof mgmt> => mgmt(host, path, { method: "POST", ...init });

async function runningWait(host: Host, id: string, name = "Wait"): Promise<void> {
  await startOver(host, name, { for: id }, id);
  await waitForStatus(host, id, ["Running"]);
}

async function completedEcho(host: Host, id: string): Promise<void> {
  await startOver(host, "Echo", { done: id }, id);
  await waitForStatus(host, id, ["Completed"]);
}

forEachHttpStore("HTTP raiseEvent (POST instances/{id}/raiseEvent/{event})", (start) => {
  it("202 and the orchestration receives the payload; 404 unknown; 410 finished; 400 content type and bad JSON", async () => {
    const host = await start(register);
    await runningWait(host, "ev-run");
    await completedEcho(host, "ev-done");

    assertError(await post(host, "/instances/nobody/raiseEvent/go", json(1)), 404, "INSTANCE_NOT_FOUND");
    const gone = await post(host, "/instances/ev-done/raiseEvent/go", json(1));
    assertError(gone, 410, "INSTANCE_GONE");
    for (const type of ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", ""]) {
      const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
      const a = await post(host, "/instances/ev-run/raiseEvent/go", { headers, body: type === "" ? new Uint8Array(Buffer.from('"x"')) : '"x"' });
      assertError(a, 400, "UNSUPPORTED_CONTENT_TYPE", `content-type ${JSON.stringify(type)}`);
    }
    for (const body of ['{"a":', "{a:1}", "'x'", "tru"]) {
      assertError(await post(host, "/instances/ev-run/raiseEvent/go", { headers: { "content-type": "application/json" }, body }), 400, "INVALID_JSON", body);
    }
    assert.equal(((await mgmt(host, "/instances/ev-run")).json as StatusBody).runtimeStatus, "Running", "refused events changed nothing");

    const payload = { approved: true, by: "Ada", n: [1, 2, 3], nested: { "ünï": "✓" } };
    const ok = await post(host, "/instances/ev-run/raiseEvent/go", { headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(payload) });
    assert.equal(ok.status, 202, ok.text);
    assert.equal(ok.text, "");
    const done = await waitForStatus(host, "ev-run", ["Completed"]);
    assert.deepEqual(done.output, payload);

    // After completion the same request is 410.
    assertError(await post(host, "/instances/ev-run/raiseEvent/go", json(1)), 410, "INSTANCE_GONE");
    await replayCheck(host);
  });

  it("an empty JSON body is an event without payload; events raised before the wait are buffered", async () => {
    const host = await start(register);
    await runningWait(host, "ev-empty");
    const a = await post(host, "/instances/ev-empty/raiseEvent/go", { headers: { "content-type": "application/json" } });
    assert.equal(a.status, 202, a.text);
    assert.equal((await waitForStatus(host, "ev-empty", ["Completed"])).output, null);

    await runningWait(host, "ev-count", "Counter");
    // "go" arrives first and waits in the buffer until the orchestration asks for it.
    assert.equal((await post(host, "/instances/ev-count/raiseEvent/go", json("third"))).status, 202);
    assert.equal((await post(host, "/instances/ev-count/raiseEvent/tick", json("first"))).status, 202);
    assert.equal((await post(host, "/instances/ev-count/raiseEvent/tick", json("second"))).status, 202);
    assert.deepEqual((await waitForStatus(host, "ev-count", ["Completed"])).output, ["first", "second", "third"]);
    await replayCheck(host);
  });
});

forEachHttpStore("HTTP terminate, suspend, resume", (start) => {
  it("terminate: 202 → Terminated with the reason as output; 404; 410", async () => {
    const host = await start(register);
    await runningWait(host, "t-run");
    await completedEcho(host, "t-done");
    const a = await post(host, "/instances/t-run/terminate?reason=no%20longer%20needed");
    assert.equal(a.status, 202, a.text);
    const s = await waitForStatus(host, "t-run", ["Terminated"]);
    assert.equal(s.output, "no longer needed");
    assertError(await post(host, "/instances/t-run/terminate?reason=again"), 410, "INSTANCE_GONE");
    assertError(await post(host, "/instances/t-done/terminate"), 410, "INSTANCE_GONE");
    assertError(await post(host, "/instances/nobody/terminate?reason=x"), 404, "INSTANCE_NOT_FOUND");
    // Without a reason the output is the empty reason.
    await runningWait(host, "t-noreason");
    assert.equal((await post(host, "/instances/t-noreason/terminate")).status, 202);
    assert.equal((await waitForStatus(host, "t-noreason", ["Terminated"])).output, "");
    await replayCheck(host);
  });

  it("suspend/resume: 202 each and the status changes; 409 for resume of a running or suspend of a suspended one; 410 finished; 404", async () => {
    const host = await start(register);
    await runningWait(host, "s-run", "Counter");
    await completedEcho(host, "s-done");

    assertError(await post(host, "/instances/s-run/resume?reason=not%20suspended"), 409, "INVALID_INSTANCE_STATE");
    const sus = await post(host, "/instances/s-run/suspend?reason=maintenance");
    assert.equal(sus.status, 202, sus.text);
    const suspended = await waitForStatus(host, "s-run", ["Suspended"]);
    assert.equal(suspended.runtimeStatus, "Suspended");
    const polled = await mgmt(host, "/instances/s-run");
    assert.equal(polled.status, 202, "a suspended instance is not finished");
    assertError(await post(host, "/instances/s-run/suspend"), 409, "INVALID_INSTANCE_STATE");

    // Events raised while suspended are accepted and held back.
    assert.equal((await post(host, "/instances/s-run/raiseEvent/tick", json(1))).status, 202);
    assert.equal((await post(host, "/instances/s-run/raiseEvent/tick", json(2))).status, 202);
    assert.equal(((await mgmt(host, "/instances/s-run")).json as StatusBody).runtimeStatus, "Suspended");

    const res = await post(host, "/instances/s-run/resume?reason=back");
    assert.equal(res.status, 202, res.text);
    await waitForStatus(host, "s-run", ["Running"]);
    assert.equal((await post(host, "/instances/s-run/raiseEvent/go", json(3))).status, 202);
    assert.deepEqual((await waitForStatus(host, "s-run", ["Completed"])).output, [1, 2, 3]);

    for (const op of ["suspend", "resume"]) {
      assertError(await post(host, `/instances/s-done/${op}`), 410, "INSTANCE_GONE", op);
      assertError(await post(host, `/instances/s-run/${op}`), 410, "INSTANCE_GONE", op);
      assertError(await post(host, `/instances/nobody/${op}`), 404, "INSTANCE_NOT_FOUND", op);
    }
    // A suspended instance can be terminated.
    await runningWait(host, "s-term");
    assert.equal((await post(host, "/instances/s-term/suspend")).status, 202);
    await waitForStatus(host, "s-term", ["Suspended"]);
    assert.equal((await post(host, "/instances/s-term/terminate?reason=stop")).status, 202);
    assert.equal((await waitForStatus(host, "s-term", ["Terminated"])).output, "stop");
    await replayCheck(host);
  });
});

forEachHttpStore("HTTP rewind and restart", (start) => {
  it("rewind: 202 for a failed instance, which then completes once the cause is fixed; 409 running; 410 completed; 404", async () => {
    let healthy = false;
    let calls = 0;
    const host = await start((app) => {
      register(app);
      app.activity("first", { handler: () => "one" });
      app.activity("fragile", {
        handler: () => {
          calls++;
          if (!healthy) throw new Error("downstream is down");
          return "two";
        },
      });
      app.orchestration("Rewindable", function* (ctx) {
        const a: unknown = yield ctx.df.callActivity("first");
        const b: unknown = yield ctx.df.callActivity("fragile");
        return [a, b];
      });
    });
    const id = await startOver(host, "Rewindable", undefined, "rw-1");
    const failed = await waitForStatus(host, id, ["Failed"]);
    assert.match(JSON.stringify(failed.output), /downstream is down/);
    await runningWait(host, "rw-run");
    await completedEcho(host, "rw-done");

    assertError(await post(host, "/instances/nobody/rewind?reason=x"), 404, "INSTANCE_NOT_FOUND");
    assertError(await post(host, "/instances/rw-run/rewind?reason=x"), 409, "INVALID_INSTANCE_STATE");
    assertError(await post(host, "/instances/rw-done/rewind?reason=x"), 410, "INSTANCE_GONE");

    healthy = true;
    const a = await post(host, `/instances/${id}/rewind?reason=fixed`);
    assert.equal(a.status, 202, a.text);
    const done = await waitForStatus(host, id, ["Completed"]);
    assert.deepEqual(done.output, ["one", "two"]);
    assert.equal(calls, 2);
    assertError(await post(host, `/instances/${id}/rewind`), 410, "INSTANCE_GONE");
    await post(host, "/instances/rw-run/terminate");
    await waitForStatus(host, "rw-run", ["Terminated"]);
    await replayCheck(host);
  });

  it("restart: 202 payload for a new id by default, restartWithNewInstanceId=false keeps the id; 400 for an unknown id", async () => {
    const host = await start(register);
    await completedEcho(host, "rs-1");
    const a = await post(host, "/instances/rs-1/restart");
    assert.equal(a.status, 202, a.text);
    assert.equal(a.headers.get("retry-after"), "10");
    const payload = a.json as Record<string, string>;
    assert.notEqual(payload.id, "rs-1");
    assert.match(payload.id!, /^[0-9a-f]{32}$/);
    assertPayload(payload, payload.id!, host.url!);
    assert.equal(a.headers.get("location"), payload.statusQueryGetUri);
    const restarted = await waitForStatus(host, payload.id!, ["Completed"]);
    assert.equal(restarted.name, "Echo");
    assert.deepEqual(restarted.input, { done: "rs-1" }, "the original input");
    assert.deepEqual(restarted.output, { done: "rs-1" });

    const before = ((await mgmt(host, "/instances/rs-1?showHistory=true")).json as StatusBody).historyEvents!;
    const same = await post(host, "/instances/rs-1/restart?restartWithNewInstanceId=false");
    assert.equal(same.status, 202, same.text);
    assert.equal((same.json as { id: string }).id, "rs-1");
    await eventually(async () => {
      const s = (await mgmt(host, "/instances/rs-1?showHistory=true")).json as StatusBody;
      return s.runtimeStatus === "Completed" && JSON.stringify(s.historyEvents) !== JSON.stringify(before);
    });

    // restartWithNewInstanceId=true explicitly; with timeout and pollingInterval it waits like a start.
    const waited = await post(host, "/instances/rs-1/restart?restartWithNewInstanceId=true&timeout=10&pollingInterval=0.02");
    assert.equal(waited.status, 200, waited.text);
    assert.deepEqual(waited.json, { done: "rs-1" });

    // A running instance restarted under its own id: 409, as a start would be.
    await runningWait(host, "rs-run");
    assertError(await post(host, "/instances/rs-run/restart?restartWithNewInstanceId=false"), 409, "INSTANCE_ALREADY_EXISTS");
    const fresh = await post(host, "/instances/rs-run/restart");
    assert.equal(fresh.status, 202);
    await waitForStatus(host, (fresh.json as { id: string }).id, ["Running"]);

    assertError(await post(host, "/instances/nobody/restart"), 400, "INVALID_ARGUMENT");
    assertError(await post(host, "/instances/rs-1/restart?restartWithNewInstanceId=perhaps"), 400, "INVALID_QUERY_PARAMETER");
    for (const id of ["rs-run", (fresh.json as { id: string }).id]) {
      await post(host, `/instances/${id}/terminate`);
      await waitForStatus(host, id, ["Terminated"]);
    }
    await replayCheck(host);
  });

  it("a restart refused for a bad timeout/pollingInterval starts nothing", async () => {
    // BUG (see report): as for start, pollingInterval > timeout is only checked after the restart happened.
    const host = await start(register);
    await completedEcho(host, "rsb-1");
    const problems: string[] = [];
    for (const q of ["timeout=abc&pollingInterval=1", "timeout=1&pollingInterval=-1", "timeout=1&pollingInterval=2", "timeout=1&pollingInterval=0.5&returnInternalServerErrorOnFailure=maybe"]) {
      const before = ((await mgmt(host, "/instances/?top=1000")).json as StatusBody[]).map((s) => s.instanceId).sort();
      const a = await post(host, `/instances/rsb-1/restart?${q}`);
      if (a.status !== 400) problems.push(`?${q} answered ${a.status}, not 400`);
      else assertError(a, 400, "INVALID_QUERY_PARAMETER", q);
      const after = ((await mgmt(host, "/instances/?top=1000")).json as StatusBody[]).map((s) => s.instanceId).sort();
      if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`?${q} restarted rsb-1 as ${after.filter((id) => !before.includes(id)).join(", ")}`);
    }
    assert.deepEqual(problems, [], "a restart with a bad query parameter must answer 400 and start nothing");
    await replayCheck(host);
  });
});

forEachHttpStore("HTTP entity routes, unknown routes, /healthz", (start, store) => {
  it("entities answer as for a host without entity functions", async () => {
    const host = await start(register);
    assertError(await mgmt(host, "/entities/Counter/key1"), 404, "ENTITY_NOT_FOUND");
    assertError(await mgmt(host, "/entities/Counter/%24"), 404, "ENTITY_NOT_FOUND");
    assertError(await mgmt(host, "/entities/Counter/key1?op=add", json(1)), 400, "FUNCTION_NOT_FOUND");
    assertError(await mgmt(host, "/entities/Counter/key1", { method: "POST" }), 400, "FUNCTION_NOT_FOUND");
    assertError(await mgmt(host, "/entities/Counter/key1", { method: "DELETE" }), 400, "FUNCTION_NOT_FOUND");
    for (const path of ["/entities", "/entities/", "/entities/Counter", "/entities/Counter?fetchState=true&top=5", "/entities/?lastOperationTimeFrom=2020-01-01T00:00:00Z"]) {
      const a = await mgmt(host, path);
      assert.equal(a.status, 200, path);
      assert.deepEqual(a.json, [], path);
    }
    assertError(await mgmt(host, "/entities/?fetchState=maybe"), 400, "INVALID_QUERY_PARAMETER");
    assertError(await mgmt(host, "/entities/Counter?top=0"), 400, "INVALID_QUERY_PARAMETER");
  });

  it("unknown routes and wrong methods → 404 JSON; /healthz 200", async () => {
    const host = await start(register);
    const cases: [string, string][] = [
      ["GET", "/orchestrators/Echo"],
      ["PUT", "/orchestrators/Echo"],
      ["DELETE", "/orchestrators/Echo/x"],
      ["PATCH", "/instances/x"],
      ["PUT", "/instances/"],
      ["POST", "/instances/"],
      ["POST", "/instances/x"],
      ["GET", "/instances/x/terminate"],
      ["GET", "/instances/x/raiseEvent/go"],
      ["DELETE", "/instances/x/raiseEvent/go"],
      ["POST", "/instances/x/raiseEvent"],
      ["POST", "/instances/x/explode"],
      ["GET", ""],
      ["GET", "/"],
      ["GET", "/nothing"],
      ["POST", "/makeprimary"],
      ["PUT", "/entities/Counter/k"],
      ["OPTIONS", "/instances/"],
      ["GET", "/orchestrators"],
      ["POST", "/orchestrators"],
      ["POST", "/orchestrators/Echo/a/b"],
    ];
    for (const [method, path] of cases) assertError(await mgmt(host, path, { method }), 404, "NOT_FOUND", `${method} ${path}`);
    for (const path of ["/", "/nope", "/api", "/api/nothing", "/runtime", "/runtime/webhooks", "/runtime/webhooks/durabletaskx/instances/"]) {
      assertError(await hit(host, path), 404, "NOT_FOUND", path);
    }
    const health = await hit(host, "/healthz");
    assert.equal(health.status, 200);
    const { clockOffsetMs, ...fields } = health.json as Record<string, unknown>;
    assert.deepEqual(fields, { status: "ok", workerId: host.worker.workerId, hostname: hostname(), pid: process.pid, workers: true, http: true });
    // Only stores shared by several machines have a clock of their own to measure against.
    assert.equal(typeof clockOffsetMs, store === "postgres" ? "number" : "undefined");
    assert.equal((await hit(host, "/healthz", { method: "HEAD" })).status, 200);
    assertError(await hit(host, "/healthz", { method: "POST" }), 405, "METHOD_NOT_ALLOWED");
    // A HEAD on a management route gets the 404 status (without a body, as HEAD has none).
    assert.equal((await raw(host, "HEAD", `${BASE}/instances/x`)).status, 404);
  });
});
