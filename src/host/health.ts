import { hostname } from "node:os";
import { failureFromError } from "../core/failure.js";
import type { HostRecord, StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";

/** What `GET /healthz` answers: 200 when `status` is "ok", 503 otherwise. */
export interface HealthReport {
  status: "ok" | "starting" | "unavailable" | "stopping";
  /** Why the host is not ok (the store's error, for "unavailable"). */
  reason?: string;
  /** Since when (ISO time) the store has been unavailable. */
  since?: string;
  workerId: string;
  hostname: string;
  pid: number;
  /** Whether this host runs workers, and serves HTTP. */
  workers: boolean;
  http: boolean;
  /** How far this host's clock is from the store's, in ms (stores shared by several machines). */
  clockOffsetMs?: number;
}

export interface HealthOptions {
  provider: StorageProvider;
  clock: Clock;
  logger: Logger;
  workerId: string;
  workers: boolean;
  http: boolean;
  /** Time between heartbeats (each is the write probe). */
  intervalMs: number;
  clockOffset: () => number | undefined;
}

/**
 * The host's heartbeat, which doubles as the probe that its store can be written: every interval
 * one small write. A failure makes the host unhealthy with the store's reason until a heartbeat
 * succeeds again; a storage error seen elsewhere (a request, a step) triggers a heartbeat at once.
 */
export class HealthMonitor {
  private state: HealthReport["status"] = "starting";
  private failure: { reason: string; since: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly record: HostRecord;

  constructor(private readonly o: HealthOptions) {
    this.record = {
      workerId: o.workerId,
      hostname: hostname(),
      pid: process.pid,
      startedAt: o.clock.now(),
      info: JSON.stringify({ workers: o.workers, http: o.http }),
    };
  }

  /** The first heartbeat: the host is not started until it succeeds. */
  async start(): Promise<void> {
    await this.o.provider.heartbeat(this.record, this.o.clock.now());
    this.state = "ok";
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.beat().finally(() => this.state !== "stopping" && this.schedule()), this.o.intervalMs);
    this.timer.unref();
  }

  /** One heartbeat now (joins one in flight). */
  beat(): Promise<void> {
    this.running ??= this.probe().finally(() => (this.running = undefined));
    return this.running;
  }

  private async probe(): Promise<void> {
    try {
      await this.o.provider.heartbeat(this.record, this.o.clock.now());
      if (this.failure) this.o.logger.warn(`The store can be written again (it could not since ${new Date(this.failure.since).toISOString()}).`);
      this.failure = undefined;
    } catch (err) {
      if (this.state === "stopping") return;
      const reason = failureFromError(err).errorMessage;
      if (!this.failure) this.o.logger.error(`The store cannot be written: ${reason}`);
      this.failure = { reason, since: this.failure?.since ?? this.o.clock.now() };
    }
  }

  /** A storage error seen outside the heartbeat: check the store now rather than at the next beat. */
  suspect(): void {
    if (this.state === "ok") void this.beat();
  }

  report(): HealthReport {
    const r: HealthReport = {
      status: this.state === "ok" && this.failure ? "unavailable" : this.state,
      workerId: this.record.workerId,
      hostname: this.record.hostname,
      pid: this.record.pid,
      workers: this.o.workers,
      http: this.o.http,
    };
    if (this.failure && this.state === "ok") {
      r.reason = this.failure.reason;
      r.since = new Date(this.failure.since).toISOString();
    }
    const offset = this.o.clockOffset();
    if (offset !== undefined) r.clockOffsetMs = offset;
    return r;
  }

  /** Stops beating and forgets the host in the store, so what it held goes to others at once. */
  async stop(): Promise<void> {
    this.state = "stopping";
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.o.provider.removeHost(this.record.workerId).catch(() => undefined);
  }
}
