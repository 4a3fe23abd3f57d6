import type { Clock } from "../../src/runtime/clock.js";

/** A clock tests move by hand, for timers of any length without waiting. */
export class ManualClock implements Clock {
  constructor(private t = Date.parse("2026-01-01T00:00:00.000Z")) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
