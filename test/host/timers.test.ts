/**
 * Timer functions (`df.app.client.timer`, `app.timer` of perdure/azure-functions), run by the host:
 * the Timer and context handlers see, the durable client, failures, runOnStartup, past-due runs
 * after downtime, time zones, stop, and each occurrence run exactly once by hosts sharing a store.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { createApp, type DurableApp } from "../../src/app.js";
import { app as azureApp, trigger as azureTrigger, type Timer as AzureTimer } from "../../src/azure-functions.js";
import type { DurableClient } from "../../src/client/durable-client.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import type { Timer } from "../../src/durable-functions.js";
import { createHost, type Host, type HostOptions } from "../../src/host/host.js";
import * as df from "../../src/index.js";
import { MemoryProvider } from "../../src/providers/memory/memory-provider.js";
import type { StorageProvider } from "../../src/providers/provider.js";
import type { InvocationContext } from "../../src/runtime/invocation-context.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { ManualClock } from "../helpers/clock.js";
import { eventually, forEachSharedStore, forEachStore, wait } from "../helpers/hosts.js";
import { recordingLogger } from "../helpers/logger.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Run {
  timer: Timer;
  context: InvocationContext;
  client?: DurableClient;
}

const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

async function startHost(app: DurableApp, options: Omit<HostOptions, "app"> = {}): Promise<Host> {
  const host = createHost({ store: "memory:", port: false, app, logger: silentLogger, pollIntervalMs: 10, ...options });
  hosts.push(host);
  await host.start();
  return host;
}

/** The occurrence a run stands for, for a schedule of period `period`: the one before `next`. */
const occurrenceOf = (timer: Timer, period: number): number => Date.parse(timer.scheduleStatus!.next) - period;

/**
 * A handle on `store` whose timer records (`...TimerOccurrence` methods) hang once `freeze()` was
 * called, or throw while `failing` is above 0 (one failure per call), as they would for a host that
 * died or froze (its lease no longer renewed, its run never recorded as done), or lost the store.
 */
function faultyTimers(store: StorageProvider): { provider: StorageProvider; freeze: () => void; fail: (calls: number, methods?: RegExp) => void } {
  let frozen = false;
  let failing = 0;
  let failed = /TimerOccurrence$/;
  const provider = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof prop !== "string" || !/TimerOccurrence$/.test(prop)) return method.bind(target);
      return (...args: unknown[]) => {
        if (frozen) return new Promise(() => undefined);
        if (failing > 0 && failed.test(prop)) {
          failing--;
          return Promise.reject(new Error(`store unreachable (${prop})`));
        }
        return method.apply(target, args);
      };
    },
  });
  return {
    provider,
    freeze: () => void (frozen = true),
    fail: (calls, methods = /TimerOccurrence$/) => {
      failing = calls;
      failed = methods;
    },
  };
}

forEachStore("timer functions", (start) => {
  it("a timer every second runs, with the Timer object of @azure/functions and an invocation context", async () => {
    const runs: Run[] = [];
    await start((app) => {
      app.client.timer("everySecond", {
        schedule: "* * * * * *",
        handler: (timer, client, context) => {
          runs.push({ timer, client, context });
        },
      });
    });
    await eventually(async () => runs.length >= 3, 10_000, "three runs");
    const [first, second] = runs as [Run, Run];
    assert.equal(first.timer.isPastDue, false);
    assert.deepEqual(first.timer.schedule, { adjustForDST: true });
    const status = first.timer.scheduleStatus!;
    for (const t of [status.last, status.next, status.lastUpdated]) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(Date.parse(status.next) % 1000, 0, "occurrences fall on whole seconds");
    assert.ok(Date.parse(status.lastUpdated) >= Date.parse(status.next) - 1000, "never early");
    assert.equal(Date.parse(second.timer.scheduleStatus!.next) - Date.parse(status.next), 1000, "the next run is the next second");
    assert.equal(second.timer.scheduleStatus!.last, new Date(Date.parse(status.next) - 1000).toISOString(), "last: the previous occurrence");
    assert.equal(status.last, "0001-01-01T00:00:00.000Z", "the first run has no last run (Azure's never), not the time the timer was first seen");
    assert.equal(first.context.functionName, "everySecond");
    assert.match(first.context.invocationId, /^[0-9a-f-]{36}$/);
    assert.notEqual(first.context.invocationId, second.context.invocationId);
    assert.deepEqual(first.context.options.trigger, { type: "timerTrigger", name: "myTimer", schedule: "* * * * * *", runOnStartup: false, useMonitor: false });
    assert.equal(df.getClient(first.context), first.client, "df.getClient(context) is the client passed in");
  });
});

