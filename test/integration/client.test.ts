import assert from "node:assert/strict";
import { it } from "node:test";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";
import type { DurableApp } from "../../src/app.js";

function registerBasics(app: DurableApp): void {
  app.activity("echo", { handler: (x: unknown) => x });
  app.orchestration("echoOnce", function* (ctx) {
    return yield ctx.df.callActivity("echo", ctx.df.getInput());
  });
  app.orchestration("waitForGo", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
}

forEachStore("client", (start) => {
  it("startNew generates 32-hex ids, accepts given ids, refuses running ones and replaces finished ones", async () => {
    const host = await start(registerBasics);
    const generated = await host.client.startNew("echoOnce", { input: 1 });
    assert.match(generated, /^[0-9a-f]{32}$/);
    const id = await host.client.startNew("waitForGo", { instanceId: "fixed" });
    assert.equal(id, "fixed");
    await assert.rejects(host.client.startNew("waitForGo", { instanceId: "fixed" }), { code: "INSTANCE_ALREADY_EXISTS" });
    await host.client.raiseEvent("fixed", "go", "first");
    assert.equal((await host.client.waitForCompletion("fixed")).output, "first");
    await host.client.startNew("echoOnce", { instanceId: "fixed", input: "second run" });
    const status = await host.client.waitForCompletion("fixed");
    assert.equal(status.name, "echoOnce");
    assert.equal(status.output, "second run");
    const history = await storedHistory(host, "fixed");
    assert.equal(history.filter((e) => e.type === "ExecutionStarted").length, 1, "the old history is gone");
    await host.client.waitForCompletion(generated);
  });

  it("rejects bad input with clear errors", async () => {
    const host = await start(registerBasics);
    await assert.rejects(host.client.startNew("nope"), { code: "FUNCTION_NOT_FOUND", message: /'nope' doesn't exist.*'echoOnce'/ });
    for (const bad of ["", "a/b", "a\\b", "a#b", "a?b", "tab\there", "@entity", ".", "..", "x".repeat(257)]) {
      await assert.rejects(host.client.startNew("echoOnce", { instanceId: bad }), { code: "INVALID_ARGUMENT" }, `instance id ${JSON.stringify(bad)}`);
    }
    await assert.rejects(host.client.startNew("echoOnce", { input: { big: 1n } }), { code: "PAYLOAD_NOT_SERIALIZABLE" });
    await assert.rejects(host.client.getStatus("missing"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(host.client.raiseEvent("missing", "go"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(host.client.terminate("missing", "r"), { code: "INSTANCE_NOT_FOUND" });
    await assert.rejects(host.client.listInstances({ continuationToken: "not-a-token" }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(host.client.listInstances({ runtimeStatus: ["Sleeping" as never] }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(host.client.purgeInstanceHistoryBy({} as never), /createdTimeFrom/);
  });

  it("getStatus honours showInput, showHistory and showHistoryOutput", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("echoOnce", { input: { secret: 1 } });
    await host.client.waitForCompletion(id);
    const plain = await host.client.getStatus(id);
    assert.deepEqual(plain.input, { secret: 1 });
    assert.equal(plain.history, undefined);
    assert.ok(plain.createdTime instanceof Date && plain.lastUpdatedTime >= plain.createdTime);
    assert.equal((await host.client.getStatus(id, { showInput: false })).input, null);
    // The Durable Functions projection: the scheduled row merged into its completion row.
    const withHistory = await host.client.getStatus(id, { showHistory: true });
    assert.deepEqual(
      withHistory.history!.map((e) => e.EventType),
      ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"],
    );
    const completed = withHistory.history!.find((e) => e.EventType === "TaskCompleted")!;
    assert.equal(completed.FunctionName, "echo");
    assert.deepEqual(completed.Input, { secret: 1 });
    assert.equal(typeof completed.ScheduledTime, "string");
    assert.equal("Result" in completed, false, "results only with showHistoryOutput");
    const withOutput = await host.client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    assert.deepEqual(withOutput.history!.find((e) => e.EventType === "TaskCompleted")!.Result, { secret: 1 });
    assert.equal("Input" in (await host.client.getStatus(id, { showHistory: true, showInput: false })).history!.find((e) => e.EventType === "TaskCompleted")!, false);
  });

  it("waitForCompletion is woken by the commit that finishes the instance, not by polling", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("waitForGo");
    // With a one-minute polling interval only the commit can end this wait within its 10 s timeout.
    const waiting = host.client.waitForCompletion(id, { pollIntervalInMilliseconds: 60_000, timeoutInMilliseconds: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const raisedAt = Date.now();
    await host.client.raiseEvent(id, "go", "woken");
    const done = await waiting;
    assert.ok(Date.now() - raisedAt < 5_000, "woken by the commit, not by the next look at the timeout");
    assert.equal(done.runtimeStatus, "Completed");
    assert.equal(done.output, "woken");
  });

  it("queries by status, creation time and id prefix, with paging", async () => {
    const host = await start(registerBasics);
    const before = new Date(Date.now() - 1000);
    for (let i = 0; i < 7; i++) await host.client.startNew("echoOnce", { instanceId: `batch-${i}`, input: i });
    await host.client.startNew("waitForGo", { instanceId: "other-1" });
    for (let i = 0; i < 7; i++) await host.client.waitForCompletion(`batch-${i}`);
    await eventually(async () => (await host.client.getStatus("other-1")).runtimeStatus === "Running");

    const all = await host.client.getStatusAll();
    assert.equal(all.length, 8);
    const completed = await host.client.getStatusBy({ runtimeStatus: ["Completed"] });
    assert.deepEqual(completed.map((s) => s.instanceId).sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `batch-${i}`));
    assert.equal((await host.client.getStatusBy({ runtimeStatus: ["Running", "Pending"] })).length, 1);
    assert.equal((await host.client.getStatusBy({ instanceIdPrefix: "other" })).length, 1);
    assert.equal((await host.client.getStatusBy({ createdTimeFrom: new Date(Date.now() + 60_000) })).length, 0);
    assert.equal((await host.client.getStatusBy({ createdTimeFrom: before, createdTimeTo: new Date(Date.now() + 1000) })).length, 8);

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await host.client.listInstances(token ? { instanceIdPrefix: "batch-", pageSize: 3, continuationToken: token } : { instanceIdPrefix: "batch-", pageSize: 3 });
      assert.ok(page.instances.length <= 3);
      seen.push(...page.instances.map((s) => s.instanceId));
      token = page.continuationToken;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `batch-${i}`));
    await host.client.terminate("other-1", "done testing");
    await host.client.waitForCompletion("other-1");
  });

  it("terminates a running instance with the reason as output, and ignores terminating a finished one", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("waitForGo");
    await host.client.terminate(id, "operator said stop");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Terminated");
    assert.equal(status.output, "operator said stop");
    await host.client.terminate(id, "again");
    await host.client.raiseEvent(id, "go", "late");
    assert.equal((await host.client.getStatus(id)).output, "operator said stop");
  });

  it("suspends and resumes; events raised while suspended are held, not lost", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("waitForGo");
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus === "Running");
    await assert.rejects(host.client.resume(id, "not suspended"), { code: "INVALID_INSTANCE_STATE", message: /Cannot resume .* Running state/ });
    await host.client.suspend(id, "maintenance");
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus === "Suspended", 10_000, "suspended");
    await assert.rejects(host.client.suspend(id, "again"), { code: "INVALID_INSTANCE_STATE", message: /Cannot suspend .* Suspended state/ });
    await host.client.raiseEvent(id, "go", "held");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await host.client.getStatus(id)).runtimeStatus, "Suspended");
    await host.client.resume(id, "back");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "held");
    const types = (await storedHistory(host, id)).map((e) => e.type);
    assert.ok(types.indexOf("ExecutionSuspended") < types.indexOf("ExecutionResumed"));
  });

  it("restarts with the original input, under a new id or the same one", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("echoOnce", { input: "original" });
    await host.client.waitForCompletion(id);
    const newId = await host.client.restart(id);
    assert.notEqual(newId, id);
    assert.equal((await host.client.waitForCompletion(newId)).output, "original");
    const sameId = await host.client.restart(id, { restartWithNewInstanceId: false });
    assert.equal(sameId, id);
    assert.equal((await host.client.waitForCompletion(id)).output, "original");
  });

  it("rewinds a failed instance: the failed activity runs again and the instance completes", async () => {
    let healthy = false;
    let calls = 0;
    const host = await start((app) => {
      app.activity("first", { handler: () => "one" });
      app.activity("fragile", {
        handler: () => {
          calls++;
          if (!healthy) throw new Error("downstream is down");
          return "two";
        },
      });
      app.orchestration("rewindable", function* (ctx) {
        const a: unknown = yield ctx.df.callActivity("first");
        const b: unknown = yield ctx.df.callActivity("fragile");
        return [a, b];
      });
    });
    const id = await host.client.startNew("rewindable");
    assert.equal((await host.client.waitForCompletion(id)).runtimeStatus, "Failed");
    await assert.rejects(host.client.rewind("missing-instance", "r"), { code: "INSTANCE_NOT_FOUND" });
    healthy = true;
    await host.client.rewind(id, "downstream fixed");
    // Rewind is asynchronous, as in Durable Functions: the worker picks the request up.
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus !== "Failed", 10_000, "rewind picked up");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed");
    assert.deepEqual(status.output, ["one", "two"]);
    assert.equal(calls, 2);
    const history = await storedHistory(host, id);
    assert.equal(history.filter((e) => e.type === "TaskFailed").length, 0, "the failure record was rewound");
    assert.equal(history.filter((e) => e.type === "ExecutionRewound").length, 1);
    await assert.rejects(host.client.rewind(id, "not failed"), { code: "INVALID_INSTANCE_STATE", message: /only supported on failed/ });
  });

  it("rewinds a failed sub-orchestration through its parent", async () => {
    let healthy = false;
    const host = await start((app) => {
      app.activity("fragile", {
        handler: () => {
          if (!healthy) throw new Error("not yet");
          return "fixed";
        },
      });
      app.orchestration("childOf", function* (ctx) {
        return yield ctx.df.callActivity("fragile");
      });
      app.orchestration("parentOf", function* (ctx) {
        return yield ctx.df.callSubOrchestrator("childOf", undefined, "rewind-child");
      });
    });
    const id = await host.client.startNew("parentOf");
    assert.equal((await host.client.waitForCompletion(id)).runtimeStatus, "Failed");
    healthy = true;
    await host.client.rewind(id, "retry all");
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus !== "Failed", 10_000, "rewind picked up");
    assert.equal((await host.client.waitForCompletion(id)).output, "fixed");
    assert.equal((await host.client.getStatus("rewind-child")).runtimeStatus, "Completed");
  });

  it("purges one instance and purges by filter (finished instances only)", async () => {
    const host = await start(registerBasics);
    const from = new Date(Date.now() - 1000);
    const done = [];
    for (let i = 0; i < 3; i++) done.push(await host.client.startNew("echoOnce", { input: i }));
    for (const id of done) await host.client.waitForCompletion(id);
    const running = await host.client.startNew("waitForGo");
    assert.deepEqual(await host.client.purgeInstanceHistory(done[0]!), { instancesDeleted: 1 });
    assert.deepEqual(await host.client.purgeInstanceHistory(done[0]!), { instancesDeleted: 0 });
    await assert.rejects(host.client.getStatus(done[0]!), { code: "INSTANCE_NOT_FOUND" });
    assert.deepEqual(await host.client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: ["Failed"] }), { instancesDeleted: 0 });
    assert.deepEqual(await host.client.purgeInstanceHistoryBy({ createdTimeFrom: from }), { instancesDeleted: 2 });
    assert.equal((await host.client.getStatus(running)).instanceId, running, "running instances are not purged by filter");
    await host.client.terminate(running, "cleanup");
    await host.client.waitForCompletion(running);
  });

  it("waitForCompletion times out with a typed error", async () => {
    const host = await start(registerBasics);
    const id = await host.client.startNew("waitForGo");
    await assert.rejects(host.client.waitForCompletion(id, { timeoutInMilliseconds: 100 }), { code: "WAIT_TIMEOUT" });
    await host.client.terminate(id, "cleanup");
    await host.client.waitForCompletion(id);
  });
});
