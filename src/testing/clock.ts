import { InvalidArgumentError } from "../core/errors.js";
import type { Clock } from "../runtime/clock.js";

/** Where test clocks start unless told: a fixed time, so histories and outputs are the same at every run. */
export const DEFAULT_START_TIME = Date.parse("2026-01-01T00:00:00.000Z");

/** A clock that moves only when told: timers of any length fire without waiting. */
export class ManualClock implements Clock {
  private t: number;

  constructor(start: Date | number = DEFAULT_START_TIME) {
    this.t = timeOf(start, "startTime");
  }

  now(): number {
    return this.t;
  }

  /** Moves the clock forward by `ms` (never back). */
  advance(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new InvalidArgumentError(`The clock moves forward only: got ${String(ms)} ms.`);
    this.t += ms;
  }

  /** Moves the clock to `at` (never back). */
  set(at: number): void {
    if (at > this.t) this.t = at;
  }
}

export function timeOf(value: Date | number, what: string): number {
  const t = value instanceof Date ? value.getTime() : value;
  if (typeof t !== "number" || !Number.isFinite(t)) throw new InvalidArgumentError(`${what} must be a Date or milliseconds since the epoch, got ${String(value)}.`);
  return t;
}