describe("df.app.client.timer", () => {
  it("gets the host's durable client: an orchestration started from the handler completes", async () => {
    const clock = new ManualClock();
    const app = createApp();
    app.activity("stamp", { handler: (at: string) => `ran at ${at}` });
    app.orchestration("nightly", function* (ctx) {
      return yield ctx.df.callActivity("stamp", ctx.df.getInput<string>());
    });
    const started: string[] = [];
    app.client.timer("kickOff", {
      schedule: "0 0 2 * * *",
      handler: async (timer, client, context) => {
        const id = await client.startNew("nightly", { input: timer.scheduleStatus!.lastUpdated });
        context.log(`started ${id}`);
        started.push(id);
        assert.equal(df.getClient(context), client);
      },
    });
    const host = await startHost(app, { clock });
    await wait(50);
    assert.deepEqual(started, [], "nothing before 02:00");
    clock.advance(2 * HOUR);
    const [id] = await eventually(async () => started.length > 0 && started, 10_000, "the timer to start an orchestration");
    const status = await host.client.waitForCompletion(id!);
    assert.equal(status.runtimeStatus, "Completed");
    assert.equal(status.output, "ran at 2026-01-01T02:00:00.000Z");
  });

  it("a handler that throws is logged with the function's name, and the schedule goes on", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const app = createApp();
    let calls = 0;
    app.client.timer("flaky", {
      schedule: "0 * * * * *",
      handler: () => {
        calls++;
        if (calls === 1) throw new Error("first run fails");
        return Promise.reject(new Error("async failures too"));
      },
    });
    await startHost(app, { clock, logger });
    for (let i = 1; i <= 3; i++) {
      clock.advance(MINUTE);
      await eventually(async () => calls >= i, 10_000, `run ${i}`);
    }
    await eventually(async () => logger.lines.filter((l) => l.level === "error").length >= 3);
    const errors = logger.lines.filter((l) => l.level === "error");
    assert.match(errors[0]!.message, /^Timer function 'flaky' failed: Error: first run fails/);
    assert.match(errors[1]!.message, /^Timer function 'flaky' failed: Error: async failures too/);
    assert.equal(errors[0]!.fields?.functionName, "flaky");
  });

  it("a timer function's extra outputs go to their binding handlers, as an activity's do", async () => {
    const clock = new ManualClock();
    const app = createApp();
    const delivered: { value: unknown; path: unknown; fn: string }[] = [];
    app.registry.bindings.set("queue", { output: (value, binding, context) => void delivered.push({ value, path: binding.queueName, fn: context.functionName }) });
    const queue = { type: "queue", name: "reportQueue", queueName: "reports" };
    app.client.timer("nightlyReport", {
      schedule: "0 * * * * *",
      extraOutputs: [queue],
      handler: (timer: Timer, _client: DurableClient, context: InvocationContext) => context.extraOutputs.set(queue, { at: timer.scheduleStatus!.lastUpdated }),
    });
    await startHost(app, { clock });
    clock.advance(MINUTE);
    await eventually(async () => delivered.length >= 1, 10_000, "the output");
    assert.equal(delivered[0]!.fn, "nightlyReport");
    assert.equal(delivered[0]!.path, "reports");
    assert.match((delivered[0]!.value as { at: string }).at, /^\d{4}-\d\d-\d\dT/);
  });

  it("runOnStartup runs once when the host starts, then on the schedule", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:10:00Z"));
    const runs: Timer[] = [];
    const app = createApp();
    app.client.timer("warmUp", { schedule: "0 0 * * * *", runOnStartup: true, handler: (timer) => void runs.push(timer) });
    await startHost(app, { clock });
    await eventually(async () => runs.length === 1, 10_000, "the start-up run");
    assert.equal(runs[0]!.isPastDue, false);
    assert.equal(runs[0]!.scheduleStatus!.next, "2026-01-01T01:00:00.000Z");
    await wait(50);
    assert.equal(runs.length, 1, "once");
    clock.advance(50 * MINUTE);
    await eventually(async () => runs.length === 2, 10_000, "the 01:00 run");
    assert.equal(runs[1]!.isPastDue, false);
    assert.equal(runs[1]!.scheduleStatus!.next, "2026-01-01T02:00:00.000Z");
  });

  it("an occurrence missed while no host ran runs once at start, past due (also before the first run); useMonitor: false skips it", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:30:00Z"));
    const store = new MemoryProvider();
    const runs: { name: string; timer: Timer }[] = [];
    const register = (app: DurableApp): void => {
      for (const [name, useMonitor] of [["hourly", true], ["unmonitored", false]] as const) {
        app.client.timer(name, { schedule: "0 0 * * * *", useMonitor, handler: (timer) => void runs.push({ name, timer }) });
      }
    };
    const first = createApp();
    register(first);
    const a = await startHost(first, { clock, store });
    await wait(30);
    await a.stop(); // down before the first occurrence ran
    clock.advance(5 * HOUR); // 05:30: 01:00 ... 05:00 missed
    const second = createApp();
    register(second);
    const b = await startHost(second, { clock, store: store.openSecondHandle() });
    await eventually(async () => runs.length === 1, 10_000, "the past-due run");
    assert.equal(runs[0]!.name, "hourly");
    assert.equal(runs[0]!.timer.isPastDue, true);
    assert.equal(runs[0]!.timer.scheduleStatus!.next, "2026-01-01T06:00:00.000Z", "one run stands for them all: the next is the next one to come");
    await wait(50);
    assert.equal(runs.length, 1, "once");
    await b.stop();

    // Down over one occurrence after running: past due again, last = the occurrence that ran.
    clock.advance(HOUR); // 06:30, 06:00 missed
    const third = createApp();
    register(third);
    await startHost(third, { clock, store: store.openSecondHandle() });
    await eventually(async () => runs.length === 2, 10_000, "the second past-due run");
    assert.equal(runs[1]!.timer.isPastDue, true);
    assert.equal(runs[1]!.timer.scheduleStatus!.last, "2026-01-01T05:00:00.000Z");
    clock.advance(30 * MINUTE); // 07:00: on time, both timers
    await eventually(async () => runs.length === 4, 10_000, "the 07:00 runs");
    assert.deepEqual(runs.slice(2).map((r) => [r.name, r.timer.isPastDue]).sort(), [["hourly", false], ["unmonitored", false]]);
  });

  it("a host that falls behind by several occurrences runs once for them, past due", async () => {
    const clock = new ManualClock();
    const runs: Timer[] = [];
    const app = createApp();
    app.client.timer("fiveMinutes", { schedule: "0 */5 * * * *", handler: (timer) => void runs.push(timer) });
    await startHost(app, { clock });
    clock.advance(5 * MINUTE);
    await eventually(async () => runs.length === 1);
    clock.advance(17 * MINUTE); // 00:22: 00:10, 00:15, 00:20 due
    await eventually(async () => runs.length === 2);
    assert.deepEqual(
      runs.map((t) => [t.isPastDue, t.scheduleStatus!.last, t.scheduleStatus!.next]),
      [
        [false, "2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.000Z"],
        [true, "2026-01-01T00:05:00.000Z", "2026-01-01T00:25:00.000Z"],
      ],
    );
  });

  it("reads the schedule in the host's time zone (WEBSITE_TIME_ZONE or the timeZone option)", async () => {
    const clock = new ManualClock(); // 2026-01-01T00:00Z is 09:00 in Tokyo
    const runs: Timer[] = [];
    const app = createApp();
    app.client.timer("tokyoMorning", { schedule: "0 0 9 * * *", handler: (timer) => void runs.push(timer) });
    const saved = process.env.WEBSITE_TIME_ZONE;
    process.env.WEBSITE_TIME_ZONE = "Asia/Tokyo";
    try {
      await startHost(app, { clock });
    } finally {
      if (saved === undefined) delete process.env.WEBSITE_TIME_ZONE;
      else process.env.WEBSITE_TIME_ZONE = saved;
    }
    clock.advance(24 * HOUR);
    await eventually(async () => runs.length === 1);
    assert.equal(runs[0]!.scheduleStatus!.next, "2026-01-03T00:00:00.000Z");
    assert.throws(() => createHost({ store: "memory:", port: false, app, timeZone: "Tokyo Standard Time" }), (e: InvalidArgumentError) => e.code === "INVALID_ARGUMENT" && /Unknown time zone 'Tokyo Standard Time'.*IANA/.test(e.message));
    // A Windows name in WEBSITE_TIME_ZONE (as App Service on Windows sets it) stops an app with timers, not one without.
    process.env.WEBSITE_TIME_ZONE = "Tokyo Standard Time";
    try {
      assert.throws(() => createHost({ store: "memory:", port: false, app }), { code: "INVALID_ARGUMENT" });
      const noTimers = createHost({ store: "memory:", port: false, app: createApp() });
      assert.ok(noTimers);
    } finally {
      if (saved === undefined) delete process.env.WEBSITE_TIME_ZONE;
      else process.env.WEBSITE_TIME_ZONE = saved;
    }
  });

  it("stop waits for a run in progress, and no run starts after it", async () => {
    const clock = new ManualClock();
    let running = 0;
    let finished = 0;
    let release: () => void = () => undefined;
    const app = createApp();
    app.client.timer("slow", {
      schedule: "0 * * * * *",
      handler: async () => {
        running++;
        await new Promise<void>((r) => (release = r));
        finished++;
      },
    });
    const host = await startHost(app, { clock });
    clock.advance(MINUTE);
    await eventually(async () => running === 1);
    const stopping = host.stop();
    await wait(30);
    assert.equal(finished, 0, "stop is waiting");
    release();
    await stopping;
    assert.equal(finished, 1);
    clock.advance(MINUTE);
    await wait(50);
    assert.equal(running, 1, "nothing after stop");
  });

  it("stop waits for a run no longer than the drain grace period, and the workers drain meanwhile", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    let running = 0;
    const app = createApp();
    app.client.timer("stuck", {
      schedule: "0 * * * * *",
      handler: async () => {
        running++;
        await new Promise<void>(() => undefined); // never ends
      },
    });
    const host = await startHost(app, { clock, logger, drainTimeoutMs: 300 });
    clock.advance(MINUTE);
    await eventually(async () => running === 1);
    const started = Date.now();
    await host.stop();
    assert.ok(Date.now() - started < 5_000, "stop returned after the grace period");
    assert.ok(logger.lines.some((l) => l.level === "warn" && /timer function run\(s\) still in progress after the 300 ms grace period: stuck/.test(l.message)), JSON.stringify(logger.lines));
  });

  it("a host without workers (--http-only) runs no timers", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const app = createApp();
    app.client.timer("notHere", { schedule: "0 * * * * *", runOnStartup: true, handler: () => void calls++ });
    await startHost(app, { clock, workers: false });
    clock.advance(2 * MINUTE);
    await wait(50);
    assert.equal(calls, 0);
  });

  it("bad schedules are refused at registration, naming the function, the field and the problem, with an example", () => {
    const app = createApp();
    assert.throws(
      () => app.client.timer("report", { schedule: "0 */5 * * * *x", handler: () => undefined }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.code, "INVALID_ARGUMENT");
        assert.equal(
          e.message,
          "Timer function 'report': Invalid timer schedule '0 */5 * * * *x': field 6 (day of week) '*x': '*x' is not a number between 0 and 6 or a name (Sun-Sat, 0 = Sunday). Use six fields: {second} {minute} {hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *' (every five minutes), or a TimeSpan such as '00:05:00'.",
        );
        return true;
      },
    );
    assert.throws(() => app.client.timer("r2", { schedule: "0 0 25 * * *", handler: () => undefined }), /Timer function 'r2': .*field 3 \(hour\) '25': 25 is out of range 0-23/);
    assert.throws(() => app.client.timer("r3", { schedule: undefined as unknown as string, handler: () => undefined }), /a schedule must be a string/);
    assert.throws(() => app.client.timer("r4", { schedule: "0 * * * * *" } as never), /needs \{ schedule/);
    assert.throws(() => app.client.timer("r5", { schedule: "0 * * * * *", runOnStartup: "yes" as never, handler: () => undefined }), /runOnStartup must be true or false/);
    assert.throws(() => azureApp.timer("r6", { schedule: "* * *", handler: () => undefined }), /Timer function 'r6': Invalid timer schedule '\* \* \*': it has 3 fields/);
    // Nothing half-registered: the names are still free.
    app.client.timer("report", { schedule: "0 */5 * * * *", handler: () => undefined });
    assert.equal(app.registry.timerFunctions.length, 1);
    assert.throws(() => app.client.timer("REPORT", { schedule: "0 * * * * *", handler: () => undefined }), { code: "DUPLICATE_FUNCTION" });
  });

  it("reads %AppSetting% in a schedule from the environment", () => {
    const app = createApp();
    process.env.PERDURE_TEST_TIMER_SCHEDULE = "0 30 9 * * 1-5";
    try {
      app.client.timer("fromSetting", { schedule: "%PERDURE_TEST_TIMER_SCHEDULE%", handler: () => undefined });
    } finally {
      delete process.env.PERDURE_TEST_TIMER_SCHEDULE;
    }
    assert.equal(app.registry.timerFunctions[0]!.schedule.expression, "0 30 9 * * 1-5");
    assert.throws(() => app.client.timer("unset", { schedule: "%PERDURE_TEST_NO_SUCH_SETTING%", handler: () => undefined }), /names the app setting PERDURE_TEST_NO_SUCH_SETTING, which is not set/);
  });
});

