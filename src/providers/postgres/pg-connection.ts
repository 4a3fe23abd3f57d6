import pg from "pg";
import { StoreUnavailableError } from "../../core/errors.js";
import { isConnectionError, isTransient, mayHaveCommitted, storeError } from "./pg-errors.js";

/** A connection checked out of the pool for one transaction or statement. */
export type Querier = pg.PoolClient;

export interface PgConnectionOptions {
  connectionString: string;
  poolSize: number;
  /** How long a transient failure (lost connection, restarting server, deadlock) is retried before it is reported. */
  retryForMs: number;
  applicationName: string;
  warn: (message: string) => void;
}

/** bigint (int8) columns hold milliseconds and identities: well within Number's exact range. */
const INT8 = 20;
const INT8_ARRAY = 1016;
const parseInt8 = (v: string): number => Number(v);
const parseInt8Array = (v: string): (number | null)[] =>
  v === "{}"
    ? []
    : v
        .slice(1, -1)
        .split(",")
        .map((x) => (x === "NULL" ? null : Number(x)));

const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary"): unknown => {
    if (oid === INT8) return parseInt8;
    if (oid === INT8_ARRAY) return parseInt8Array;
    return pg.types.getTypeParser(oid, format) as unknown;
  }) as typeof pg.types.getTypeParser,
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with full jitter, so hosts that lost the server together do not return together. */
export function backoffMs(attempt: number, capMs = 2_000): number {
  const ceiling = Math.min(capMs, 25 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Asks the caller to run the transaction again at once: what it planned was based on a row another
 * transaction created meanwhile (nothing was committed).
 */
export class RetryTransaction extends Error {}

/** Whether the same transaction may be sent again after its COMMIT was lost on the wire. */
export type Replay = "fenced" | "once";

/**
 * The pool, with each piece of work retried (backoff and jitter) while the server is away for less
 * than `retryForMs`. A transaction that failed before COMMIT wrote nothing and is always retried; one
 * whose COMMIT got no answer may have committed, so only work that is fenced (a second attempt is
 * refused or changes nothing) is sent again.
 */
export class PgConnection {
  readonly pool: pg.Pool;
  private closed = false;

  constructor(readonly options: PgConnectionOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: options.applicationName,
      types,
      // The provider's statements are prepared once per connection: plan them once too (custom
      // plans of the batch statement cost more than running it).
      // A generic plan is made when the connection first runs the statement, often on small
      // tables: it then looked up instances and tasks by ID with a sequential scan, for as long as
      // the connection lived, over tables that grow (instances) or fill with dead rows between
      // autovacuums (tasks: a 6,000-step sequence made one scan of 6,000 dead rows a step). Every
      // statement of the provider has an index to use, so sequential scans are off.
      // A transaction left open by a host that froze (SIGSTOP, a VM paused) would hold its row
      // locks for ever: the server ends it. Ours last milliseconds.
      options: "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c idle_in_transaction_session_timeout=10000",
    });
    // An idle connection that the server dropped (a restart) reports here; the next checkout gets a new one.
    this.pool.on("error", (err) => options.warn(`PostgreSQL connection lost: ${err.message}`));
    // A connection lost while checked out but between two statements reports as an 'error' event:
    // without a listener that would crash the process. The statement that comes next fails and is
    // retried on a new connection.
    this.pool.on("connect", (client) => client.on("error", () => undefined));
  }

  get config(): pg.ClientConfig {
    return { connectionString: this.options.connectionString, application_name: this.options.applicationName, keepAlive: true, connectionTimeoutMillis: 5_000, types };
  }

  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection. `retry.afterLostCommit` tells `fn` that an
   * earlier attempt's COMMIT got no answer, so what it finds written may be its own.
   */
  async tx<T>(what: string, replay: Replay, fn: (q: Querier, retry: { afterLostCommit: boolean }) => Promise<T>): Promise<T> {
    return this.withRetry(what, replay, async (q, phase) => {
      await q.query("BEGIN");
      const result = await fn(q, { afterLostCommit: phase.afterLostCommit });
      phase.committing = true;
      await q.query("COMMIT");
      return result;
    });
  }

  /**
   * Runs `fn` (one or more statements, each committed on its own) on one connection. `retryForMs`
   * overrides how long a transient failure is retried (0: report it at once, for health probes).
   */
  async run<T>(what: string, replay: Replay, fn: (q: Querier, retry: { afterLostCommit: boolean }) => Promise<T>, retryForMs = this.options.retryForMs): Promise<T> {
    return this.withRetry(
      what,
      replay,
      async (q, phase) => {
        phase.committing = replay === "once";
        // Each statement commits on its own: a connection lost under it may have lost a commit.
        phase.autocommit = true;
        return fn(q, { afterLostCommit: phase.afterLostCommit });
      },
      retryForMs,
    );
  }

  private async withRetry<T>(what: string, replay: Replay, body: (q: Querier, phase: { committing: boolean; autocommit: boolean; afterLostCommit: boolean }) => Promise<T>, retryForMs = this.options.retryForMs): Promise<T> {
    const deadline = Date.now() + retryForMs;
    let lostCommit = false;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new StoreUnavailableError(`the PostgreSQL provider is closed (${what})`);
      const phase = { committing: false, autocommit: false, afterLostCommit: lostCommit };
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        const result = await body(client, phase);
        client.release();
        return result;
      } catch (err) {
        if (client) await this.discard(client, err);
        if (err instanceof RetryTransaction && attempt < 20) continue;
        if ((phase.committing || phase.autocommit) && mayHaveCommitted(err)) lostCommit = true;
        const retryable = isTransient(err) && (!phase.committing || replay === "fenced");
        if (retryable && Date.now() + 25 < deadline && !this.closed) {
          await sleep(Math.min(backoffMs(attempt), Math.max(0, deadline - Date.now())));
          continue;
        }
        if (phase.committing && mayHaveCommitted(err)) {
          throw new StoreUnavailableError(`the connection was lost while committing ${what}, so it may or may not have been written`, { cause: err });
        }
        throw storeError(err, what);
      }
    }
  }

  /** Rolls back what the failed work left open; a connection that failed is not returned to the pool. */
  private async discard(client: pg.PoolClient, err: unknown): Promise<void> {
    if (isConnectionError(err)) {
      client.release(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    try {
      await client.query("ROLLBACK");
      client.release();
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
