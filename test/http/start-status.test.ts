import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { eventually } from "../helpers/hosts.js";
import {
  assertError,
  assertPayload,
  BASE,
  DF_TIME,
  forEachHttpStore,
  json,
  mgmt,
  raw,
  replayCheck,
  startOver,
  type StatusBody,
  waitForStatus,
} from "./helpers.js";

function registerCore(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    ctx.df.setCustomStatus({ waiting: "go" });
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("Fail", function* () {
    throw new Error("kaput");
  });
}

forEachHttpStore("HTTP start (POST orchestrators/{name}[/{id}])", (start) => {
  it("202 with Location, Retry-After: 10 and the 9 management URLs; empty body → no input, JSON body → input", async () => {
    const host = await start(registerCore);
    const a = await mgmt(host, "/orchestrators/Echo", { method: "POST" });
    assert.equal(a.status, 202, a.text);
    assert.match(a.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(a.headers.get("retry-after"), "10");
    const payload = a.json as Record<string, string>;
    assert.match(payload.id!, /^[0-9a-f]{32}$/);
    assert.equal(a.headers.get("location"), payload.statusQueryGetUri);
    assertPayload(payload, payload.id!, host.url!);
    const done = await waitForStatus(host, payload.id!, ["Completed"]);
    assert.equal(done.input, null, "empty body → no input");
    assert.equal(done.output, null);

    // Following the URL from the payload works as is.
    const followed = await fetch(payload.statusQueryGetUri!);
    assert.equal(followed.status, 200);
    assert.equal(((await followed.json()) as StatusBody).instanceId, payload.id);

    // An explicit Content-Length: 0 and a whitespace-only body are "no input" as well.
    const zero = await raw(host, "POST", `${BASE}/orchestrators/Echo`, { "content-length": "0" });
    assert.equal(zero.status, 202, zero.text);
    assert.equal((await waitForStatus(host, (JSON.parse(zero.text) as { id: string }).id, ["Completed"])).input, null);
    const blank = await mgmt(host, "/orchestrators/Echo", { method: "POST", body: "  \n " });
    assert.equal(blank.status, 202);
    assert.equal((await waitForStatus(host, (blank.json as { id: string }).id, ["Completed"])).input, null);

    // JSON bodies of every kind are the input.
    for (const input of [{ a: 1, b: [true, null, "x"] }, 42, "text", [1, 2], null, false]) {
      const id = await startOver(host, "Echo", input);
      const s = await waitForStatus(host, id, ["Completed"]);
      assert.deepEqual(s.input, input);
      assert.deepEqual(s.output, input);
    }
    await replayCheck(host);
  });

  it("builds the URLs from the request's origin (Host header) and encodes the instance id", async () => {
    const host = await start(registerCore);
    const a = await raw(host, "POST", `${BASE}/orchestrators/Echo/order%2042%3Aa`, { host: "example.test:1234" }, "7");
    assert.equal(a.status, 202, a.text);
    const payload = JSON.parse(a.text) as Record<string, string>;
    assert.equal(payload.id, "order 42:a");
    assertPayload(payload, "order 42:a", "http://example.test:1234");
    assert.equal(a.headers.location, payload.statusQueryGetUri);
    // The encoded id in the URL leads back to the instance.
    const local = payload.statusQueryGetUri!.replace("http://example.test:1234", host.url!);
    await eventually(async () => {
      const r = await fetch(local);
      return r.status === 200 && ((await r.json()) as StatusBody).output === 7;
    });
    await replayCheck(host);
  });

  it("a given id: 202, 409 while it runs, a finished instance is replaced by a new execution", async () => {
    const host = await start(registerCore);
    const first = await mgmt(host, "/orchestrators/Wait/fixed-1", json({ n: 1 }));
    assert.equal(first.status, 202);
    assert.equal((first.json as { id: string }).id, "fixed-1");
    await waitForStatus(host, "fixed-1", ["Running"]);
    const again = await mgmt(host, "/orchestrators/Wait/fixed-1", json({ n: 2 }));
    assertError(again, 409, "INSTANCE_ALREADY_EXISTS");
    // The running instance is untouched by the refused start.
    const running = (await mgmt(host, "/instances/fixed-1")).json as StatusBody;
    assert.deepEqual(running.input, { n: 1 });

    assert.equal((await mgmt(host, "/instances/fixed-1/raiseEvent/go", json("went"))).status, 202);
    assert.equal((await waitForStatus(host, "fixed-1", ["Completed"])).output, "went");

    // Finished: replaced silently, even by another orchestrator (names are case-insensitive).
    const replaced = await mgmt(host, "/orchestrators/echo/fixed-1", json("second"));
    assert.equal(replaced.status, 202, replaced.text);
    const s = await waitForStatus(host, "fixed-1", ["Completed"], "?showHistory=true");
    assert.equal(s.name, "Echo");
    assert.equal(s.output, "second");
    assert.equal(s.historyEvents!.filter((e) => e.EventType === "ExecutionStarted").length, 1, "the old history is gone");
    await replayCheck(host);
  });

  it("400 for bad JSON, an unknown orchestrator or a bad instance id; nothing is created", async () => {
    const host = await start(registerCore);
    for (const body of ['{"a":', "{'a':1}", "[1,]", "undefined", "NaN", "{a:1}", "\u0000"]) {
      assertError(await mgmt(host, "/orchestrators/Echo", { method: "POST", body }), 400, "INVALID_JSON", `body ${JSON.stringify(body)}`);
    }
    const unknown = await mgmt(host, "/orchestrators/NoSuchOrchestrator", json(1));
    assertError(unknown, 400, "FUNCTION_NOT_FOUND");
    assert.match((unknown.json as { Message: string }).Message, /NoSuchOrchestrator/);
    for (const id of ["%40entity", "x".repeat(257), "a%5Cb", "a%23b", "a%3Fb", "a%2Fb", "%01", "tab%09id", "%7F"]) {
      assertError(await mgmt(host, `/orchestrators/Echo/${id}`, json(1)), 400, "INVALID_ARGUMENT", `id ${id}`);
    }
    const list = await mgmt(host, "/instances/");
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, [], "no instance was created by a refused start");
  });

  it("with timeout and pollingInterval: 200 with the raw output when done in time, 202 otherwise, failed → 200 (or 500 when asked)", async () => {
    const host = await start(registerCore);
    const fast = await mgmt(host, "/orchestrators/Echo?timeout=10&pollingInterval=0.02", json({ out: [1, 2] }));
    assert.equal(fast.status, 200, fast.text);
    assert.match(fast.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(fast.json, { out: [1, 2] }, "the body is the output itself");

    const slow = await mgmt(host, "/orchestrators/Wait/slow-1?timeout=0.2&pollingInterval=0.05", { method: "POST" });
    assert.equal(slow.status, 202, slow.text);
    assert.equal(slow.headers.get("retry-after"), "10");
    assertPayload(slow.json as Record<string, unknown>, "slow-1", host.url!);
    assert.equal(slow.headers.get("location"), (slow.json as { statusQueryGetUri: string }).statusQueryGetUri);

    const failed = await mgmt(host, "/orchestrators/Fail?timeout=10&pollingInterval=0.02", { method: "POST" });
    assert.equal(failed.status, 200, failed.text);
    assert.equal((failed.json as StatusBody).runtimeStatus, "Failed");
    const failed500 = await mgmt(host, "/orchestrators/Fail?timeout=10&pollingInterval=0.02&returnInternalServerErrorOnFailure=true", { method: "POST" });
    assert.equal(failed500.status, 500, failed500.text);
    assert.equal((failed500.json as StatusBody).runtimeStatus, "Failed");
    assert.match(JSON.stringify((failed500.json as StatusBody).output), /kaput/);

    // Only one of the two: a plain 202.
    for (const q of ["timeout=10", "pollingInterval=1"]) {
      const a = await mgmt(host, `/orchestrators/Echo?${q}`, { method: "POST" });
      assert.equal(a.status, 202, q);
      assertPayload(a.json as Record<string, unknown>, (a.json as { id: string }).id, host.url!);
    }
    assertError(await mgmt(host, "/orchestrators/Echo?timeout=1&pollingInterval=2", { method: "POST" }), 400, "INVALID_QUERY_PARAMETER");
    await mgmt(host, "/instances/slow-1/terminate", { method: "POST" });
    await waitForStatus(host, "slow-1", ["Terminated"]);
    await replayCheck(host);
  });

  it("a synchronous start is woken by the commit, and pollingInterval=0 does not hammer storage", async () => {
    const host = await start(registerCore);
    // Count what the wait reads: every look at the instance is a getInstance.
    const original = host.provider.getInstance.bind(host.provider);
    let reads = 0;
    let watched = "woken";
    host.provider.getInstance = (id) => {
      if (id === watched) reads++;
      return original(id);
    };
    // Polling every 10 s would answer long after the event; the commit wakes the wait instead.
    const answer = mgmt(host, "/orchestrators/Wait/woken?timeout=60&pollingInterval=10", { method: "POST" });
    await waitForStatus(host, "woken", ["Running"]);
    const raisedAt = Date.now();
    await host.client.raiseEvent("woken", "go", "now");
    const a = await answer;
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json, "now");
    assert.ok(Date.now() - raisedAt < 5_000, "answered at the commit, not at the next 10 s poll");

    // pollingInterval=0 (with a long timeout) looks at storage at most every 100 ms, not every millisecond.
    watched = "spin";
    const spinning = mgmt(host, "/orchestrators/Wait/spin?timeout=60&pollingInterval=0", { method: "POST" });
    await waitForStatus(host, "spin", ["Running"]);
    reads = 0;
    await new Promise((r) => setTimeout(r, 1_000));
    const readsPerSecond = reads;
    await host.client.raiseEvent("spin", "go", 1);
    assert.equal((await spinning).status, 200);
    assert.ok(readsPerSecond <= 15, `at most ~10 looks a second (saw ${readsPerSecond})`);
  });

  it("a start refused for a bad timeout/pollingInterval creates no instance", async () => {
    // Every query parameter must be checked before anything starts. BUG (see report): the
    // pollingInterval > timeout check still runs after startNew, so that 400 leaves an instance behind.
    const host = await start(registerCore);
    const created: string[] = [];
    for (const [id, q] of [
      ["bad-timeout", "timeout=abc&pollingInterval=1"],
      ["bad-polling", "timeout=1&pollingInterval=-1"],
      ["polling-over-timeout", "timeout=1&pollingInterval=2"],
      ["bad-flag", "timeout=1&pollingInterval=0.5&returnInternalServerErrorOnFailure=maybe"],
    ] as const) {
      const a = await mgmt(host, `/orchestrators/Echo/${id}?${q}`, json(1));
      if (a.status !== 400) created.push(`?${q} answered ${a.status}, not 400`);
      else assertError(a, 400, "INVALID_QUERY_PARAMETER", q);
      if ((await mgmt(host, `/instances/${id}`)).status !== 404) created.push(`?${q} started instance ${id}`);
    }
    assert.deepEqual(created, [], "a start with a bad query parameter must answer 400 and start nothing");
    await replayCheck(host);
  });
});

