/**
 * One client, one shape: the in-process client and the remote client return the same objects —
 * compared as JSON, field for field — for statuses with and without history, failures, children,
 * entity calls, parked instances, pages and entity reads.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { RemoteDurableClient } from "../../src/client/remote-client.js";
import { EntityId } from "../../src/core/entity-id.js";
import { eventually, forEachStore } from "../helpers/hosts.js";

function register(app: DurableApp): void {
  app.activity("echo", { handler: (x: unknown) => x });
  app.activity("fail", {
    handler: () => {
      throw Object.assign(new Error("no luck"), { code: "E_LUCK" });
    },
  });
  app.entity<number>("counter", (ctx) => {
    const v = ctx.df.getState(() => 0);
    if (ctx.df.operationName === "add") ctx.df.setState(v + ctx.df.getInput<number>());
    ctx.df.return(ctx.df.getState());
  });
  app.orchestration("child", function* (ctx) {
    return yield ctx.df.callActivity("echo", ctx.df.getInput());
  });
  app.orchestration("everything", function* (ctx) {
    ctx.df.setCustomStatus({ stage: "start" });
    const echoed: unknown = yield ctx.df.callActivity("echo", { a: [1, "two"] });
    let failed = "";
    try {
      yield ctx.df.callActivity("fail");
    } catch (e) {
      failed = (e as Error).message;
    }
    const child: unknown = yield ctx.df.callSubOrchestrator("child", "from the parent");
    yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 10));
    const counted: unknown = yield ctx.df.callEntity(new EntityId("counter", "c"), "add", 3);
    const event: unknown = yield ctx.df.waitForExternalEvent("go");
    ctx.df.setCustomStatus({ stage: "done" });
    return { echoed, failed, child, counted, event };
  });
  app.orchestration("failing", function* (ctx) {
    yield ctx.df.callActivity("fail");
  });
  app.orchestration("waitsForNobody", function* (ctx) {
    return yield ctx.df.callActivity("nobodyHasIt");
  });
}

forEachStore("one client shape", (start) => {
  it("getStatus (every option), pages and entity reads are the same JSON in process and over HTTP", async () => {
    const host = await start(register, { port: 0, strandedAfterMs: 100 });
    const local = host.client;
    const remote = new RemoteDurableClient(host.url!);
    const main = await local.startNew("everything", { instanceId: "main", input: { the: "input" } });
    await eventually(async () => ((await local.getStatus(main)).customStatus as { stage?: string } | null)?.stage === "start" && (await local.getStatus(main, { showHistory: true })).history!.some((r) => r.EventType === "EntityOperationCompleted"));
    await local.raiseEvent(main, "go", { x: 1 });
    await local.waitForCompletion(main);
    const failing = await local.startNew("failing", { instanceId: "failing" });
    await local.waitForCompletion(failing);
    const parked = await local.startNew("waitsForNobody", { instanceId: "parked" });
    await eventually(async () => (await local.getStatus(parked)).parked);

    const options = [{}, { showInput: false }, { showHistory: true }, { showHistory: true, showHistoryOutput: true }, { showHistory: true, showHistoryOutput: true, showInput: false }];
    for (const id of [main, "main:2", failing, parked]) {
      for (const o of options) {
        const mine = JSON.stringify(await local.getStatus(id, o));
        const theirs = JSON.stringify(await remote.getStatus(id, o));
        assert.equal(theirs, mine, `${id} ${JSON.stringify(o)}`);
      }
    }
    // What the objects hold (so equal does not mean equally empty).
    const full = await local.getStatus(main, { showHistory: true, showHistoryOutput: true });
    assert.deepEqual(
      full.history!.map((r) => r.EventType),
      ["ExecutionStarted", "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCompleted", "TimerCreated", "TimerFired", "EntityOperationCalled", "EntityOperationCompleted", "EventRaised", "ExecutionCompleted"],
    );
    const taskFailed = full.history!.find((r) => r.EventType === "TaskFailed")!;
    assert.equal(taskFailed.FunctionName, "fail");
    assert.deepEqual(taskFailed.FailureDetails, { ErrorType: "Error", ErrorMessage: "no luck", Code: "E_LUCK" });
    const failedStatus = await remote.getStatus(failing);
    assert.equal(failedStatus.failureDetails?.errorType, "TaskFailedError");
    assert.equal(failedStatus.failureDetails?.code, "TASK_FAILED");
    assert.equal(failedStatus.failureDetails?.innerFailure, undefined, "the activity's failure is in the message, not nested");
    assert.match(failedStatus.failureDetails?.errorMessage ?? "", /Activity function 'fail' failed: no luck/);
    assert.equal((await remote.getStatus("main:2")).parentInstanceId, main);
    const parkedStatus = await remote.getStatus(parked);
    assert.equal(parkedStatus.parked?.code, "FUNCTION_NOT_FOUND");
    assert.ok(parkedStatus.parked?.since instanceof Date);
    assert.match(parkedStatus.executionId ?? "", /^[0-9a-f]{32}$/);

    const page = async (client: typeof local | RemoteDurableClient, token?: string): Promise<string> =>
      JSON.stringify(await client.listInstances({ pageSize: 2, ...(token ? { continuationToken: token } : {}) }));
    const first = await page(local);
    assert.equal(await page(remote), first);
    const token = (JSON.parse(first) as { continuationToken?: string }).continuationToken;
    assert.ok(token);
    assert.equal(await page(remote, token), await page(local, token));
    const counter = new EntityId("counter", "c");
    assert.equal(JSON.stringify(await remote.readEntityState(counter)), JSON.stringify(await local.readEntityState(counter)));
    assert.equal(JSON.stringify(await remote.listEntities({ fetchState: true })), JSON.stringify(await local.listEntities({ fetchState: true })));
    await local.terminate(parked, "cleanup");
  });
});
