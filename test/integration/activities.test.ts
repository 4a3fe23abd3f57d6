import assert from "node:assert/strict";
import { it } from "node:test";
import { RetryOptions } from "../../src/core/retry-options.js";
import { TaskFailedError } from "../../src/core/errors.js";
import { getClient } from "../../src/index.js";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";

forEachStore("activities", (start) => {
  it("chains activities and returns their results in order", async () => {
    const host = await start((app) => {
      app.activity("sayHello", { handler: (name: string) => `Hello ${name}` });
      app.orchestration("helloSequence", function* (ctx) {
        const out: unknown[] = [];
        for (const city of ["Tokyo", "Seattle", "Cairo"]) out.push(yield ctx.df.callActivity("sayHello", city));
        return out;
      });
    });
    const id = await host.client.startNew("helloSequence");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed");
    assert.deepEqual(status.output, ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]);
    const history = await storedHistory(host, id);
    const scheduled = history.filter((e) => e.type === "TaskScheduled");
    assert.deepEqual(scheduled.map((e) => (e as { input?: unknown }).input), ["Tokyo", "Seattle", "Cairo"]);
    assert.equal(history.filter((e) => e.type === "TaskCompleted").length, 3);
  });

  it("hands a failing activity's name, message and stack to the orchestrator", async () => {
    const host = await start((app) => {
      app.activity("explode", {
        handler: () => {
          throw new RangeError("the reactor is too hot");
        },
      });
      app.orchestration("catcher", function* (ctx) {
        try {
          yield ctx.df.callActivity("explode");
          return "not reached";
        } catch (err) {
          const e = err as TaskFailedError;
          return { isTaskFailed: e instanceof TaskFailedError, code: e.code, message: e.message, name: e.taskName, type: e.failureDetails.errorType, original: e.failureDetails.errorMessage, stackHasOrigin: /RangeError: the reactor is too hot/.test(e.failureDetails.stackTrace ?? "") };
        }
      });
    });
    const id = await host.client.startNew("catcher");
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, {
      isTaskFailed: true,
      code: "TASK_FAILED",
      message: "Activity function 'explode' failed: the reactor is too hot",
      name: "explode",
      type: "RangeError",
      original: "the reactor is too hot",
      stackHasOrigin: true,
    });
  });

  it("records what the exception properties provider says about an activity's error; isCausedBy walks the causes", async () => {
    class QuotaError extends Error {
      constructor(readonly limit: number) {
        super("quota exceeded");
        this.name = "QuotaError";
      }
    }
    const warnings: string[] = [];
    const host = await start(
      (app) => {
        app.setExceptionPropertiesProvider({
          getExceptionProperties(error) {
            if (error instanceof QuotaError) return { limit: error.limit, retryable: false };
            if (error instanceof Error && error.message === "provider throws") throw new Error("bad provider");
            if (error instanceof Error && error.message === "not storable") return { big: 1n };
            if (error instanceof Error && error.message === "too large") return { dump: "d".repeat(40_000) };
            return undefined;
          },
        });
        app.activity("quota", { handler: () => { throw new Error("wrapped", { cause: new QuotaError(5) }); } });
        app.activity("direct", { handler: () => { throw new QuotaError(7); } });
        app.activity("providerThrows", { handler: () => { throw new Error("provider throws"); } });
        app.activity("notStorable", { handler: () => { throw new Error("not storable"); } });
        app.activity("tooLarge", { handler: () => { throw new Error("too large"); } });
        app.orchestration("inspectFailures", function* (ctx) {
          const out: unknown[] = [];
          for (const name of ["quota", "direct", "providerThrows", "notStorable", "tooLarge"]) {
            try {
              yield ctx.df.callActivity(name);
            } catch (err) {
              const d = (err as TaskFailedError).failureDetails;
              out.push({ name, properties: d.properties ?? null, causedByQuota: d.isCausedBy("QuotaError"), causedByRange: d.isCausedBy("RangeError"), message: d.errorMessage });
            }
          }
          return out;
        });
      },
      { logger: { info: () => {}, debug: () => {}, error: () => {}, warn: (m: string) => warnings.push(m) } },
    );
    const status = await host.client.waitForCompletion(await host.client.startNew("inspectFailures"));
    assert.deepEqual(status.output, [
      { name: "quota", properties: null, causedByQuota: true, causedByRange: false, message: "wrapped" },
      { name: "direct", properties: { limit: 7, retryable: false }, causedByQuota: true, causedByRange: false, message: "quota exceeded" },
      { name: "providerThrows", properties: null, causedByQuota: false, causedByRange: false, message: "provider throws" },
      { name: "notStorable", properties: null, causedByQuota: false, causedByRange: false, message: "not storable" },
      { name: "tooLarge", properties: null, causedByQuota: false, causedByRange: false, message: "too large" },
    ]);
    assert.ok(warnings.some((w) => /provider threw for a failure of 'providerThrows' \(bad provider\)/.test(w)), warnings.join("\n"));
    assert.ok(warnings.some((w) => /exception properties of a failure of 'notStorable' cannot be stored/.test(w)), warnings.join("\n"));
    assert.ok(warnings.some((w) => /exception properties of a failure of 'tooLarge' are 40,011 bytes as JSON, over the 32,768 kept with a failure\. The failure is recorded without them\./.test(w)), warnings.join("\n"));
    assert.throws(() => host.app.setExceptionPropertiesProvider({} as never), { code: "INVALID_ARGUMENT", message: /getExceptionProperties/ });
  });

  it("fails the instance with the activity's details when the orchestrator does not catch", async () => {
    const host = await start((app) => {
      app.activity("explode", {
        handler: () => {
          throw new Error("kaboom");
        },
      });
      app.orchestration("uncaught", function* (ctx) {
        yield ctx.df.callActivity("explode");
      });
    });
    const id = await host.client.startNew("uncaught");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.output, "Orchestrator function 'uncaught' failed: Activity function 'explode' failed: kaboom");
    assert.equal(status.failureDetails?.errorType, "TaskFailedError");
    assert.match(status.failureDetails?.stackTrace ?? "", /kaboom/);
  });

  it("a call to an activity no host has waits, shown as parked (FUNCTION_NOT_FOUND); terminate still ends it", async () => {
    const host = await start(
      (app) => {
        app.activity("known", { handler: () => 1 });
        app.orchestration("callsMissing", function* (ctx) {
          return yield ctx.df.callActivity("unknownActivity");
        });
      },
      { strandedAfterMs: 100 },
    );
    const id = await host.client.startNew("callsMissing");
    const parked = await eventually(async () => (await host.client.getStatus(id)).parked, 10_000, "the waiting call to be reported");
    assert.equal(parked.code, "FUNCTION_NOT_FOUND");
    assert.match(parked.message, /Activity 'unknownActivity' is not registered on host .*; the call waits for a host that has it/);
    assert.equal((await host.client.getStatus(id)).runtimeStatus, "Running", "nothing was failed");
    await host.client.terminate(id, "given up");
    const done = await host.client.waitForCompletion(id);
    assert.equal(done.runtimeStatus, "Terminated");
    assert.equal(done.output, "given up");
  });

  it("retries with backoff, counting the first attempt, delays as durable timers", async () => {
    const calls: number[] = [];
    const host = await start((app) => {
      app.activity("flaky", {
        handler: () => {
          calls.push(Date.now());
          if (calls.length < 3) throw new Error(`flake ${calls.length}`);
          return "finally";
        },
      });
      app.orchestration("retrying", function* (ctx) {
        const options = new RetryOptions(40, 3);
        options.backoffCoefficient = 2;
        return yield ctx.df.callActivityWithRetry("flaky", options);
      });
    });
    const id = await host.client.startNew("retrying");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "finally");
    assert.equal(calls.length, 3);
    const history = await storedHistory(host, id);
    const timers = history.filter((e) => e.type === "TimerCreated") as { fireAt: string; timestamp: string }[];
    assert.equal(timers.length, 2, "one durable timer per retry");
    const delays = timers.map((t) => Date.parse(t.fireAt) - Date.parse(t.timestamp));
    assert.deepEqual(delays, [40, 80], "first interval, then times the backoff coefficient");
    assert.ok(calls[1]! - calls[0]! >= 40 && calls[2]! - calls[1]! >= 80, "attempts never run before their timer");
  });

  it("stops after maxNumberOfAttempts and throws the last attempt's error", async () => {
    let n = 0;
    const host = await start((app) => {
      app.activity("alwaysFails", {
        handler: () => {
          n++;
          throw new Error(`attempt ${n} failed`);
        },
      });
      app.orchestration("givesUp", function* (ctx) {
        const options = new RetryOptions(10, 2);
        options.maxRetryIntervalInMilliseconds = 10;
        try {
          yield ctx.df.callActivityWithRetry("alwaysFails", options);
        } catch (err) {
          return (err as Error).message;
        }
      });
    });
    const id = await host.client.startNew("givesUp");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "Activity function 'alwaysFails' failed: attempt 2 failed");
    assert.equal(n, 2);
  });

  it("stops retrying once retryTimeoutInMilliseconds has passed", async () => {
    let n = 0;
    const host = await start((app) => {
      app.activity("slowFail", {
        handler: async () => {
          n++;
          await new Promise((r) => setTimeout(r, 60));
          throw new Error("still failing");
        },
      });
      app.orchestration("timeBoxed", function* (ctx) {
        const options = new RetryOptions(10, 100);
        options.retryTimeoutInMilliseconds = 100;
        try {
          yield ctx.df.callActivityWithRetry("slowFail", options);
        } catch {
          return "gave up";
        }
      });
    });
    const id = await host.client.startNew("timeBoxed");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "gave up");
    assert.ok(n >= 1 && n <= 3, `stopped by the timeout, not the 100 attempts (ran ${n})`);
  });

  it("passes the activity context: instance id, attempt and a stable idempotency key", async () => {
    const seen: unknown[] = [];
    const host = await start((app) => {
      app.activity("inspect", {
        handler: (input: number, context) => {
          seen.push({ input, instanceId: context.instanceId, attempt: context.attempt, key: context.idempotencyKey });
          return input * 2;
        },
      });
      app.orchestration("inspector", function* (ctx) {
        return yield ctx.df.callActivity("inspect", 21);
      });
    });
    const id = await host.client.startNew("inspector", { instanceId: "inspect-1" });
    assert.equal((await host.client.waitForCompletion(id)).output, 42);
    assert.equal(seen.length, 1);
    const s = seen[0] as { input: number; instanceId: string; attempt: number; key: string };
    assert.equal(s.input, 21);
    assert.equal(s.instanceId, "inspect-1");
    assert.equal(s.attempt, 1);
    assert.match(s.key, /^inspect-1:[0-9a-f]{32}:0$/);
  });

  it("gives activities a durable client through df.getClient(context)", async () => {
    const host = await start((app) => {
      app.activity("startChild", {
        handler: async (input: string, context) => getClient(context).startNew("childOfActivity", { input, instanceId: `${context.instanceId}-spawned` }),
      });
      app.activity("echo", { handler: (x: unknown) => x });
      app.orchestration("childOfActivity", function* (ctx) {
        return yield ctx.df.callActivity("echo", ctx.df.getInput());
      });
      app.orchestration("spawner", function* (ctx) {
        return yield ctx.df.callActivity("startChild", "from an activity");
      });
    });
    const id = await host.client.startNew("spawner", { instanceId: "spawner-1" });
    assert.equal((await host.client.waitForCompletion(id)).output, "spawner-1-spawned");
    assert.equal((await host.client.waitForCompletion("spawner-1-spawned")).output, "from an activity");
    assert.throws(() => getClient({}), { code: "CLIENT_NOT_AVAILABLE" });
  });
});
