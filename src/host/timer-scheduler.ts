import { randomUUID } from "node:crypto";
import { CLIENT_KEY } from "../client/client-key.js";
import type { DurableClient } from "../client/durable-client.js";
import { latestOccurrence, nextOccurrence } from "../core/ncrontab.js";
import { type StorageProvider, timerRunOpen } from "../providers/provider.js";
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
  /**
   * The lease on an occurrence whose run is in progress, in ms of the clock: renewed while the run
   * goes on; when its host stops renewing it (it died), another host runs the occurrence again once
   * it expires. Default 5 s (the workers' `leaseMs`).
   */
  leaseMs?: number;
  /** How often, in real ms, the lease of a run in progress is renewed. Default min(1 s, leaseMs / 3). */
  leaseRenewMs?: number;
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
const DEFAULT_LEASE_MS = 5_000;

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
 * (`claimTimerOccurrence`), and only the host that claimed it runs it. The claim is a lease: the host
 * renews it while the handler runs and records the run's end (`completeTimerOccurrence`) after it,
 * failed or not. A run whose host died (its lease expired, the run not done) is run again, once and
 * past due, by a host that finds it so, at its start or while it waits for the next occurrence
 * (`takeOverTimerOccurrence`), unless a later occurrence was claimed meanwhile (that run stands for
 * it, as past-due runs do). At start-up a host runs, as Azure does, one past-due occurrence when one
 * was missed while no host ran (`useMonitor`), else an interrupted run, else, with `runOnStartup`,
 * one run of its own. A handler that throws is logged and the schedule goes on; runs of one timer on
 * one host do not overlap (a run that outlasts the next occurrences leaves them to other hosts, or,
 * alone, runs once for them, as past due).
 */
export class TimerScheduler {
  private stopped = false;
  /** Set when stop() gave up waiting for runs in progress: their leases are no longer renewed, nor their ends recorded. */
  private abandoned = false;
  private readonly loops: Promise<void>[] = [];
  /** Names of the timer functions whose handler is running now. */
  private readonly running = new Set<string>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  /** The leases this host renews, one per run in progress. */
  private readonly leases = new Set<{ stop: () => void }>();
  /** Per timer function: an occurrence whose run ended here but whose end could not be recorded (recorded at the next look). */
  private readonly unrecorded = new Map<string, number>();
  private readonly leaseMs: number;
  private readonly leaseRenewMs: number;

  constructor(private readonly o: TimerSchedulerOptions) {
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    this.leaseRenewMs = o.leaseRenewMs ?? Math.min(1_000, Math.floor(this.leaseMs / 3));
  }

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

