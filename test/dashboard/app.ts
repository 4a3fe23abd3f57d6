/**
 * The app the dashboard is tested against: a fan-out whose activities fail and are retried, with a
 * sub-orchestration and a timer; an orchestration that waits for an event (for the action buttons);
 * one that fails until told not to (for rewind); a long fan-out (over 10,000 history events); and a
 * counter entity.
 */
import * as df from "../../src/index.js";
import type { DurableApp, DurableEntityContext } from "../../src/index.js";

/** Attempts per input of `flaky`: each input fails twice, then succeeds. */
const attempts = new Map<string, number>();
/** While true, `mayFail` throws (a test switches it off before rewinding). */
export const failing = { on: true };

export function registerDashboardApp(app: DurableApp): void {
  app.activity("flaky", {
    handler: (n: number) => {
      const key = String(n);
      const seen = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, seen);
      if (seen <= 2) throw new Error(`flaky ${n} failed on attempt ${seen}`);
      return n * 10;
    },
  });
  app.activity("double", { handler: (n: number) => n * 2 });
  app.activity("mayFail", {
    handler: (what: string) => {
      if (failing.on) throw new Error(`mayFail refused ${what}`);
      return `did ${what}`;
    },
  });

  app.orchestration("child", function* (context) {
    const n = context.df.getInput<number>();
    return yield context.df.callActivity("double", n);
  });

  app.orchestration("fanOutWithRetries", function* (context) {
    context.df.setCustomStatus({ stage: "fan-out" });
    const retry = new df.RetryOptions(30, 3);
    const tasks = [0, 1, 2].map((i) => context.df.callActivityWithRetry("flaky", retry, i + context.df.getInput<number>()));
    const results = (yield context.df.Task.all(tasks)) as number[];
    const child = (yield context.df.callSubOrchestrator("child", 21, `${context.df.instanceId}-child`)) as number;
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 20));
    context.df.setCustomStatus({ stage: "done" });
    return { results, child };
  });

  app.orchestration("waitForApproval", function* (context) {
    context.df.setCustomStatus("waiting for Approve");
    const approval: unknown = yield context.df.waitForExternalEvent("Approve");
    return { approved: approval };
  });

  app.orchestration("hello", function* (context) {
    return `hello ${context.df.getInput<string>() ?? "?"}`;
  });

  app.orchestration("mayFailFlow", function* (context) {
    return yield context.df.callActivity("mayFail", context.df.getInput<string>());
  });

  app.orchestration("echo", function* (context) {
    context.df.setCustomStatus(context.df.getInput());
    yield context.df.waitForExternalEvent("never");
  });

  app.orchestration("bigFanOut", function* (context) {
    const n = context.df.getInput<number>();
    const results = (yield context.df.Task.all(Array.from({ length: n }, (_, i) => context.df.callActivity("double", i)))) as number[];
    return results.length;
  });

  app.entity("counter", (context: { df: DurableEntityContext<number> }) => {
    const ctx = context.df;
    const value = ctx.getState(() => 0);
    switch (ctx.operationName) {
      case "add":
        ctx.setState(value + ctx.getInput<number>());
        break;
      case "reset":
        ctx.setState(0);
        break;
      default:
        throw new Error(`Unknown operation '${ctx.operationName}' on counter. Use add or reset.`);
    }
  });
}