describe("timer runs interrupted by a host's death", () => {
  const LEASE_MS = 5_000; // the default lease
  const at = (iso: string): number => Date.parse(iso);
  const never = (): Promise<void> => new Promise<void>(() => undefined);

  /** An app with the timer "report" every minute; `hang` makes its handler never end (the host then dies in it). */
  function reportApp(host: string, runs: { host: string; timer: Timer }[], options: { hang?: (timer: Timer) => boolean | Promise<void>; runOnStartup?: boolean } = {}): DurableApp {
    const app = createApp();
    app.client.timer("report", {
      schedule: "0 * * * * *",
      runOnStartup: options.runOnStartup ?? false,
      handler: async (timer) => {
        runs.push({ host, timer });
        const hang = options.hang?.(timer);
        if (hang === true) await never();
        else if (hang) await hang;
      },
    });
    return app;
  }
  const summary = (runs: { host: string; timer: Timer }[]): [string, string, boolean][] => runs.map((r) => [r.host, new Date(occurrenceOf(r.timer, MINUTE)).toISOString(), r.timer.isPastDue]);

  it("a run whose host dies is run again once, past due, by another host once its lease expired; then the schedule goes on", async () => {
    const clock = new ManualClock();
    const store = new MemoryProvider();
    const a = faultyTimers(store);
    const logger = recordingLogger();
    const runs: { host: string; timer: Timer }[] = [];
    await startHost(reportApp("a", runs, { hang: () => true }), { clock, store: a.provider, drainTimeoutMs: 100 });
    clock.advance(MINUTE); // 00:01: a claims it and dies in the run
    await eventually(async () => runs.length === 1, 10_000, "a's run");
    a.freeze();
    await startHost(reportApp("b", runs), { clock, store: store.openSecondHandle(), logger });
    await wait(100);
    assert.equal(runs.length, 1, "not while the lease is live");
    clock.advance(LEASE_MS + 1_000); // 00:01:06: the lease expired
    await eventually(async () => runs.length === 2, 10_000, "b to run it again");
    assert.deepEqual(summary(runs), [
      ["a", "2026-01-01T00:01:00.000Z", false],
      ["b", "2026-01-01T00:01:00.000Z", true],
    ]);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /'report': the run of its occurrence of 2026-01-01T00:01:00.000Z did not finish \(host \S+ stopped renewing its lease/.test(l.message)), JSON.stringify(logger.lines));
    await eventually(async () => (await store.readTimerOccurrence("report"))?.done === at("2026-01-01T00:01:00Z"), 10_000, "the rerun recorded as done");
    for (let i = 0; i < 5; i++) {
      clock.advance(LEASE_MS + 1_000); // up to 00:01:36: looks again, several times
      await wait(30);
    }
    assert.equal(runs.length, 2, "once");
    clock.advance(30 * 1_000); // 00:02:06
    await eventually(async () => runs.length === 3, 10_000, "the 00:02 run");
    assert.deepEqual(summary(runs)[2], ["b", "2026-01-01T00:02:00.000Z", false]);
  });

  it("a run that goes on keeps its lease, however long; once it ended it is never run again", async () => {
    const clock = new ManualClock();
    const store = new MemoryProvider();
    const runs: { host: string; timer: Timer }[] = [];
    let release: () => void = () => undefined;
    const lease = { leaseMs: 300, leaseRenewMs: 20 };
    await startHost(reportApp("a", runs, { hang: () => new Promise<void>((r) => (release = r)) }), { clock, store, ...lease });
    clock.advance(MINUTE);
    await eventually(async () => runs.length === 1, 10_000, "a's run");
    await startHost(reportApp("b", runs), { clock, store: store.openSecondHandle(), ...lease });
    for (let i = 0; i < 45; i++) {
      clock.advance(20); // 900 ms of the clock in all: three leases, renewed all along
      await wait(30);
    }
    assert.equal(runs.length, 1, "the run renewing its lease is not taken over");
    assert.ok((await store.readTimerOccurrence("report"))!.leaseUntil > clock.now(), "renewed");
    release();
    await eventually(async () => (await store.readTimerOccurrence("report"))?.done === at("2026-01-01T00:01:00Z"), 10_000, "the end recorded");
    clock.advance(10 * 300);
    await wait(100);
    assert.deepEqual(summary(runs), [["a", "2026-01-01T00:01:00.000Z", false]], "a run that ended is never run again");
  });

  it("a run superseded by a later occurrence is not run again", async () => {
    const clock = new ManualClock();
    const store = new MemoryProvider();
    const a = faultyTimers(store);
    const runs: { host: string; timer: Timer }[] = [];
    await startHost(reportApp("a", runs, { hang: () => true }), { clock, store: a.provider, drainTimeoutMs: 100 });
    clock.advance(MINUTE);
    await eventually(async () => runs.length === 1, 10_000, "a's run");
    a.freeze();
    await startHost(reportApp("b", runs), { clock, store: store.openSecondHandle() });
    clock.advance(MINUTE); // 00:02: the lease long expired, and the next occurrence due
    await eventually(async () => runs.length === 2, 10_000, "the 00:02 run");
    for (let i = 0; i < 5; i++) {
      clock.advance(LEASE_MS + 1_000);
      await wait(30);
    }
    assert.deepEqual(summary(runs), [
      ["a", "2026-01-01T00:01:00.000Z", false],
      ["b", "2026-01-01T00:02:00.000Z", false],
    ]);
  });

  it("a run left in progress by a stop after the grace period is run again, past due, by the next host to start (standing for its runOnStartup run)", async () => {
    const clock = new ManualClock();
    const store = new MemoryProvider();
    const logger = recordingLogger();
    const runs: { host: string; timer: Timer }[] = [];
    const a = await startHost(reportApp("a", runs, { hang: () => true }), { clock, store, logger, drainTimeoutMs: 100 });
    clock.advance(MINUTE);
    await eventually(async () => runs.length === 1, 10_000, "a's run");
    await a.stop();
    assert.ok(logger.lines.some((l) => l.level === "warn" && /still in progress after the 100 ms grace period: report\. .*another host runs them again, past due, once the lease \(5000 ms\) expires/.test(l.message)), JSON.stringify(logger.lines));
    clock.advance(LEASE_MS);
    await startHost(reportApp("b", runs, { runOnStartup: true }), { clock, store: store.openSecondHandle() });
    await eventually(async () => runs.length === 2, 10_000, "b's run at start");
    await wait(50);
    assert.deepEqual(summary(runs), [
      ["a", "2026-01-01T00:01:00.000Z", false],
      ["b", "2026-01-01T00:01:00.000Z", true],
    ]);
  });

  it("store errors renewing a lease or recording a run's end are logged, the scheduler goes on, and the run is not run again", async () => {
    const clock = new ManualClock();
    const store = new MemoryProvider();
    const a = faultyTimers(store);
    const logger = recordingLogger();
    const runs: { host: string; timer: Timer }[] = [];
    const lease = { leaseMs: 300, leaseRenewMs: 20 };
    await startHost(reportApp("a", runs, { hang: () => wait(400) }), { clock, store: a.provider, logger, ...lease });
    a.fail(2, /^renew/);
    clock.advance(MINUTE);
    await eventually(async () => logger.lines.filter((l) => /could not renew the lease of its run for the occurrence of 2026-01-01T00:01:00.000Z/.test(l.message)).length === 2, 10_000, "two renewals to fail");
    a.fail(1, /^complete/);
    await eventually(async () => logger.lines.some((l) => /could not record the end of its run for the occurrence of 2026-01-01T00:01:00.000Z .*store unreachable/.test(l.message)), 10_000, "the end not recorded");
    await startHost(reportApp("b", runs), { clock, store: store.openSecondHandle(), ...lease });
    clock.advance(300); // a looks again: records the end; b finds the run done
    await eventually(async () => (await store.readTimerOccurrence("report"))?.done === at("2026-01-01T00:01:00Z"), 10_000, "the end recorded at a's next look");
    clock.advance(3_000);
    await wait(100);
    assert.deepEqual(summary(runs), [["a", "2026-01-01T00:01:00.000Z", false]]);
    clock.advance(57_000); // 00:02
    await eventually(async () => runs.length === 2, 10_000, "the schedule goes on");
  });
});

