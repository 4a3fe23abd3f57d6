import type { CliIo } from "./io.js";

/** A bar on stderr for operations on many instances; nothing when stderr is not a terminal. */
export class Progress {
  private done = 0;
  private failed = 0;
  private lastDraw = 0;

  constructor(
    private readonly io: CliIo,
    private readonly total: number,
    private readonly verb: string,
  ) {
    this.draw(true);
  }

  tick(ok: boolean): void {
    this.done++;
    if (!ok) this.failed++;
    this.draw(this.done === this.total);
  }

  finish(): void {
    if (this.io.errTTY && this.total > 0) this.io.err("\n");
  }

  private draw(force: boolean): void {
    if (!this.io.errTTY || this.total === 0) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Math.round((this.done / this.total) * width);
    const failed = this.failed > 0 ? `, ${this.failed} failed` : "";
    this.io.err(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.done}/${this.total} ${this.verb}${failed}`);
  }
}
