/**
 * Wakes an idle dispatcher: immediately when work is written in this process, at the visible time of
 * a future timer, and at the polling floor otherwise (work written by other processes).
 */
/** setTimeout's limit (about 24.8 days); a later wake-up fires early and is simply re-planned. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export class WorkSignal {
  private waiter: (() => void) | undefined;
  private pendingWake = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly now: () => number) {}

  notify(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    } else this.pendingWake = true;
  }

  /** Wake at `at` (ms since epoch) unless an earlier wake-up is already planned. */
  notifyAt(at: number): void {
    const delay = at - this.now();
    if (delay <= 0) {
      this.notify();
      return;
    }
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.notify();
    }, Math.min(delay + 1, MAX_TIMEOUT_MS));
    this.timer.unref?.();
  }

  wait(maxMs: number): Promise<void> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      }, maxMs);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.waiter = done;
    });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.notify();
  }
}