describe("perdure/azure-functions app.timer", () => {
  it("registers a (myTimer, context) handler on the default app, with a timerTrigger binding", async () => {
    const clock = new ManualClock();
    const runs: { timer: AzureTimer; context: InvocationContext }[] = [];
    azureApp.timer("azureTimer", {
      schedule: "0 */5 * * * *",
      extraInputs: [df.input.durableClient()],
      handler: async (myTimer: AzureTimer, context: InvocationContext) => {
        runs.push({ timer: myTimer, context });
        await df.getClient(context).startNew("azureOrchestration");
      },
    });
    df.app.orchestration("azureOrchestration", function* () {
      return "done";
    });
    const host = await startHost(df.app, { clock });
    clock.advance(5 * MINUTE);
    await eventually(async () => runs.length === 1);
    const { timer, context } = runs[0]!;
    assert.equal(timer.isPastDue, false);
    assert.equal(timer.scheduleStatus.next, "2026-01-01T00:10:00.000Z");
    assert.equal(context.functionName, "azureTimer");
    assert.equal(context.options.trigger.type, "timerTrigger");
    assert.match(context.options.trigger.name, /^timerTrigger[0-9a-f]{10}$/);
    assert.equal(context.options.trigger.schedule, "0 */5 * * * *");
    assert.deepEqual(context.options.trigger, azureTrigger.timer({ schedule: "0 */5 * * * *" }));
    assert.equal(context.options.extraInputs[0]?.type, "durableClient");
    await eventually(async () => (await host.client.getStatusAll()).some((s) => s.name === "azureOrchestration" && s.runtimeStatus === "Completed"));
  });
});

