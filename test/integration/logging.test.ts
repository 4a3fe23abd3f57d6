/**
 * Logs: the host's logger writes JSON lines or text, the runtime's tracking events carry the
 * Durable Functions tracking fields and are never repeated by a replay, and the orchestration
 * context's logger writes each line once however often the code is replayed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp, createHost } from "../../src/index.js";
import { createLogger, type LogFields, type Logger } from "../../src/runtime/logger.js";

interface Line {
  level: string;
  message: string;
  fields: LogFields;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, fields: LogFields = {}): void =>
      void lines.push({ level, message, fields });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("createLogger", () => {
  it("writes one JSON object per line, warnings and errors to the error stream, and drops what is below its level", () => {
    const out: string[] = [];
    const err: string[] = [];
    const log = createLogger({ format: "json", out: (l) => void out.push(l), err: (l) => void err.push(l), now: () => Date.UTC(2026, 11, 6, 10, 0, 0, 123) });
    log.info("started", { instanceId: "a b", count: 2, isReplaying: false, skipped: undefined });
    log.warn('careful "quotes"\nand lines');
    log.error("broke", { msg: "cannot override", level: "nope" });
    assert.equal("debug" in log, false, "no debug records at the default level");
    assert.deepEqual(JSON.parse(out[0]!), { time: "2026-12-06T10:00:00.123Z", level: "info", msg: "started", instanceId: "a b", count: 2, isReplaying: false });
    assert.equal(out.length, 1);
    assert.deepEqual(JSON.parse(err[0]!), { time: "2026-12-06T10:00:00.123Z", level: "warn", msg: 'careful "quotes"\nand lines' });
    assert.deepEqual(JSON.parse(err[1]!), { time: "2026-12-06T10:00:00.123Z", level: "error", msg: "broke" }, "fields never replace time, level or msg");

    const quiet = createLogger({ format: "json", level: "warn", out: (l) => void out.push(l), err: (l) => void err.push(l) });
    quiet.info("not written");
    assert.equal(out.length, 1);
    const verbose = createLogger({ format: "json", level: "debug", out: (l) => void out.push(l), err: () => undefined });
    verbose.debug!("detail", { event: "TaskScheduled" });
    assert.equal((JSON.parse(out[1]!) as { level: string }).level, "debug");
  });

  it("writes lines for people on a terminal: time, level, message, then key=value", () => {
    const out: string[] = [];
    const log = createLogger({ isTTY: true, out: (l) => void out.push(l), now: () => Date.UTC(2026, 11, 6, 10, 0, 0) });
    log.info("Activity 'greet' completed", { instanceId: "i-1", reason: "two words", durationMs: 3 });
    assert.equal(out[0], `2026-12-06T10:00:00.000Z INFO  Activity 'greet' completed  instanceId=i-1 reason="two words" durationMs=3`);
  });
});

describe("tracking events and the orchestration context's logger", () => {
  for (const store of ["memory:", "sqlite::memory:"]) {
    it(`reports each event once, with the tracking fields, even when every step replays (${store})`, async () => {
      const { logger, lines } = capture();
      const app = createApp();
      app.activity("shout", { handler: (s: string) => s.toUpperCase() });
      app.activity("fails", {
        handler: () => {
          throw new Error("nope");
        },
      });
      app.orchestration("child", function* (ctx) {
        return yield ctx.df.callActivity("shout", ctx.df.getInput<string>());
      });
      app.orchestration("parent", function* (ctx) {
        ctx.log("log line");
        ctx.info("info line");
        ctx.debug("debug line");
        ctx.trace("trace line");
        const a: string = yield ctx.df.callActivity("shout", "a");
        ctx.warn(`warn after ${a}`);
        const b: string = yield ctx.df.callSubOrchestrator("child", "b", "child-1");
        try {
          yield ctx.df.callActivity("fails");
        } catch {
          ctx.error("error line");
        }
        yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 10));
        const go: string = yield ctx.df.waitForExternalEvent("go");
        return [a, b, go];
      });
      // No executor cache: every step replays the whole history before it.
      const host = createHost({ store, port: false, app, logger, executorCacheSize: 0, workerId: "w-1" });
      await host.start();
      try {
        await host.client.startNew("parent", { instanceId: "p-1" });
        const waiting = async (): Promise<boolean> => lines.some((l) => l.fields.event === "TimerFired" && l.fields.instanceId === "p-1");
        for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 10));
        await host.client.raiseEvent("p-1", "go", "went");
        assert.deepEqual((await host.client.waitForCompletion("p-1")).output, ["A", "B", "went"]);
      } finally {
        await host.stop();
      }
      const mine = lines.filter((l) => l.fields.instanceId === "p-1");
      const user = mine.filter((l) => l.fields.event === undefined).map((l) => [l.level, l.message]);
      assert.deepEqual(
        user,
        [
          ["info", "log line"],
          ["info", "info line"],
          ["debug", "debug line"],
          ["debug", "trace line"],
          ["warn", "warn after A"],
          ["error", "error line"],
        ],
        "each context log line once, at its level",
      );
      const tracked = mine.filter((l) => l.fields.event !== undefined && l.fields.functionType === "orchestration").map((l) => l.fields.event);
      assert.deepEqual(tracked, [
        "ExecutionStarted",
        "TaskScheduled",
        "TaskCompleted",
        "SubOrchestrationInstanceCreated",
        "SubOrchestrationInstanceCompleted",
        "TaskScheduled",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "EventRaised",
        "ExecutionCompleted",
      ]);
      for (const l of mine) {
        assert.equal(l.fields.workerId, "w-1");
        assert.equal(l.fields.isReplaying, false);
        if (l.fields.functionType === "orchestration") assert.equal(l.fields.functionName, "parent");
      }
      const activities = lines.filter((l) => l.fields.functionType === "activity" && l.fields.event !== undefined).map((l) => `${String(l.fields.instanceId)} ${String(l.fields.functionName)} ${String(l.fields.event)}`);
      assert.deepEqual(activities.sort(), [
        "child-1 shout ActivityCompleted",
        "child-1 shout ActivityStarting",
        "p-1 fails ActivityFailed",
        "p-1 fails ActivityStarting",
        "p-1 shout ActivityCompleted",
        "p-1 shout ActivityStarting",
      ]);
      const failed = lines.find((l) => l.fields.event === "ActivityFailed")!;
      assert.match(String(failed.fields.reason), /nope/);
      assert.equal(typeof failed.fields.durationMs, "number");
      const subCreated = mine.find((l) => l.fields.event === "SubOrchestrationInstanceCreated")!;
      assert.deepEqual([subCreated.fields.target, subCreated.fields.targetInstanceId], ["child", "child-1"]);
    });
  }

  it("a logger without debug gets no tracking events at all", async () => {
    const lines: string[] = [];
    const app = createApp();
    app.activity("noop", { handler: () => 1 });
    app.orchestration("o", function* (ctx) {
      return yield ctx.df.callActivity("noop");
    });
    const host = createHost({ store: "memory:", port: false, app, logger: { info: (m) => void lines.push(m), warn: (m) => void lines.push(m), error: (m) => void lines.push(m) } });
    await host.start();
    try {
      await host.client.waitForCompletion(await host.client.startNew("o"));
    } finally {
      await host.stop();
    }
    assert.deepEqual(lines, []);
  });
});
