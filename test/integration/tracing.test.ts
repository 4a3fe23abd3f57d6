/**
 * OpenTelemetry traces, collected with an in-memory exporter: an orchestration started over HTTP
 * (with the caller's W3C trace context) that fans out, retries an activity and calls a
 * sub-orchestration is one trace with the right parent/child links; no span appears twice although
 * every step replays; and the trace goes on across two hosts that share one store.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createApp, createHost, EntityId, type Host, RetryOptions } from "../../src/index.js";
import { silentLogger } from "../../src/runtime/logger.js";

function collector(): { provider: BasicTracerProvider; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { provider, spans: () => exporter.getFinishedSpans() };
}

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const named = (spans: ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
const attr = (s: ReadableSpan, k: string): unknown => s.attributes[k];

describe("OpenTelemetry traces", () => {
  let dir: string;
  before(() => {
    // What an SDK does at start-up: a context manager, so the active span follows async calls.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    dir = mkdtempSync(join(tmpdir(), "perdure-trace-"));
  });
  after(() => {
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an HTTP start with a sub-orchestration, a retry and a fan-out is one trace, each step once", async () => {
    const c = collector();
    let flaky = 0;
    const app = createApp();
    app.activity("work", { handler: (n: number) => n * 10 });
    app.activity("flaky", {
      handler: () => {
        flaky++;
        if (flaky === 1) throw new Error("first attempt fails");
        return "ok";
      },
    });
    app.orchestration("child", function* (ctx) {
      return yield ctx.df.callActivity("work", 7);
    });
    app.orchestration("root", function* (ctx) {
      const fanned: number[] = yield ctx.df.Task.all([1, 2, 3].map((n) => ctx.df.callActivity("work", n)));
      const retried: string = yield ctx.df.callActivityWithRetry("flaky", new RetryOptions(10, 3));
      const sub: number = yield ctx.df.callSubOrchestrator("child", undefined, "root-child");
      return [fanned, retried, sub];
    });
    // No executor cache: every step replays the whole history first.
    const host = createHost({ store: `sqlite:${join(dir, "one.db")}`, port: 0, app, logger: silentLogger, tracerProvider: c.provider, executorCacheSize: 0 });
    await host.start();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpan = "00f067aa0ba902b7";
    let committedSteps = 0;
    try {
      const res = await fetch(`${host.url}/runtime/webhooks/durabletask/orchestrators/root/root-1`, {
        method: "POST",
        headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
      });
      assert.equal(res.status, 202);
      const done = await host.client.waitForCompletion("root-1");
      assert.deepEqual(done.output, [[10, 20, 30], "ok", 70]);
      committedSteps = (await host.provider.getHistory("root-1")).filter((e) => e.type === "OrchestratorStarted").length;
    } finally {
      await host.stop();
    }
    const spans = c.spans();
    const ours = spans.filter((s) => s.spanContext().traceId === traceId);
    assert.equal(ours.length, spans.filter((s) => s.name !== "GET").length, "every span but the status polls is in the caller's trace");

    const server = spans.find((s) => s.name === "POST")!;
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(parentOf(server), callerSpan, "the server span continues the caller's context");
    const start = named(spans, "perdure.client startNew root")[0]!;
    assert.equal(parentOf(start), server.spanContext().spanId);

    const rootSteps = named(ours, "orchestration root");
    for (const s of rootSteps) assert.equal(parentOf(s), start.spanContext().spanId, "each step of root is a child of the start");
    assert.equal(rootSteps.length, committedSteps, "one span per committed step, none for the replays");
    assert.equal(new Set(spans.map((s) => s.spanContext().spanId)).size, spans.length, "no span twice");
    assert.ok(rootSteps.every((s) => typeof attr(s, "perdure.replayed_events") === "number"));
    assert.ok(rootSteps.slice(1).every((s) => (attr(s, "perdure.replayed_events") as number) > 0), "the later steps replayed");

    const stepIds = new Set(rootSteps.map((s) => s.spanContext().spanId));
    const work = named(ours, "activity work").filter((s) => attr(s, "perdure.instance_id") === "root-1");
    assert.equal(work.length, 3);
    for (const s of work) assert.ok(stepIds.has(parentOf(s)!), "fan-out activities are children of the step that scheduled them");
    assert.equal(new Set(work.map(parentOf)).size, 1, "all three from one step");

    const attempts = named(ours, "activity flaky").sort((a, b) => (attr(a, "perdure.task_id") as number) - (attr(b, "perdure.task_id") as number));
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]!.status.code, 2, "the failed attempt is an error span");
    assert.equal(attempts[1]!.status.code, 0);
    for (const s of attempts) assert.ok(stepIds.has(parentOf(s)!));

    const childSteps = named(ours, "orchestration child");
    assert.ok(childSteps.length >= 2);
    for (const s of childSteps) assert.ok(stepIds.has(parentOf(s)!), "the child's steps are children of the parent step that started it");
    const childWork = named(ours, "activity work").filter((s) => attr(s, "perdure.instance_id") === "root-child")[0]!;
    assert.ok(new Set(childSteps.map((s) => s.spanContext().spanId)).has(parentOf(childWork)!));
  });

  it("entity operations are spans under the client call or the orchestration step that asked for them", async () => {
    const c = collector();
    const app = createApp();
    app.entity<number>("counter", (ctx) => {
      const v = ctx.df.getState(() => 0);
      if (ctx.df.operationName === "add") ctx.df.setState(v + ctx.df.getInput<number>());
      if (ctx.df.operationName === "get") ctx.df.return(v);
      if (ctx.df.operationName === "boom") throw new Error("entity says no");
    });
    app.orchestration("reader", function* (ctx) {
      return yield ctx.df.callEntity(new EntityId("counter", "k"), "get");
    });
    const host = createHost({ store: "memory:", port: false, app, logger: silentLogger, tracerProvider: c.provider });
    await host.start();
    try {
      await host.client.signalEntity(new EntityId("counter", "k"), "add", 5);
      await host.client.signalEntity(new EntityId("counter", "k"), "boom");
      assert.equal((await host.client.waitForCompletion(await host.client.startNew("reader", { instanceId: "reader-1" }))).output, 5);
    } finally {
      await host.stop();
    }
    const spans = c.spans();
    const add = named(spans, "entity counter add")[0]!;
    assert.equal(parentOf(add), named(spans, "perdure.client signalEntity add")[0]!.spanContext().spanId);
    const boom = named(spans, "entity counter boom")[0]!;
    assert.equal(boom.status.code, 2, "a failed operation is an error span");
    const get = named(spans, "entity counter get")[0]!;
    const steps = new Set(named(spans, "orchestration reader").map((s) => s.spanContext().spanId));
    assert.ok(steps.has(parentOf(get)!), "an operation an orchestration calls is a child of the step that called it");
    assert.equal(get.spanContext().traceId, named(spans, "perdure.client startNew reader")[0]!.spanContext().traceId);
  });

  it("a trace goes on across two hosts on one store, and a restarted host does not repeat earlier steps", async () => {
    const store = `sqlite:${join(dir, "two.db")}`;
    const a = collector();
    const b = collector();
    const orchestrations = createApp();
    orchestrations.orchestration("relay", function* (ctx) {
      const first: string = yield ctx.df.callActivity("remote", "one");
      const go: string = yield ctx.df.waitForExternalEvent("go");
      const second: string = yield ctx.df.callActivity("remote", go);
      return [first, second];
    });
    const activities = createApp();
    activities.activity("remote", { handler: (s: string) => `${s}!` });
    // Host A has the orchestration, host B the activity: each step hands work to the other.
    const hostA: Host = createHost({ store, port: false, app: orchestrations, logger: silentLogger, tracerProvider: a.provider });
    const hostB: Host = createHost({ store, port: false, app: activities, logger: silentLogger, tracerProvider: b.provider });
    await hostA.start();
    await hostB.start();
    const caller = a.provider.getTracer("test").startSpan("caller");
    let restarted: Host | undefined;
    try {
      await context.with(trace.setSpan(context.active(), caller), () => hostA.client.startNew("relay", { instanceId: "relay-1" }));
      caller.end();
      for (let i = 0; i < 300 && named(b.spans(), "activity remote").length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 300 && named(a.spans(), "orchestration relay").length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      // A is replaced by a new process (a new cache): its next step replays what A did.
      await hostA.stop();
      const c = collector();
      restarted = createHost({ store, port: false, app: orchestrations, logger: silentLogger, tracerProvider: c.provider });
      await restarted.start();
      await restarted.client.raiseEvent("relay-1", "go", "two");
      assert.deepEqual((await restarted.client.waitForCompletion("relay-1")).output, ["one!", "two!"]);
      const traceId = caller.spanContext().traceId;
      const stepsBefore = named(a.spans(), "orchestration relay");
      const stepsAfter = named(c.spans(), "orchestration relay");
      const remote = named(b.spans(), "activity remote");
      assert.equal(remote.length, 2);
      for (const s of [...stepsBefore, ...stepsAfter, ...remote]) assert.equal(s.spanContext().traceId, traceId, `${s.name} is in the caller's trace`);
      const startSpan = named(a.spans(), "perdure.client startNew relay")[0]!;
      assert.equal(parentOf(startSpan), caller.spanContext().spanId);
      for (const s of [...stepsBefore, ...stepsAfter]) assert.equal(parentOf(s), startSpan.spanContext().spanId);
      const allSteps = new Set([...stepsBefore, ...stepsAfter].map((s) => s.spanContext().spanId));
      for (const s of remote) assert.ok(allSteps.has(parentOf(s)!), "B's activity spans are children of A's step spans");
      const committed = (await restarted.provider.getHistory("relay-1")).filter((e) => e.type === "OrchestratorStarted").length;
      assert.equal(stepsBefore.length + stepsAfter.length, committed, "each committed step traced once, before and after the restart");
      assert.ok((attr(stepsAfter[0]!, "perdure.replayed_events") as number) > 0, "the restarted host replayed");
    } finally {
      await restarted?.stop();
      await hostB.stop();
      await hostA.stop().catch(() => undefined);
    }
  });
});