forEachSharedStore("timer functions on hosts sharing a store", ({ host, store }) => {
  it("each occurrence runs exactly once in total across two hosts: no duplicates, no gaps", async () => {
    const seen: { host: string; occurrence: number }[] = [];
    const appFor = (name: string): DurableApp => {
      const app = createApp();
      app.client.timer("shared", { schedule: "* * * * * *", handler: (timer) => void seen.push({ host: name, occurrence: occurrenceOf(timer, 1000) }) });
      return app;
    };
    const a = await host(appFor("a"));
    const b = await host(appFor("b"));
    await eventually(async () => seen.length >= 4, 15_000, "four occurrences");
    await Promise.all([a.stop(), b.stop()]);
    const occurrences = seen.map((s) => s.occurrence).sort((x, y) => x - y);
    assert.equal(new Set(occurrences).size, occurrences.length, `[${store}] no occurrence ran twice: ${JSON.stringify(seen)}`);
    for (let i = 1; i < occurrences.length; i++) assert.equal(occurrences[i]! - occurrences[i - 1]!, 1000, `[${store}] no gap: ${JSON.stringify(occurrences)}`);
  });
});

describe("timer functions in two processes on one SQLite file", () => {
  const ROOT = fileURLToPath(new URL("../../", import.meta.url));
  const BIN = join(ROOT, "bin", "perdure.js");
  const APP = fileURLToPath(new URL("./fixtures/timer-app.ts", import.meta.url));
  interface Proc {
    run: string;
    proc: ChildProcess;
    out: string;
    exited: Promise<unknown>;
  }
  interface RunRecord {
    run: string;
    occurrence: number;
    isPastDue: boolean;
    hung?: true;
  }

  /** Starts `perdure start` processes A and B on one store, each in its own process group (killed, only them, at the end). */
  function startProcesses(t: TestContext, env: NodeJS.ProcessEnv = {}, args: string[] = []): { procs: Proc[]; output: () => string; runs: () => RunRecord[] } {
    const dir = mkdtempSync(join(tmpdir(), "perdure-timers-"));
    const log = join(dir, "runs.jsonl");
    const procs: Proc[] = [];
    t.after(() => {
      for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) process.kill(-p.proc.pid!, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });
    for (const run of ["A", "B"]) {
      const proc = spawn(process.execPath, [BIN, "start", APP, "--store", `sqlite:${join(dir, "store.db")}`, "--port", "0", ...args], {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1", PERDURE_TIMER_LOG: log, PERDURE_TIMER_RUN: run, ...env },
      });
      const entry = { run, proc, out: "", exited: new Promise((resolve) => proc.on("exit", resolve)) };
      proc.stdout.setEncoding("utf8").on("data", (d: string) => (entry.out += d));
      proc.stderr.setEncoding("utf8").on("data", (d: string) => (entry.out += d));
      procs.push(entry);
    }
    return {
      procs,
      output: () => procs.map((p) => `--- ${p.run}\n${p.out}`).join("\n"),
      runs: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as RunRecord) : []),
    };
  }

  it("each occurrence runs exactly once in total: no duplicates, no gaps", async (t) => {
    const { procs, output, runs } = startProcesses(t);
    await eventually(async () => procs.every((p) => /Perdure host \S+ running/.test(p.out)), 60_000, `both hosts to start\n${output()}`);
    const from = Date.now();
    // Both hosts run: every occurrence from now on is contested.
    await eventually(async () => runs().filter((r) => r.occurrence >= from).length >= 5, 30_000, `five occurrences\n${output()}`);
    for (const p of procs) process.kill(-p.proc.pid!, "SIGTERM");
    await Promise.all(procs.map((p) => p.exited));
    const all = runs();
    t.diagnostic(`runs by host: ${all.map((r) => r.run).join("")}`);
    const occurrences = all.map((r) => r.occurrence).sort((a, b) => a - b);
    assert.equal(new Set(occurrences).size, occurrences.length, `no occurrence ran twice: ${JSON.stringify(all)}`);
    for (let i = 1; i < occurrences.length; i++) assert.equal(occurrences[i]! - occurrences[i - 1]!, 1000, `no gap: ${JSON.stringify(all)}`);
  });

  it("a host killed (SIGKILL) during a run: the other runs that occurrence again, once, past due, after the lease", async (t) => {
    // Every 5 s, with a 600 ms lease: the run is taken over long before the next occurrence supersedes it.
    const { procs, output, runs } = startProcesses(t, { PERDURE_TIMER_SCHEDULE: "*/5 * * * * *", PERDURE_TIMER_PERIOD_MS: "5000", PERDURE_TIMER_HANG: "1" }, ["--lease-ms", "600", "--lease-renew-ms", "200"]);
    const hung = await eventually(async () => runs().find((r) => r.hung), 60_000, `a run to hang\n${output()}`);
    const dead = procs.find((p) => p.run === hung.run)!;
    const survivor = procs.find((p) => p.run !== hung.run)!;
    const killedAt = Date.now();
    process.kill(-dead.proc.pid!, "SIGKILL");
    await dead.exited;
    const rerun = await eventually(async () => runs().find((r) => r.occurrence === hung.occurrence && !r.hung), 15_000, `the other host to run ${new Date(hung.occurrence).toISOString()} again\n${output()}`);
    const tookMs = Date.now() - killedAt;
    t.diagnostic(`rerun ${tookMs} ms after the kill`);
    assert.deepEqual(rerun, { run: survivor.run, occurrence: hung.occurrence, isPastDue: true }, "by the survivor, past due");
    // The next occurrence runs as usual, and the interrupted one never again.
    await eventually(async () => runs().some((r) => r.occurrence === hung.occurrence + 5_000), 15_000, `the next occurrence\n${output()}`);
    await wait(1_500); // more than two leases
    process.kill(-survivor.proc.pid!, "SIGTERM");
    await survivor.exited;
    const all = runs().filter((r) => !r.hung);
    const again = all.filter((r) => r.occurrence === hung.occurrence);
    assert.equal(again.length, 1, `run again once: ${JSON.stringify(runs())}`);
    const occurrences = all.map((r) => r.occurrence);
    assert.equal(new Set(occurrences).size, occurrences.length, `no occurrence ran twice: ${JSON.stringify(runs())}`);
    assert.ok(all.filter((r) => r.occurrence !== hung.occurrence).every((r) => !r.isPastDue), `only the rerun is past due: ${JSON.stringify(runs())}`);
  });
});
