import { randomUUID } from "node:crypto";
import { CLIENT_KEY } from "../client/client-key.js";
import type { DurableClient } from "../client/durable-client.js";
import { latestOccurrence, nextOccurrence } from "../core/ncrontab.js";
import type { StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import { InvocationContext, loggerHandler } from "../runtime/invocation-context.js";
import type { Logger } from "../runtime/logger.js";
import type { RegisteredTimerFunction } from "../runtime/registry.js";
import { type BindingHandlers, invokeWithBindings } from "../runtime/bindings.js";

/** What a timer function receives first: the `Timer` of @azure/functions v4 (and durable-functions). */
export interface TimerInfo {
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  /** ISO times: the previous occurrence claimed, the occurrence after this run, and when this run started. */
  scheduleStatus: { last: string; next: string; lastUpdated: string };
}

export interface TimerSchedulerOptions {
  provider: StorageProvider;
  timers: readonly RegisteredTimerFunction[];
  /** The app's binding handlers, for the timer functions' extra inputs and outputs. */
  bindings: BindingHandlers;
  /** The host's durable client: the handler's 2nd argument, and `df.getClient(context)`. */
  client: DurableClient;
  /** The host's clock (a test's manual clock moves time for the schedules too). */
  clock: Clock;
  logger: Logger;
  /** Recorded with each occurrence this host claims. */
  workerId: string;
  /** IANA name; undefined: UTC. */
  timeZone?: string;
  /** The longest real-time wait between two looks at the clock, which may move without telling (a manual clock, a clock corrected to the store's). */
  pollIntervalMs: number;
}

/**
 * An occurrence due this recently at start-up is not "missed": a running host is about to take it
 * (it is then run as any occurrence, by whichever host claims it first).
 */
const START_GRACE_MS = 1_000;
/** How long a failed start-up read of the store waits before the next try. */
const RETRY_MS = 1_000;
/** Azure's "never" (DateTime's default) for a timer that has not run yet. */
const NEVER = "0001-01-01T00:00:00.000Z";

/** Calls the user's handler of a timer function, with its extra bindings, as activities are called. */
export async function invokeTimerFunction(fn: RegisteredTimerFunction, timer: TimerInfo, client: DurableClient, context: InvocationContext, bindings: BindingHandlers, logger: Logger): Promise<void> {
  await invokeWithBindings(context, () => (fn.handler as (timer: TimerInfo, client: DurableClient, context: InvocationContext) => unknown)(timer, client, context), {
    handlers: bindings,
    logger,
    kind: "Timer function",
    triggerData: () => timer,
    triggerDataLabel: "the timer",
    fields: { functionName: fn.name, invocationId: context.invocationId, functionType: "timer" },
  });
}

/**
 * Runs the app's timer functions on their schedules. Each occurrence runs on ONE host of all those
 * that share the store: before running it, a host claims it with the provider's compare-and-set
 * (`claimTimerOccurrence`), and only the host that claimed it runs it. At start-up a host runs, as
 * Azure does, one past-due occurrence when one was missed while no host ran (`useMonitor`), and
 * else, with `runOnStartup`, one run of its own. A handler that throws is logged and the schedule
 * goes on; runs of one timer on one host do not overlap (a run that outlasts the next occurrences
 * leaves them to other hosts, or, alone, runs once for them, as past due).
 */
export class TimerScheduler {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  constructor(private readonly o: TimerSchedulerOptions) {}

  get size(): number {
    return this.o.timers.length;
  }

  /** Starts one loop per timer function; returns at once (runs happen in the background). */
  start(): void {
    for (const fn of this.o.timers) {
      this.loops.push(
        this.run(fn).catch((err: unknown) => {
          this.o.logger.error(`Timer function '${fn.name}' stopped on an unexpected error: ${describe(err)}`, { functionName: fn.name });
        }),
      );
    }
  }

  /** Stops the schedules; waits for the runs in progress to finish. Leaves no timer behind. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
    await Promise.all(this.loops);
  }

  private next(fn: RegisteredTimerFunction, after: number): number | undefined {
    return nextOccurrence(fn.schedule, after, this.o.timeZone);
  }

  private async run(fn: RegisteredTimerFunction): Promise<void> {
    const { provider, clock, workerId } = this.o;
    // The last occurrence claimed by any host (or when the timer was first seen: its baseline).
    let last: number | undefined;
    while (last === undefined) {
      if (this.stopped) return;
      try {
        last = await provider.initTimerOccurrence(fn.name, clock.now(), workerId, clock.now());
      } catch (err) {
        this.o.logger.error(`Timer function '${fn.name}': could not read its schedule status from the store (${describe(err)}); trying again.`, { functionName: fn.name });
        await this.sleep(RETRY_MS);
      }
    }
    const now = clock.now();
    let cursor = Math.max(last, now - START_GRACE_MS);
    const missed = this.next(fn, last);
    if (fn.useMonitor && missed !== undefined && missed <= now - START_GRACE_MS) {
      // Past due: one run now stands for every occurrence missed while no host ran (Azure's rule).
      const occurrence = latestOccurrence(fn.schedule, last, now, this.o.timeZone) ?? missed;
      this.o.logger.info(`Timer function '${fn.name}' is past due (missed ${new Date(missed).toISOString()}): running it now.`, { functionName: fn.name });
      await this.occurrence(fn, occurrence, true);
      cursor = occurrence;
    } else if (fn.runOnStartup) {
      this.o.logger.info(`Timer function '${fn.name}' runs on startup.`, { functionName: fn.name });
      await this.call(fn, false, last, this.next(fn, now));
    }
    for (;;) {
      const due = this.next(fn, cursor);
      if (due === undefined) {
        this.o.logger.warn(`Timer function '${fn.name}': its schedule '${fn.schedule.expression}' has no occurrence after ${new Date(cursor).toISOString()}.`, { functionName: fn.name });
        return;
      }
      if (!(await this.until(due))) return;
      const now = clock.now();
      // Several occurrences due at once (the host was busy or asleep): one run, past due, stands for them.
      const following = this.next(fn, due);
      const behind = following !== undefined && following <= now;
      const occurrence = behind ? (latestOccurrence(fn.schedule, due, now, this.o.timeZone) ?? due) : due;
      await this.occurrence(fn, occurrence, behind);
      cursor = occurrence;
    }
  }

  /** Claims one occurrence for this host and, if it got it, runs the function for it. */
  private async occurrence(fn: RegisteredTimerFunction, occurrence: number, isPastDue: boolean): Promise<void> {
    let claim: { claimed: boolean; last?: number };
    try {
      claim = await this.o.provider.claimTimerOccurrence(fn.name, occurrence, this.o.workerId, this.o.clock.now());
    } catch (err) {
      this.o.logger.error(`Timer function '${fn.name}': could not claim its occurrence of ${new Date(occurrence).toISOString()} (${describe(err)}); it is skipped on this host.`, {
        functionName: fn.name,
      });
      return;
    }
    if (!claim.claimed) return;
    // Claimed: it runs even if the host is stopping now (no other host will run it); stop() waits.
    await this.call(fn, isPastDue, claim.last, this.next(fn, occurrence));
  }

  /** One run of the function; a failure is logged with its name, and the schedule goes on. */
  private async call(fn: RegisteredTimerFunction, isPastDue: boolean, last: number | undefined, next: number | undefined): Promise<void> {
    const now = this.o.clock.now();
    const timer: TimerInfo = {
      isPastDue,
      schedule: { adjustForDST: fn.schedule.kind === "cron" },
      scheduleStatus: {
        last: last === undefined ? NEVER : new Date(last).toISOString(),
        next: next === undefined ? NEVER : new Date(next).toISOString(),
        lastUpdated: new Date(now).toISOString(),
      },
    };
    const invocationId = randomUUID();
    const context = new InvocationContext({
      functionName: fn.name,
      invocationId,
      logHandler: loggerHandler(this.o.logger, { functionName: fn.name, invocationId, functionType: "timer" }),
      options: { trigger: fn.trigger, extraInputs: fn.extraInputs, extraOutputs: fn.extraOutputs },
    });
    Object.defineProperty(context, CLIENT_KEY, { value: this.o.client });
    try {
      await invokeTimerFunction(fn, timer, this.o.client, context, this.o.bindings, this.o.logger);
    } catch (err) {
      this.o.logger.error(`Timer function '${fn.name}' failed: ${describe(err)}`, { functionName: fn.name, invocationId });
    }
  }

  /** Waits until the clock reaches `t`; false if the scheduler stopped first. */
  private async until(t: number): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      const left = t - this.o.clock.now();
      if (left <= 0) return true;
      await this.sleep(Math.min(left, this.o.pollIntervalMs));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