forEachHttpStore("HTTP status (GET instances/{id})", (start) => {
  it("404 unknown; 202 + Location (the request URL) + Retry-After: 5 while running; 200 completed/terminated", async () => {
    const host = await start(registerCore);
    assertError(await mgmt(host, "/instances/nobody-here"), 404, "INSTANCE_NOT_FOUND");

    await startOver(host, "Wait", { who: "w" }, "w-1");
    await waitForStatus(host, "w-1", ["Running"]);
    const url = `${host.url!}${BASE}/instances/w-1?showInput=true&showHistory=false`;
    const r = await fetch(url);
    assert.equal(r.status, 202);
    assert.equal(r.headers.get("location"), url);
    assert.equal(r.headers.get("retry-after"), "5");
    const body = (await r.json()) as StatusBody;
    // Durable Functions' fields, plus Perdure's execution ID.
    assert.deepEqual(Object.keys(body).sort(), ["createdTime", "customStatus", "executionId", "input", "instanceId", "lastUpdatedTime", "name", "output", "runtimeStatus"]);
    assert.match(String((body as { executionId?: unknown }).executionId), /^[0-9a-f]{32}$/);
    assert.equal(body.name, "Wait");
    assert.equal(body.instanceId, "w-1");
    assert.equal(body.runtimeStatus, "Running");
    assert.deepEqual(body.input, { who: "w" });
    assert.deepEqual(body.customStatus, { waiting: "go" });
    assert.equal(body.output, null);
    assert.match(body.createdTime, DF_TIME);
    assert.match(body.lastUpdatedTime, DF_TIME);
    assert.ok(body.lastUpdatedTime >= body.createdTime);

    // showInput default true; false → null.
    assert.equal(((await mgmt(host, "/instances/w-1?showInput=false")).json as StatusBody).input, null);
    assert.equal(((await mgmt(host, "/instances/w-1?showInput=FALSE")).json as StatusBody).input, null, "booleans are case-insensitive");
    assert.deepEqual(((await mgmt(host, "/instances/w-1?showInput=True")).json as StatusBody).input, { who: "w" });

    await mgmt(host, "/instances/w-1/raiseEvent/go", json({ went: true }));
    await waitForStatus(host, "w-1", ["Completed"]);
    const done = await mgmt(host, "/instances/w-1");
    assert.equal(done.status, 200);
    assert.equal(done.headers.get("location"), null);
    assert.equal(done.headers.get("retry-after"), null);
    assert.deepEqual((done.json as StatusBody).output, { went: true });
    assert.equal((done.json as StatusBody).historyEvents, undefined, "no history unless asked");

    await startOver(host, "Wait", undefined, "w-2");
    await waitForStatus(host, "w-2", ["Running"]);
    assert.equal((await mgmt(host, "/instances/w-2/terminate?reason=enough", { method: "POST" })).status, 202);
    await waitForStatus(host, "w-2", ["Terminated"]);
    const terminated = await mgmt(host, "/instances/w-2");
    assert.equal(terminated.status, 200);
    assert.equal((terminated.json as StatusBody).output, "enough");
    await replayCheck(host);
  });

  it("failed → 200, or 500 with returnInternalServerErrorOnFailure=true (no Location)", async () => {
    const host = await start(registerCore);
    const id = await startOver(host, "Fail");
    await waitForStatus(host, id, ["Failed"]);
    const plain = await mgmt(host, `/instances/${id}`);
    assert.equal(plain.status, 200);
    assert.equal((plain.json as StatusBody).runtimeStatus, "Failed");
    assert.match(JSON.stringify((plain.json as StatusBody).output), /kaput/);
    const explicitFalse = await mgmt(host, `/instances/${id}?returnInternalServerErrorOnFailure=false`);
    assert.equal(explicitFalse.status, 200);
    const asked = await mgmt(host, `/instances/${id}?returnInternalServerErrorOnFailure=true`);
    assert.equal(asked.status, 500);
    assert.equal(asked.headers.get("location"), null);
    assert.match(asked.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal((asked.json as StatusBody).runtimeStatus, "Failed");
    assert.equal((asked.json as StatusBody).instanceId, id);
    // A completed instance is still 200 with the flag.
    const ok = await startOver(host, "Echo", 1);
    await waitForStatus(host, ok, ["Completed"]);
    assert.equal((await mgmt(host, `/instances/${ok}?returnInternalServerErrorOnFailure=true`)).status, 200);
    await replayCheck(host);
  });

  it("showHistory: the historyEvents projection of Durable Functions", async () => {
    let release: (v: string) => void = () => undefined;
    const gate = new Promise<string>((r) => (release = r));
    const host = await start((app) => {
      app.activity("Hello", { handler: (name: string) => `Hello ${name}` });
      app.activity("Boom", {
        handler: () => {
          throw new Error("boom!");
        },
      });
      app.activity("Slow", { handler: () => gate });
      app.orchestration("Projection", function* (ctx) {
        const hello: unknown = yield ctx.df.callActivity("Hello", "Ada");
        let err = "";
        try {
          yield ctx.df.callActivity("Boom", { n: 7 });
        } catch (e) {
          err = (e as Error).message;
        }
        yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 20));
        const approval: unknown = yield ctx.df.waitForExternalEvent("Approve");
        const slow: unknown = yield ctx.df.callActivity("Slow", "s");
        return { hello, err, approval, slow };
      });
    });
    const id = await startOver(host, "Projection", { order: 1 }, "proj-1");
    const history = async (q: string): Promise<Record<string, unknown>[]> => {
      const a = await mgmt(host, `/instances/${id}?showHistory=true${q}`);
      assert.ok(a.status === 200 || a.status === 202, a.text);
      return (a.json as StatusBody).historyEvents!;
    };
    await eventually(async () => (await history("")).some((e) => e.EventType === "TimerFired"), 10_000, "timer fired");
    assert.equal((await mgmt(host, `/instances/${id}/raiseEvent/Approve`, json({ ok: true }))).status, 202);

    // While Slow runs, its TaskScheduled row stays as it is (nothing to merge it into yet).
    const pending = await eventually(async () => (await history("")).find((e) => e.EventType === "TaskScheduled"), 10_000, "Slow scheduled");
    assert.equal(pending.Name, "Slow");
    assert.equal(pending.Input, "s");
    assert.equal(typeof pending.Timestamp, "string");
    release("slow done");
    await waitForStatus(host, id, ["Completed"]);

    const events = await history("");
    const types = events.map((e) => e.EventType);
    assert.deepEqual(types, ["ExecutionStarted", "TaskCompleted", "TaskFailed", "TimerCreated", "TimerFired", "EventRaised", "TaskCompleted", "ExecutionCompleted"]);
    for (const e of events) {
      assert.equal(typeof e.EventType, "string");
      assert.equal(typeof e.Timestamp, "string");
      assert.ok(!Number.isNaN(Date.parse(e.Timestamp as string)), `Timestamp ${String(e.Timestamp)}`);
      assert.ok(!("EventId" in e) && !("IsPlayed" in e) && !("TaskScheduledId" in e) && !("TimerId" in e), JSON.stringify(e));
      assert.ok(!("Result" in e), `Result only with showHistoryOutput: ${JSON.stringify(e)}`);
    }
    const [started, hello, boom, timerCreated, timerFired, raised, slow, completed] = events as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    assert.equal(started.FunctionName, "Projection");
    assert.deepEqual(started.Input, { order: 1 });
    assert.equal(hello.FunctionName, "Hello");
    assert.equal(hello.Input, "Ada");
    assert.equal(typeof hello.ScheduledTime, "string");
    assert.ok(Date.parse(hello.ScheduledTime as string) <= Date.parse(hello.Timestamp as string));
    assert.equal(boom.FunctionName, "Boom");
    assert.deepEqual(boom.Input, { n: 7 });
    assert.equal(typeof boom.ScheduledTime, "string");
    assert.match(boom.Reason as string, /boom!/);
    assert.equal(typeof boom.Details, "string");
    assert.match(boom.Details as string, /boom!/);
    assert.equal(typeof timerCreated.FireAt, "string");
    assert.equal(timerFired.FireAt, timerCreated.FireAt);
    assert.equal(raised.Name, "Approve");
    assert.deepEqual(raised.Input, { ok: true });
    assert.equal(slow.FunctionName, "Slow");
    assert.equal(completed.OrchestrationStatus, "Completed");

    // showHistoryOutput adds Result to completion rows only.
    const withOutput = await history("&showHistoryOutput=true");
    const rows = withOutput.filter((e) => "Result" in e);
    assert.deepEqual(
      rows.map((e) => e.EventType),
      ["TaskCompleted", "TaskCompleted", "ExecutionCompleted"],
    );
    assert.equal(rows[0]!.Result, "Hello Ada");
    assert.equal(rows[1]!.Result, "slow done");
    const final = rows[2]!.Result as { hello: unknown; err: string; approval: unknown; slow: unknown };
    assert.equal(final.hello, "Hello Ada");
    assert.match(final.err, /boom!/);
    assert.deepEqual(final.approval, { ok: true });
    assert.equal(final.slow, "slow done");
    assert.deepEqual(((await mgmt(host, `/instances/${id}`)).json as StatusBody).output, final, "the status output is the same value");
    // showInput=false removes every Input (and the status input).
    const noInput = await mgmt(host, `/instances/${id}?showHistory=true&showInput=false`);
    assert.equal((noInput.json as StatusBody).input, null);
    for (const e of (noInput.json as StatusBody).historyEvents!) assert.ok(!("Input" in e), JSON.stringify(e));
    // showHistory=false (explicit) has no historyEvents.
    assert.equal(((await mgmt(host, `/instances/${id}?showHistory=false`)).json as StatusBody).historyEvents, undefined);
    await replayCheck(host);
  });
});
