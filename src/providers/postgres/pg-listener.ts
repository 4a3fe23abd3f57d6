import pg from "pg";
import { backoffMs } from "./pg-connection.js";

export interface ListenerOptions {
  config: pg.ClientConfig;
  channel: string;
  onMessage: (payload: string) => void;
  /** Connected (again): notifications sent while it was away are lost, so the caller looks for work. */
  onConnect: () => void;
  warn: (message: string) => void;
}

/**
 * One dedicated connection that LISTENs on the store's channel and comes back by itself, with
 * backoff and jitter, when the server goes away. Wake-ups are hints: polling stays the floor.
 */
export class PgListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lostLogged = false;

  constructor(private readonly options: ListenerOptions) {}

  /** Starts listening; resolves once the first attempt is over (connected or not: it retries by itself). */
  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.options.config);
    this.client = client;
    let failed = false;
    const lost = (err?: Error): void => {
      if (failed) return;
      failed = true;
      client.removeAllListeners("notification");
      void client.end().catch(() => undefined);
      if (this.client === client) this.client = undefined;
      if (this.stopped) return;
      if (!this.lostLogged) {
        this.lostLogged = true;
        this.options.warn(`Listening for work on PostgreSQL stopped (${err?.message ?? "connection closed"}); reconnecting, polling meanwhile.`);
      }
      this.schedule();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (n) => {
      if (n.payload !== undefined) this.options.onMessage(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.options.channel)}`);
    } catch (err) {
      lost(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (failed || this.stopped) return;
    this.attempt = 0;
    if (this.lostLogged) this.options.warn("Listening for work on PostgreSQL again.");
    this.lostLogged = false;
    this.options.onConnect();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, backoffMs(this.attempt, 5_000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