  /**
   * Stops the schedules and waits for the runs in progress, at most `graceMs`: a run still going then
   * is logged and left behind (its process is about to end): its lease is no longer renewed and its
   * end not recorded, so once the lease expires another host (or this one, restarted) runs its
   * occurrence again, past due. Leaves no timer of its own behind.
   */
  async stop(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopped = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
    const all = Promise.all(this.loops).then(() => true);
    if (!Number.isFinite(graceMs)) {
      await all;
      return;
    }
    let timeout: NodeJS.Timeout | undefined;
    const done = await Promise.race([all, new Promise<false>((resolve) => (timeout = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timeout);
    if (!done) {
      this.abandoned = true;
      for (const lease of [...this.leases]) lease.stop();
      const running = [...this.running].join(", ");
      this.o.logger.warn(
        `Stopping with timer function run(s) still in progress after the ${graceMs} ms grace period: ${running}. They are not waited for: their leases are no longer renewed, so another host runs them again, past due, once the lease (${this.leaseMs} ms) expires.`,
        {},
      );
    }
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
    // When to look next for a run of this timer that a host left unfinished (it died).
    const check = { at: Number.NEGATIVE_INFINITY };
    if (fn.useMonitor && missed !== undefined && missed <= now - START_GRACE_MS) {
      // Past due: one run now stands for every occurrence missed while no host ran (Azure's rule),
      // and for a run of the last one claimed that its host did not finish (this claim supersedes it).
      const occurrence = latestOccurrence(fn.schedule, last, now, this.o.timeZone) ?? missed;
      this.o.logger.info(`Timer function '${fn.name}' is past due (missed ${new Date(missed).toISOString()}): running it now.`, { functionName: fn.name });
      await this.occurrence(fn, occurrence, true);
      cursor = occurrence;
    } else if (await this.recover(fn, check)) {
      // An interrupted run, run again: it stands for the start-up run too.
    } else if (fn.runOnStartup) {
      this.o.logger.info(`Timer function '${fn.name}' runs on startup.`, { functionName: fn.name });
      await this.call(fn, false, this.lastRun(fn, last), this.next(fn, now));
    }
    for (;;) {
      const due = this.next(fn, cursor);
      if (due === undefined) {
        this.o.logger.warn(`Timer function '${fn.name}': its schedule '${fn.schedule.expression}' has no occurrence after ${new Date(cursor).toISOString()}.`, { functionName: fn.name });
        return;
      }
      if (!(await this.until(fn, due, check))) return;
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
      claim = await this.o.provider.claimTimerOccurrence(fn.name, occurrence, this.o.workerId, this.o.clock.now(), this.leaseMs);
    } catch (err) {
      this.o.logger.error(`Timer function '${fn.name}': could not claim its occurrence of ${new Date(occurrence).toISOString()} (${describe(err)}); it is skipped on this host.`, {
        functionName: fn.name,
      });
      return;
    }
    if (!claim.claimed) return;
    // Claimed: it runs even if the host is stopping now (no other host would run it before the lease
    // expires); stop() waits, for the grace period.
    await this.leased(fn, occurrence, isPastDue, claim.last === undefined ? undefined : this.lastRun(fn, claim.last));
  }

  /**
   * Looks for a run of the timer's last occurrence that its host left unfinished (the run is not
   * done and its lease expired: the host stopped renewing it, it died) and, when this host takes it
   * over, runs the occurrence again, past due; true if it did. Sets `check.at`: the next look is a
   * lease period later, or when the live lease seen expires if sooner.
   */
  private async recover(fn: RegisteredTimerFunction, check: { at: number }): Promise<boolean> {
    const { provider, clock, workerId, logger } = this.o;
    const fields = { functionName: fn.name };
    const now = clock.now();
    check.at = now + this.leaseMs;
    let record;
    try {
      record = await provider.readTimerOccurrence(fn.name);
    } catch (err) {
      logger.error(`Timer function '${fn.name}': could not read its schedule status from the store (${describe(err)}); looking again later.`, fields);
      return false;
    }
    const pending = this.unrecorded.get(fn.name);
    if (record && pending !== undefined) {
      this.unrecorded.delete(fn.name);
      // A run that ended here, but the store did not hear of it: tell it now rather than run it again.
      if (timerRunOpen(record, pending)) {
        await this.complete(fn, pending);
        return false;
      }
    }
    if (!record || !timerRunOpen(record, record.last)) return false;
    const occurrence = record.last;
    if (record.leaseUntil > now) {
      check.at = Math.min(check.at, record.leaseUntil);
      return false;
    }
    if (this.stopped) return false;
    let taken: boolean;
    try {
      taken = await provider.takeOverTimerOccurrence(fn.name, occurrence, workerId, clock.now(), this.leaseMs);
    } catch (err) {
      logger.error(`Timer function '${fn.name}': could not take over the interrupted run of its occurrence of ${new Date(occurrence).toISOString()} (${describe(err)}); looking again later.`, fields);
      return false;
    }
    if (!taken) return false;
    logger.warn(
      `Timer function '${fn.name}': the run of its occurrence of ${new Date(occurrence).toISOString()} did not finish (host ${record.workerId} stopped renewing its lease: it stopped or died during the run); running it again, past due.`,
      fields,
    );
    await this.leased(fn, occurrence, true, record.done === undefined ? undefined : this.lastRun(fn, record.done));
    return true;
  }

  /** Runs the function for an occurrence this host holds, renewing its lease meanwhile, then records the run's end. */
  private async leased(fn: RegisteredTimerFunction, occurrence: number, isPastDue: boolean, last: number | undefined): Promise<void> {
    const lease = this.holdLease(fn, occurrence);
    try {
      await this.call(fn, isPastDue, last, this.next(fn, occurrence));
    } finally {
      lease.stop();
    }
    // Given up by stop(): not recorded as done, so another host runs it again once the lease expires.
    if (this.abandoned) return;
    await this.complete(fn, occurrence);
  }

  /** Records that the run of `occurrence` ended; when the store cannot be told, tries again at the next look. */
  private async complete(fn: RegisteredTimerFunction, occurrence: number): Promise<void> {
    try {
      await this.o.provider.completeTimerOccurrence(fn.name, occurrence, this.o.workerId, this.o.clock.now());
    } catch (err) {
      this.unrecorded.set(fn.name, occurrence);
      this.o.logger.error(
        `Timer function '${fn.name}': could not record the end of its run for the occurrence of ${new Date(occurrence).toISOString()} (${describe(err)}); trying again later. If the store stays out of reach longer than the lease, another host may run it again.`,
        { functionName: fn.name },
      );
    }
  }

  /**
   * Renews this host's lease on `occurrence` every `leaseRenewMs` until stopped. A renewal refused
   * ends the renewals: a later occurrence was claimed (normal for a long run), or another host took
   * the run over (this host stalled past the lease: the run may now happen twice, which is logged).
   * A renewal that fails is logged, and the next one tried; nothing here throws.
   */
  private holdLease(fn: RegisteredTimerFunction, occurrence: number): { stop: () => void } {
    const { provider, clock, workerId, logger } = this.o;
    const fields = { functionName: fn.name };
    const at = new Date(occurrence).toISOString();
    let busy = false;
    let ended = false;
    const renew = async (): Promise<void> => {
      try {
        if (await provider.renewTimerOccurrence(fn.name, occurrence, workerId, clock.now(), this.leaseMs)) return;
        lease.stop();
        const record = await provider.readTimerOccurrence(fn.name);
        if (record && record.last === occurrence && record.workerId !== workerId) {
          logger.warn(
            `Timer function '${fn.name}': its run for the occurrence of ${at} lost its lease (this host did not renew it in time) and host ${record.workerId} took it over: the occurrence may run twice.`,
            fields,
          );
        }
      } catch (err) {
        if (!ended) logger.error(`Timer function '${fn.name}': could not renew the lease of its run for the occurrence of ${at} (${describe(err)}); trying again.`, fields);
      }
    };
    const timer = setInterval(() => {
      if (busy || ended) return;
      busy = true;
      void renew().finally(() => (busy = false));
    }, this.leaseRenewMs);
    timer.unref();
    const lease = {
      stop: (): void => {
        ended = true;
        clearInterval(timer);
        this.leases.delete(lease);
      },
    };
    this.leases.add(lease);
    return lease;
  }

  /**
   * The stored value as `scheduleStatus.last`: an occurrence that ran, or undefined ("never") when it is
   * only the baseline recorded when the timer was first seen (the time a host started, not an occurrence).
   */
  private lastRun(fn: RegisteredTimerFunction, stored: number): number | undefined {
    return this.next(fn, stored - 1) === stored ? stored : undefined;
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
    this.running.add(fn.name);
    try {
      await invokeTimerFunction(fn, timer, this.o.client, context, this.o.bindings, this.o.logger);
    } catch (err) {
      this.o.logger.error(`Timer function '${fn.name}' failed: ${describe(err)}`, { functionName: fn.name, invocationId });
    } finally {
      this.running.delete(fn.name);
    }
  }

  /**
   * Waits until the clock reaches `t`, looking meanwhile (when `check.at` comes) for an interrupted
   * run of the timer to run again; false if the scheduler stopped first. An occurrence due comes
   * first: its claim supersedes an interrupted run of an earlier one.
   */
  private async until(fn: RegisteredTimerFunction, t: number, check: { at: number }): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      const now = this.o.clock.now();
      const left = t - now;
      if (left <= 0) return true;
      if (now >= check.at) {
        await this.recover(fn, check);
        continue;
      }
      await this.sleep(Math.max(1, Math.min(left, this.o.pollIntervalMs, check.at - now)));
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
