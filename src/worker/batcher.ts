/**
 * Group commit: calls made in the same turn of the event loop are handed to `flush` as one batch,
 * so many independent steps share one storage transaction while each stays atomic on its own.
 */
export class Batcher<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 256,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  /**
   * Hands what is queued to `flush` now instead of at the end of the turn: for a caller that knows
   * the turn's batch is complete (the worker after queueing all the activity results of a turn).
   * The turn's scheduled flush then finds nothing, or what was added after.
   */
  flushNow(): void {
    if (this.queue.length > 0) this.run();
  }

  private run(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
    this.flush(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i] as R)),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}
