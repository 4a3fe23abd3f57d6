import type { StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";

/** Offsets below this are measurement noise, not worth a correction (nor a warning). */
const NOISE_MS = 5;
const WARN_MS = 1_000;

/**
 * A host's time, corrected to its store's clock when the store is shared by several machines
 * (PostgreSQL): leases it writes, timers its orchestrations create and `currentUtcDateTime` then
 * agree across hosts whose own clocks disagree. The offset is measured at start and every
 * `intervalMs`, as the store's time minus the midpoint of the round trip. (The store also refuses
 * to treat anything as due before its own clock says so: the correction makes hosts agree, the cap
 * makes "never early" hold whatever the correction.)
 */
export class StoreClock implements Clock {
  private offset = 0;
  private measured = false;
  private timer: NodeJS.Timeout | undefined;
  private warnedAt = 0;

  constructor(
    private readonly base: Clock,
    private readonly provider: StorageProvider,
    private readonly logger: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  now(): number {
    return this.base.now() + this.offset;
  }

  /** The correction in ms (undefined when the store has no clock of its own). */
  get offsetMs(): number | undefined {
    return this.measured ? this.offset : undefined;
  }

  async start(): Promise<void> {
    if (!this.provider.storeTime) return;
    await this.measure();
    this.timer = setInterval(() => void this.measure().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async measure(): Promise<void> {
    // The best of three round trips: the shortest one bounds the error most tightly.
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const before = this.base.now();
      const store = await this.provider.storeTime!();
      const after = this.base.now();
      const sample = { rtt: after - before, offset: store - (before + after) / 2 };
      if (!best || sample.rtt < best.rtt) best = sample;
    }
    const offset = Math.abs(best!.offset) < NOISE_MS + best!.rtt / 2 ? 0 : Math.round(best!.offset);
    this.offset = offset;
    this.measured = true;
    if (Math.abs(offset) >= WARN_MS && this.base.now() - this.warnedAt > 600_000) {
      this.warnedAt = this.base.now();
      this.logger.warn(`This host's clock is ${(Math.abs(offset) / 1000).toFixed(1)} s ${offset < 0 ? "ahead of" : "behind"} the store's; Perdure uses the store's time. Keep clocks in sync (NTP).`);
    }
  }
}
