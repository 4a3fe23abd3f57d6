import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { DurableError, isDurableError, LockLostError, StoreUnavailableError } from "../../core/errors.js";
import type { HistoryEvent } from "../../core/history.js";
import type { OrchestrationMessage, OutgoingMessage } from "../../core/messages.js";
import { type InstanceKind, type NewInstanceRow, planDelivery, planStart, type TargetState } from "../../core/outbox.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus, TERMINAL_STATUSES } from "../../core/status.js";
import type { ParkInfo } from "../../core/step-policy.js";
import { decodeCursor, encodeCursor, pageSizeOf } from "../paging.js";
import { CompressedCache, DEFAULT_OFFLOAD_BYTES, PAYLOAD_CODEC, PayloadReader, PayloadWriter } from "../payloads.js";
import {
  activityLockLost,
  type AbandonOptions,
  type ActivityLockRequest,
  type ActivityResult,
  type ActivityWorkItem,
  type CommitResult,
  commitInstanceId,
  type CreateInstanceRequest,
  functionKey,
  type FunctionNames,
  type HistoryPage,
  type HostRecord,
  type InstanceLockRequest,
  type InstancePage,
  type InstanceQuery,
  type InstanceReadOptions,
  type InstanceRecord,
  type OrchestrationCommit,
  type OrchestrationWorkItem,
  type ProviderStats,
  type PurgeFilter,
  purgeBatchSize,
  type StorageProvider,
  type StrandedWork,
  type StrandedWorkRequest,
  type TimerOccurrenceRecord,
  type StartLease,
  startedWorkItem,
  timerRunInterrupted,
  type WorkCounts,
  type InstanceFilter,
  type StatusCounts,
  type WorkKind,
} from "../provider.js";
import { ProviderListeners } from "../listeners.js";
import { instanceFromRow, type InstanceRow, timerRecord, type TimerRow } from "../sql-rows.js";
import { SchemaVersionError } from "../schema-version.js";
import { MIGRATIONS } from "./migrations.js";

export interface SqliteProviderOptions {
  /** File path, or ":memory:". */
  filename: string;
  /**
   * `normal` (default): WAL with fsync at checkpoints; a committed step survives a process crash
   * (SIGKILL), the last steps may be lost on power failure. `full`: fsync every commit.
   */
  synchronous?: "normal" | "full";
  /** How long to wait for another process's write lock. Default 5 s. */
  busyTimeoutMs?: number;
  /** Payloads from this many bytes on are compressed into the payloads table (default 32 KiB; 0: never). */
  offloadBytes?: number;
}

export { SchemaVersionError };

interface MessageRow {
  id: number;
  execution_id: string | null;
  event: string;
  metadata: string | null;
  dequeue_count: number;
}

/** A task as the lease statement returns it: leased just now, so its token is set. */
interface LeasedTaskRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_scheduled_id: number;
  name: string;
  input: string | null;
  metadata: string | null;
  lock_token: string;
  dequeue_count: number;
}

/** The activity lock of one function list: whether anything is ready, and the statement that leases it. */
interface ReadyTaskQueries {
  any: Database.Statement<Record<string, unknown>, { one: number }>;
  lease: Database.Statement<Record<string, unknown>, LeasedTaskRow>;
}

interface FenceRow {
  kind: string;
  lock_token: string | null;
  locked_until: number;
  history_length: number;
  execution_id: string;
  runtime_status: string;
  name_key: string;
}

/** History rows inserted by one statement at most (5 parameters each). */
const HISTORY_ROWS_PER_INSERT = 16;

/** WAL pages between automatic checkpoints (SQLite's default is 1,000); see initialize(). */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** A commit as written: its large payloads replaced by references, and the payload rows they need. */
interface StoredCommit {
  commit: OrchestrationCommit;
  payloads: PayloadWriter;
}

type Announce = (kind: WorkKind, at: number) => void;
type Changed = (instanceId: string, status: OrchestrationRuntimeStatus) => void;

function toMessage(m: MessageRow): OrchestrationMessage {
  const message: OrchestrationMessage = { event: JSON.parse(m.event) as HistoryEvent };
  if (m.execution_id !== null) message.executionId = m.execution_id;
  if (m.metadata !== null) message.metadata = JSON.parse(m.metadata) as Record<string, string>;
  return message;
}

/** core's processableWithoutCode on a joined message `m` and instance `i`. */
const TERMINAL_SQL = `(${TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ")})`;
const WITHOUT_CODE = `(m.event_type = 'ExecutionTerminated' OR (i.runtime_status IN ${TERMINAL_SQL} AND m.event_type <> 'ExecutionRewound'))`;

/** `(@p0, @p1, ...)` and the values bound to it: a list the query planner sees as a plain IN list. */
function inList(prefix: string, names: readonly string[]): { sql: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  names.forEach((n, i) => (params[`${prefix}${i}`] = n));
  return { sql: names.length === 0 ? "(NULL)" : `(${names.map((_, i) => `@${prefix}${i}`).join(", ")})`, params };
}

/**
 * The instance filter of a lock: its function is one of this worker's, or the message is one that
 * needs no code (core's processableWithoutCode, in SQL: a termination; anything but a rewind sent to
 * a finished instance). Empty when the worker takes anything.
 */
function handlesFilter(f: FunctionNames | undefined): { sql: string; params: Record<string, string> } {
  if (!f) return { sql: "", params: {} };
  const o = inList("o", f.orchestrations);
  const e = inList("e", f.entities);
  return {
    sql: `AND ((i.kind = 'orchestration' AND i.name_key IN ${o.sql}) OR (i.kind = 'entity' AND i.name_key IN ${e.sql}) OR ${WITHOUT_CODE})`,
    params: { ...o.params, ...e.params },
  };
}

/**
 * Embedded storage on one SQLite file (WAL). Every step is one transaction; several processes may
 * open the same file, coordinated by SQLite's write lock (BEGIN IMMEDIATE) and by leases.
 */
/** Runs `fn`, again after a short pause while it fails with SQLITE_BUSY, for up to `timeoutMs`. */
async function untilNotBusy(timeoutMs: number, fn: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      fn();
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if ((code !== "SQLITE_BUSY" && code !== "SQLITE_BUSY_RECOVERY") || Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

export class SqliteProvider implements StorageProvider {
  readonly stats: ProviderStats = { writeTransactions: 0 };
  private db: Database.Database | undefined;
  private readonly listeners = new ProviderListeners();
  private stmts: ReturnType<SqliteProvider["prepare"]> | undefined;
  private readonly readyTaskCache = new Map<string, ReadyTaskQueries>();
  private readonly compressed = new CompressedCache();
  private readonly readyCache = new Map<string, { any: Database.Statement<Record<string, unknown>, { one: number }>; ready: Database.Statement<Record<string, unknown>, { instance_id: string; lock_token: string | null }> }>();

  constructor(private readonly options: SqliteProviderOptions) {}

  async initialize(): Promise<void> {
    if (this.db) return;
    let db: Database.Database;
    try {
      db = new Database(this.options.filename);
    } catch (err) {
      // SQLite's own message ("unable to open database file") does not say which file.
      throw new StoreUnavailableError(`cannot open the SQLite database '${this.options.filename}' (${(err as Error).message}): check that its folder exists and is writable`, { cause: err });
    }
    try {
      // The busy timeout first: switching a new file to WAL takes a lock another process may hold.
      const busyTimeoutMs = this.options.busyTimeoutMs ?? 5000;
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      // Two processes opening a new file at once: switching it to WAL can answer SQLITE_BUSY
      // without waiting on the busy handler (SQLite does so where waiting could deadlock), so the
      // switch and the migration are retried until the busy timeout is spent.
      await untilNotBusy(busyTimeoutMs, () => {
        db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${this.options.synchronous === "full" ? "FULL" : "NORMAL"}`);
        // Checkpoint every 10,000 WAL pages (about 40 MB) instead of SQLite's 1,000: a busy host
        // rewrites the same pages (instance rows, task queue) in commit after commit, and a
        // checkpoint copies each page once however often it changed since the last. Half the time
        // of the commits of hello5 went to checkpoints at 1,000.
        db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
        // Savepoint journals in memory: a turn's starts are written in one transaction, each in a
        // savepoint of its own, and SQLite keeps the pages a savepoint changes in a journal that
        // better-sqlite3's build puts in a temporary file. A start's insert took 22 us, now 6 us.
        db.pragma("temp_store = MEMORY");
        this.migrate(db);
      });
    } catch (err) {
      // A failed initialize (e.g. a schema from a newer Perdure) must not leave the file open.
      db.close();
      throw err;
    }
    this.db = db;
    this.stmts = this.prepare(db);
  }

  private migrate(db: Database.Database): void {
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    const run = db.transaction(() => {
      const current = (db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version").get() as { v: number }).v;
      const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
      if (current > latest) throw new SchemaVersionError(current, latest);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)").run(m.version, m.description, Date.now());
      }
    });
    run.immediate();
  }

  private prepare(db: Database.Database) {
    return {
      getInstance: db.prepare<[string], InstanceRow>("SELECT * FROM instances WHERE instance_id = ?"),
      target: db.prepare<[string], { kind: string; runtime_status: string }>("SELECT kind, runtime_status FROM instances WHERE instance_id = ?"),
      insertInstance: db.prepare(
        `INSERT INTO instances (instance_id, kind, name, name_key, execution_id, runtime_status, input, parent_instance_id, version, created_at, last_updated_at, history_length, lock_token, locked_until, worker_id)
         VALUES (@instanceId, @kind, @name, @nameKey, @executionId, @status, @input, @parent, @version, @now, @now, 0, @lockToken, @lockedUntil, @workerId)`,
      ),
      deleteInstance: db.prepare("DELETE FROM instances WHERE instance_id = ?"),
      deleteHistory: db.prepare("DELETE FROM history WHERE instance_id = ?"),
      deleteMessages: db.prepare("DELETE FROM messages WHERE instance_id = ?"),
      deleteTasks: db.prepare("DELETE FROM activity_tasks WHERE instance_id = ?"),
      deletePayloads: db.prepare("DELETE FROM payloads WHERE instance_id = ?"),
      insertPayload: db.prepare(`INSERT INTO payloads (instance_id, key, codec, bytes, data) VALUES (?, ?, '${PAYLOAD_CODEC}', ?, ?) ON CONFLICT (instance_id, key) DO NOTHING`),
      payload: db.prepare<[string, string], { instance_id: string; key: string; data: Buffer }>("SELECT instance_id, key, data FROM payloads WHERE instance_id = ? AND key = ?"),
      hasPayloads: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM payloads WHERE instance_id = ? LIMIT 1"),
      // Payload rows written for a message that was then dropped: its target does not exist.
      dropOrphanPayloads: db.prepare<{ id: string }>("DELETE FROM payloads WHERE instance_id = @id AND NOT EXISTS (SELECT 1 FROM instances WHERE instance_id = @id)"),
      // The payloads of an instance that none of its rows refers to any more.
      sweepPayloads: db.prepare<{ id: string }>(
        `DELETE FROM payloads WHERE instance_id = @id AND key NOT IN (
           SELECT substr(v, 10) FROM (
             SELECT json_extract(event, '$.input') AS v FROM history WHERE instance_id = @id
             UNION ALL SELECT json_extract(event, '$.result') FROM history WHERE instance_id = @id
             UNION ALL SELECT json_extract(event, '$.input') FROM messages WHERE instance_id = @id
             UNION ALL SELECT json_extract(event, '$.result') FROM messages WHERE instance_id = @id
             UNION ALL SELECT input FROM activity_tasks WHERE instance_id = @id
             UNION ALL SELECT input FROM instances WHERE instance_id = @id
             UNION ALL SELECT output FROM instances WHERE instance_id = @id
             UNION ALL SELECT custom_status FROM instances WHERE instance_id = @id
             UNION ALL SELECT entity_state FROM instances WHERE instance_id = @id
           ) WHERE v LIKE '#payload:%')`,
      ),
      insertMessage: db.prepare("INSERT INTO messages (instance_id, execution_id, event_type, event, visible_at, metadata, dequeue_count) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      deleteMessage: db.prepare("DELETE FROM messages WHERE id = ?"),
      // Unleased: the retry delay ends now. Leased: the release that follows will skip its delay.
      wake: db.prepare(
        `UPDATE instances SET locked_until = CASE WHEN lock_token IS NULL THEN 0 ELSE locked_until END,
           wake_pending = CASE WHEN lock_token IS NULL THEN 0 ELSE 1 END
         WHERE instance_id = ?`,
      ),
      hasAnyMessage: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM messages WHERE instance_id = ? LIMIT 1"),
      hasVisibleMessage: db.prepare<[string, number], { one: number }>("SELECT 1 AS one FROM messages WHERE instance_id = ? AND visible_at <= ? LIMIT 1"),
      lockInstance: db.prepare("UPDATE instances SET lock_token = ?, locked_until = ?, worker_id = ? WHERE instance_id = ? AND locked_until <= ?"),
      countDelivery: db.prepare("UPDATE messages SET dequeue_count = dequeue_count + 1 WHERE instance_id = ? AND visible_at <= ?"),
      visibleMessages: db.prepare<[string, number], MessageRow>("SELECT id, execution_id, event, metadata, dequeue_count FROM messages WHERE instance_id = ? AND visible_at <= ? ORDER BY id"),
      fenceOf: db.prepare<[string], FenceRow>("SELECT kind, lock_token, locked_until, history_length, execution_id, runtime_status, name_key FROM instances WHERE instance_id = ?"),
      updateInstance: db.prepare(
        `UPDATE instances SET name = @name, name_key = @nameKey, execution_id = @executionId, runtime_status = @status, input = @input, output = @output,
           custom_status = @customStatus, failure_details = @failure, entity_state = @entityState, last_updated_at = @now, history_length = @historyLength,
           lock_token = NULL, locked_until = 0, worker_id = NULL, parked = NULL, wake_pending = 0
         WHERE instance_id = @instanceId`,
      ),
      // The same without the indexed columns a step seldom changes (status, name): SQLite rewrites the
      // index entries of every column an UPDATE sets, changed or not, and each is a page in the WAL.
      // A status changes at an orchestration's first and last steps; a name almost never.
      updateInstanceStatus: db.prepare(
        `UPDATE instances SET execution_id = @executionId, runtime_status = @status, input = @input, output = @output,
           custom_status = @customStatus, failure_details = @failure, entity_state = @entityState, last_updated_at = @now, history_length = @historyLength,
           lock_token = NULL, locked_until = 0, worker_id = NULL, parked = NULL, wake_pending = 0
         WHERE instance_id = @instanceId`,
      ),
      updateInstanceSameStatus: db.prepare(
        `UPDATE instances SET execution_id = @executionId, input = @input, output = @output,
           custom_status = @customStatus, failure_details = @failure, entity_state = @entityState, last_updated_at = @now, history_length = @historyLength,
           lock_token = NULL, locked_until = 0, worker_id = NULL, parked = NULL, wake_pending = 0
         WHERE instance_id = @instanceId`,
      ),
      abandonInstance: db.prepare<Record<string, unknown>, { locked_until: number }>(
        `UPDATE instances SET lock_token = NULL, worker_id = NULL, locked_until = CASE WHEN wake_pending = 1 THEN @now ELSE @retryAt END,
           wake_pending = 0, parked = COALESCE(@park, parked)
         WHERE instance_id = @instanceId AND lock_token = @lockToken
         RETURNING locked_until`,
      ),
      renewInstance: db.prepare("UPDATE instances SET locked_until = ? WHERE instance_id = ? AND lock_token = ?"),
      history: db.prepare<[string], { event: string }>("SELECT event FROM history WHERE instance_id = ? ORDER BY seq"),
      historyPage: db.prepare<[string, number, number], { event: string }>("SELECT event FROM history WHERE instance_id = ? AND seq >= ? ORDER BY seq LIMIT ?"),
      insertTask: db.prepare(
        "INSERT INTO activity_tasks (instance_id, execution_id, task_scheduled_id, name, name_key, input, metadata, visible_at, lock_token, locked_until, dequeue_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      taskToken: db.prepare<[number], { lock_token: string | null }>("SELECT lock_token FROM activity_tasks WHERE id = ?"),
      deleteTask: db.prepare("DELETE FROM activity_tasks WHERE id = ? AND lock_token = ?"),
      abandonTask: db.prepare("UPDATE activity_tasks SET lock_token = NULL, locked_until = 0, visible_at = ? WHERE id = ? AND lock_token = ?"),
      renewTask: db.prepare("UPDATE activity_tasks SET locked_until = ? WHERE id = ? AND lock_token = ?"),
      instanceExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM instances WHERE instance_id = ?"),
      nextMessage: db.prepare<[number], { t: number | null }>("SELECT MIN(visible_at) AS t FROM messages WHERE visible_at > ?"),
      readyInstances: db.prepare<[number, number], { kind: string; n: number }>(
        "SELECT i.kind AS kind, COUNT(*) AS n FROM instances i WHERE i.locked_until <= ? AND EXISTS (SELECT 1 FROM messages m WHERE m.instance_id = i.instance_id AND m.visible_at <= ?) GROUP BY i.kind",
      ),
      readyTasks: db.prepare<[number, number], { n: number }>("SELECT COUNT(*) AS n FROM activity_tasks WHERE visible_at <= ? AND locked_until <= ?"),
      parkedCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM instances WHERE parked IS NOT NULL"),
      nextTask: db.prepare<[number], { t: number | null }>("SELECT MIN(visible_at) AS t FROM activity_tasks WHERE visible_at > ?"),
      // "locked_until > 0" lets the planner use the partial index instances_by_retry.
      nextRetry: db.prepare<[number], { t: number | null }>("SELECT MIN(locked_until) AS t FROM instances WHERE lock_token IS NULL AND locked_until > 0 AND locked_until > ?"),
      strandedInstances: db.prepare<Record<string, unknown>, { instance_id: string; kind: string; name: string }>(
        `SELECT DISTINCT i.instance_id, i.kind, i.name FROM messages m JOIN instances i ON i.instance_id = m.instance_id
         WHERE m.visible_at <= @before AND i.locked_until <= @now
           AND NOT ((i.kind = 'orchestration' AND i.name_key IN (SELECT value FROM json_each(@orchestrations)))
                 OR (i.kind = 'entity' AND i.name_key IN (SELECT value FROM json_each(@entities)))
                 OR ${WITHOUT_CODE})
         LIMIT @limit`,
      ),
      strandedTasks: db.prepare<Record<string, unknown>, { instance_id: string; name: string }>(
        `SELECT instance_id, name FROM activity_tasks WHERE visible_at <= @before AND locked_until <= @now
           AND name_key NOT IN (SELECT value FROM json_each(@activities)) LIMIT @limit`,
      ),
      markParked: db.prepare("UPDATE instances SET parked = ? WHERE instance_id = ? AND parked IS NULL AND locked_until <= ?"),
      heartbeat: db.prepare(
        `INSERT INTO hosts (worker_id, hostname, pid, started_at, heartbeat_at, info) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`,
      ),
      removeHost: db.prepare("DELETE FROM hosts WHERE worker_id = ?"),
      timerLast: db.prepare<[string], { last_occurrence: number }>("SELECT last_occurrence FROM timer_occurrences WHERE name_key = ?"),
      timerRow: db.prepare<[string], TimerRow>("SELECT last_occurrence, done_occurrence, worker_id, lease_until FROM timer_occurrences WHERE name_key = ?"),
      // A baseline counts as done: there is no run of it to finish.
      timerInsert: db.prepare<Record<string, unknown>>(
        "INSERT INTO timer_occurrences (name_key, last_occurrence, done_occurrence, worker_id, claimed_at, lease_until) VALUES (@key, @baseline, @baseline, @workerId, @now, @now) ON CONFLICT (name_key) DO NOTHING",
      ),
      // The run of the occurrence replaced is not taken over any more: the later claim supersedes it (done stays).
      timerClaim: db.prepare<[string, number, string, number, number]>(
        `INSERT INTO timer_occurrences (name_key, last_occurrence, done_occurrence, worker_id, claimed_at, lease_until) VALUES (?, ?, NULL, ?, ?, ?)
         ON CONFLICT (name_key) DO UPDATE SET last_occurrence = excluded.last_occurrence, worker_id = excluded.worker_id, claimed_at = excluded.claimed_at, lease_until = excluded.lease_until
         WHERE timer_occurrences.last_occurrence < excluded.last_occurrence`,
      ),
      timerRenew: db.prepare<Record<string, unknown>>(
        `UPDATE timer_occurrences SET lease_until = @until
          WHERE name_key = @key AND last_occurrence = @occurrence AND worker_id = @workerId AND (done_occurrence IS NULL OR done_occurrence < last_occurrence)`,
      ),
      timerComplete: db.prepare<Record<string, unknown>>(
        `UPDATE timer_occurrences SET done_occurrence = @occurrence
          WHERE name_key = @key AND last_occurrence >= @occurrence AND (done_occurrence IS NULL OR done_occurrence < @occurrence)`,
      ),
      timerTakeOver: db.prepare<Record<string, unknown>>(
        `UPDATE timer_occurrences SET worker_id = @workerId, claimed_at = @now, lease_until = @until
          WHERE name_key = @key AND last_occurrence = @occurrence AND (done_occurrence IS NULL OR done_occurrence < last_occurrence) AND lease_until <= @now`,
      ),
    };
  }

  /**
   * The lock queries for one worker's function list, prepared once per list shape: a worker's list
   * does not change, and a plain IN list is several times cheaper for SQLite than one read from JSON.
   */
  private readyQueries(f: FunctionNames | undefined): { any: Database.Statement<Record<string, unknown>, { one: number }>; ready: Database.Statement<Record<string, unknown>, { instance_id: string; lock_token: string | null }>; params: Record<string, string> } {
    const filter = handlesFilter(f);
    const key = f ? `${f.orchestrations.length}/${f.entities.length}` : "any";
    let q = this.readyCache.get(key);
    if (!q) {
      // Driven from the visible messages (the ready work), each joined to its instance by key. Left
      // to itself the planner started from the instances of the registered names, every one of
      // them, finished ones included: a lock cost grew with the store (70 us with 200 instances).
      const from = `FROM messages m INDEXED BY messages_by_visible CROSS JOIN instances i ON i.instance_id = m.instance_id WHERE m.visible_at <= @now AND i.locked_until <= @now ${filter.sql}`;
      q = {
        any: this.database.prepare(`SELECT 1 AS one ${from} LIMIT 1`),
        // The visible messages in the index's order (visible time, then arrival), each instance taken
        // at its first: grouping and ordering in SQL cost two temporary B-trees per lock, 40 us of a
        // lock transaction of 60 when one instance was ready.
        ready: this.database.prepare(`SELECT m.instance_id, i.lock_token ${from}`),
      };
      this.readyCache.set(key, q);
    }
    return { ...q, params: filter.params };
  }

  /** The activity lock query for one worker's activity list, prepared once per list length. */
  private readyTaskQueries(names: readonly string[] | undefined): ReadyTaskQueries & { params: Record<string, string> } {
    const list = names ? inList("a", names) : undefined;
    const key = names ? String(names.length) : "any";
    let q = this.readyTaskCache.get(key);
    if (!q) {
      const ready = `FROM activity_tasks WHERE visible_at <= @now AND locked_until <= @now ${list ? `AND name_key IN ${list.sql}` : ""}`;
      q = {
        any: this.database.prepare(`SELECT 1 AS one ${ready} LIMIT 1`),
        // One statement leases the whole batch (a SELECT and an UPDATE per task cost twice as much
        // in a fan-out of 10,000); each task's token is the batch's followed by the task's ID.
        lease: this.database.prepare(
          `UPDATE activity_tasks SET lock_token = @token || '.' || id, locked_until = @lockedUntil, dequeue_count = dequeue_count + 1
           WHERE id IN (SELECT id ${ready} ORDER BY id LIMIT @max)
           RETURNING id, instance_id, execution_id, task_scheduled_id, name, input, metadata, lock_token, dequeue_count`,
        ),
      };
      this.readyTaskCache.set(key, q);
    }
    return { ...q, params: list?.params ?? {} };
  }

  private get s(): NonNullable<SqliteProvider["stmts"]> {
    if (!this.stmts) throw new DurableError("PROVIDER_NOT_INITIALIZED", "The SQLite provider is not initialized (or already closed); call initialize() first.");
    return this.stmts;
  }
  private get database(): Database.Database {
    if (!this.db) throw new DurableError("PROVIDER_NOT_INITIALIZED", "The SQLite provider is not initialized (or already closed); call initialize() first.");
    return this.db;
  }

  async close(): Promise<void> {
    // Client writes already queued are written, not dropped with the connection.
    while (this.db && this.clientWrites.length > 0) this.flushClientWrites();
    this.listeners.clear();
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
    this.transactions = undefined;
    this.readyCache.clear();
    this.readyTaskCache.clear();
    this.historyInserts.clear();
  }

  onWork(listener: (kind: WorkKind, visibleAt: number) => void): () => void {
    return this.listeners.onWork(listener);
  }

  onInstanceChange(listener: (instanceId: string, status: OrchestrationRuntimeStatus) => void): () => void {
    return this.listeners.onInstanceChange(listener);
  }

  /**
   * better-sqlite3's transaction wrapper, made once: `immediate(fn)` runs fn in an IMMEDIATE
   * transaction, and called inside one it runs fn in a savepoint. (Building the wrapper per write
   * showed in profiles.)
   */
  private get tx(): Database.Transaction<(fn: () => unknown) => unknown> {
    return (this.transactions ??= this.database.transaction((fn: () => unknown) => fn()));
  }
  private transactions: Database.Transaction<(fn: () => unknown) => unknown> | undefined;

  /**
   * Runs `fn` in a savepoint of the open transaction. What it announced is passed on only when it
   * returns: a savepoint that rolled back wrote nothing, so it wakes nobody and changed no status.
   */
  private inSavepoint<T>(fn: (announce: Announce, changed: Changed) => T, announce: Announce, changed: Changed): T {
    const wakes: [WorkKind, number][] = [];
    const changes: [string, OrchestrationRuntimeStatus][] = [];
    const result = this.tx(() =>
      fn(
        (kind, at) => wakes.push([kind, at]),
        (id, status) => changes.push([id, status]),
      ),
    ) as T;
    for (const [kind, at] of wakes) announce(kind, at);
    for (const [id, status] of changes) changed(id, status);
    return result;
  }

  /** Runs `fn` in an IMMEDIATE transaction and announces the work and changes it wrote once committed. */
  private write<T>(fn: (announce: Announce, changed: Changed) => T): T {
    const wakes: [WorkKind, number][] = [];
    const changes: [string, OrchestrationRuntimeStatus][] = [];
    this.stats.writeTransactions++;
    let result: T;
    try {
      result = this.tx.immediate(() =>
        fn(
          (kind, at) => wakes.push([kind, at]),
          (id, status) => changes.push([id, status]),
        ),
      ) as T;
    } catch (err) {
      throw storeError(err, this.options.filename);
    }
    this.listeners.publish(wakes, changes);
    return result;
  }

  /**
   * Deletes an instance's rows. Its payloads go too, except when the instance is replaced by a new
   * one in the same transaction (`keepPayloads`): rows written for the new one may already refer to
   * them; the new one's sweep deletes those it does not use.
   */
  private deleteInstanceData(instanceId: string, keepPayloads = false): void {
    const s = this.s;
    s.deleteHistory.run(instanceId);
    s.deleteMessages.run(instanceId);
    s.deleteTasks.run(instanceId);
    s.deleteInstance.run(instanceId);
    if (!keepPayloads) s.deletePayloads.run(instanceId);
  }

  private payloadWriter(): PayloadWriter {
    return new PayloadWriter(this.options.offloadBytes ?? DEFAULT_OFFLOAD_BYTES, this.compressed);
  }

  private insertPayloads(w: PayloadWriter): void {
    if (w.empty) return;
    for (const p of w.rows()) this.s.insertPayload.run(p.instanceId, p.key, p.bytes, p.data);
  }

  /** After the writes that use them: payload rows of instances that do not exist (their message was dropped) go. */
  private dropOrphanPayloads(w: PayloadWriter): void {
    if (w.empty) return;
    for (const id of w.owners) this.s.dropOrphanPayloads.run({ id });
  }

  /** The payload rows a read refers to (inside the read's transaction, so they are the ones its rows name). */
  private fetchPayloads(r: PayloadReader): { instance_id: string; key: string; data: Buffer }[] {
    if (r.empty) return [];
    return r.wanted().flatMap((w) => {
      const row = this.s.payload.get(w.instanceId, w.key);
      return row ? [row] : [];
    });
  }

  /** Queues a message; without `announce`, one handed out with a lease taken with it (counted as delivered once). */
  private insertMessage(instanceId: string, m: OrchestrationMessage, visibleAt: number, announce: Announce | undefined): number {
    const { lastInsertRowid } = this.s.insertMessage.run(instanceId, m.executionId ?? null, m.event.type, JSON.stringify(m.event), visibleAt, m.metadata ? JSON.stringify(m.metadata) : null, announce ? 0 : 1);
    announce?.("orchestration", visibleAt);
    return Number(lastInsertRowid);
  }

  private target(instanceId: string): TargetState | undefined {
    const t = this.s.target.get(instanceId);
    return t ? { kind: t.kind as InstanceKind, runtimeStatus: t.runtime_status as OrchestrationRuntimeStatus } : undefined;
  }

  private insertRow(row: NewInstanceRow, now: number, lease?: StartLease): void {
    this.s.insertInstance.run({
      lockToken: lease?.lockToken ?? null,
      lockedUntil: lease?.lockedUntil ?? 0,
      workerId: lease?.workerId ?? null,
      instanceId: row.instanceId,
      kind: row.kind,
      name: row.name,
      nameKey: functionKey(row.name),
      executionId: row.executionId,
      status: row.runtimeStatus,
      input: row.input ?? null,
      parent: row.parentInstanceId ?? null,
      version: row.version ?? null,
      now,
    });
  }

  /**
   * Group commit of client writes, as on PostgreSQL: starts and messages sent in the same turn of the
   * event loop are written in one transaction, in the order they are queued (call order; a call
   * whose large payload is compressed first joins when that is done), each in a savepoint of its
   * own, so a refused one (an ID that exists, a message to nowhere) is refused alone and the others
   * are kept. A failure of the store itself fails them all: none was written.
   */
  private clientWrite(run: (announce: Announce, changed: Changed) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.clientWrites.push({ run, resolve, reject });
      if (this.clientWrites.length === 1) setImmediate(() => this.flushClientWrites());
    });
  }

  private clientWrites: { run: (announce: Announce, changed: Changed) => void; resolve: () => void; reject: (err: unknown) => void }[] = [];

  private flushClientWrites(): void {
    const batch = this.clientWrites.splice(0, 500);
    if (this.clientWrites.length > 0) setImmediate(() => this.flushClientWrites());
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const [only] = batch as [(typeof batch)[number]];
      try {
        this.write(only.run);
        only.resolve();
      } catch (err) {
        only.reject(err);
      }
      return;
    }
    const refused = new Map<number, unknown>();
    try {
      this.write((announce, changed) => {
        batch.forEach((w, i) => {
          try {
            this.inSavepoint(w.run, announce, changed);
          } catch (err) {
            // A refusal (an ID that exists, a message to nowhere) is the caller's alone. Anything
            // else is the store's, and some SQLite errors end the transaction by themselves: the
            // whole group is failed rather than written in pieces.
            if (!isDurableError(err)) throw err;
            refused.set(i, err);
          }
        });
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => (refused.has(i) ? w.reject(refused.get(i)) : w.resolve()));
  }

  async createInstance(request: CreateInstanceRequest): Promise<OrchestrationWorkItem | undefined> {
    const w = this.payloadWriter();
    const req = w.create(request);
    if (!w.empty) await w.compress();
    const started = req.startedEvent;
    const asked = req.visibleAt === undefined ? req.lease : undefined;
    let item: OrchestrationWorkItem | undefined;
    await this.clientWrite((announce, changed) => {
      const d = planStart(started, this.target(started.instanceId));
      if (d.action === "fail") throw d.error;
      if (d.action !== "create" && d.action !== "replace") return;
      if (d.action === "replace") this.deleteInstanceData(started.instanceId, true);
      this.insertPayloads(w);
      const lease = asked && { lockToken: randomUUID(), lockedUntil: req.now + asked.leaseMs, workerId: asked.workerId };
      this.insertRow(d.row, req.now, lease);
      const message: OrchestrationMessage = { event: started, executionId: started.executionId };
      if (req.metadata) message.metadata = req.metadata;
      const messageId = this.insertMessage(started.instanceId, message, req.visibleAt ?? req.now, lease ? undefined : announce);
      changed(started.instanceId, d.row.runtimeStatus);
      // The caller's event, with its input in full (the row may hold a reference to a payload row).
      if (lease) item = startedWorkItem(request.startedEvent, messageId, lease, req.now, req.metadata);
    });
    return item;
  }

  async sendMessages(outgoing: readonly OutgoingMessage[], now: number): Promise<void> {
    const w = this.payloadWriter();
    const messages = outgoing.map((m) => w.outgoing(m));
    if (!w.empty) await w.compress();
    return this.clientWrite((announce) => {
      this.insertPayloads(w);
      // All or none: a refused message throws, and the transaction rolls back whatever came before it.
      for (const m of messages) {
        const d = planDelivery(m, this.target(m.instanceId), "client", now);
        if (d.action === "fail") throw d.error;
        if (d.action === "create") this.insertRow(d.row, now);
        if (d.action !== "create" && d.action !== "append") continue;
        if (m.wake) this.s.wake.run(m.instanceId);
        this.insertMessage(m.instanceId, m.message, m.visibleAt ?? now, announce);
      }
      this.dropOrphanPayloads(w);
    });
  }

  async lockOrchestrationWorkItems(req: InstanceLockRequest): Promise<OrchestrationWorkItem[]> {
    if (req.max <= 0) return [];
    const q = this.readyQueries(req.functions);
    const params = { now: req.now, max: req.max, ...q.params };
    // Look before taking the write lock: an idle poll must not cost a write transaction.
    if (!q.any.get(params)) return [];
    const read = this.write(() => {
      const s = this.s;
      const items: { item: OrchestrationWorkItem; payloads: PayloadReader; rows: { instance_id: string; key: string; data: Buffer }[] }[] = [];
      const ready = new Map<string, string | null>();
      for (const { instance_id, lock_token } of q.ready.iterate(params)) {
        if (ready.has(instance_id)) continue;
        ready.set(instance_id, lock_token);
        if (ready.size >= req.max) break;
      }
      for (const [instance_id, lock_token] of ready) {
        const token = randomUUID();
        const lockedUntil = req.now + req.leaseMs;
        if (s.lockInstance.run(token, lockedUntil, req.workerId, instance_id, req.now).changes !== 1) continue;
        s.countDelivery.run(instance_id, req.now);
        const payloads = new PayloadReader();
        const item = this.workItem(instance_id, token, lockedUntil, lock_token !== null, req, payloads);
        items.push({ item, payloads, rows: this.fetchPayloads(payloads) });
      }
      return items;
    });
    // Inflated after the write lock is released; a missing payload makes its item unreadable, not the lock fail.
    if (read.some((r) => !r.payloads.empty)) await Promise.all(read.map(({ item, payloads, rows }) => payloads.resolveItems(rows, [item])));
    return read.map((r) => r.item);
  }

  /**
   * The work item of a freshly leased instance. Stored JSON that cannot be parsed does not make the
   * lock fail (that would stop every instance behind it, on every host): the item says what could
   * not be read, with what could.
   */
  private workItem(instanceId: string, lockToken: string, lockedUntil: number, takeover: boolean, req: InstanceLockRequest, payloads: PayloadReader): OrchestrationWorkItem {
    const s = this.s;
    const row = s.getInstance.get(instanceId)!;
    const problems: string[] = [];
    const readable = <T>(what: string, read: () => T): T | undefined => {
      try {
        return read();
      } catch (err) {
        problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    };
    const rows = s.visibleMessages.all(instanceId, req.now);
    const messages = rows.flatMap((m) => {
      const message = readable(`message ${m.id}`, () => toMessage(m));
      if (message) payloads.message(instanceId, message);
      return message ? [{ id: m.id, message, dequeueCount: m.dequeue_count }] : [];
    });
    const instance = readable("the instance row", () => instanceFromRow(row)) ?? instanceFromRow({ ...row, failure_details: null, parked: null });
    payloads.instance(instance);
    const item: OrchestrationWorkItem = {
      instanceId,
      lockToken,
      lockedUntil,
      workerId: req.workerId,
      dequeueCount: rows.reduce((n, m) => Math.max(n, m.dequeue_count), 0),
      takeover,
      instance,
      messages,
    };
    if (req.cachedHistoryLength?.(instanceId, row.execution_id) !== row.history_length) {
      const history = readable("the history", () => this.s.history.all(instanceId).map((r) => JSON.parse(r.event) as HistoryEvent));
      if (history) {
        for (const e of history) payloads.event(instanceId, e);
        item.history = history;
      }
    }
    if (problems.length > 0) item.unreadable = `The stored state of '${instanceId}' could not be read (${problems.join("; ")}).`;
    return item;
  }

  async completeOrchestrationWorkItems(given: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]> {
    if (given.length === 0) return [];
    // Large payloads are compressed before the write lock is taken, off the main thread.
    const commits = given.map((c): StoredCommit => {
      const payloads = this.payloadWriter();
      return { commit: payloads.commit(c, commitInstanceId(c)), payloads };
    });
    if (commits.some((c) => !c.payloads.empty)) await Promise.all(commits.map((c) => c.payloads.compress()));
    try {
      return this.write((announce, changed) => commits.map((c) => this.completeOne(c, now, announce, changed)));
    } catch (first) {
      if (commits.length === 1) return [{ ok: false, error: first instanceof Error ? first : new Error(String(first)) }];
      // Something in the group failed and the whole transaction rolled back: redo it with each step
      // in its own savepoint, so the failing one is refused alone instead of taking the others along.
      return this.write((announce, changed) =>
        commits.map((c) => {
          try {
            return this.inSavepoint((a, ch) => this.completeOne(c, now, a, ch), announce, changed);
          } catch (err) {
            return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
          }
        }),
      );
    }
  }

  /** Appends events from `seq` on, several rows per statement; returns the next seq. */
  private appendHistory(id: string, seq: number, executionId: string, events: readonly HistoryEvent[]): number {
    for (let i = 0; i < events.length; i += HISTORY_ROWS_PER_INSERT) {
      const chunk = events.slice(i, i + HISTORY_ROWS_PER_INSERT);
      const values: (string | number)[] = [];
      for (const e of chunk) values.push(id, seq++, executionId, e.type, JSON.stringify(e));
      this.historyInsert(chunk.length).run(...values);
    }
    return seq;
  }

  private historyInsert(rows: number): Database.Statement<(string | number)[]> {
    let statement = this.historyInserts.get(rows);
    if (!statement) {
      statement = this.database.prepare(`INSERT INTO history (instance_id, seq, execution_id, event_type, event) VALUES ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?)").join(", ")}`);
      this.historyInserts.set(rows, statement);
    }
    return statement;
  }

  private readonly historyInserts = new Map<number, Database.Statement<(string | number)[]>>();

  /** One step: every check first (nothing is written when one fails), then the writes. */
  private completeOne({ commit: c, payloads }: StoredCommit, now: number, announce: Announce, changed: Changed): CommitResult {
    const s = this.s;
    const f = c.fence;
    const id = f.kind === "lease" ? f.item.instanceId : f.instanceId;
    const row = s.fenceOf.get(id);
    const held =
      f.kind === "lease"
        ? !!row && row.lock_token === f.item.lockToken
        : !!row && row.locked_until <= now && row.execution_id === f.executionId && row.history_length === f.historyLength;
    if (!row || !held) return { ok: false, error: new LockLostError(`orchestration instance '${id}'`) };
    for (const r of c.activityResults ?? []) {
      if (s.taskToken.get(r.item.id)?.lock_token !== r.item.lockToken) return { ok: false, error: activityLockLost(r.item) };
    }
    this.insertPayloads(payloads);
    if (f.kind === "lease") for (const mid of f.consumedMessageIds) s.deleteMessage.run(mid);
    for (const r of c.activityResults ?? []) s.deleteTask.run(r.item.id, r.item.lockToken);
    let seq = row.history_length;
    if (c.replaceHistory) {
      s.deleteHistory.run(id);
      seq = 0;
    }
    seq = this.appendHistory(id, seq, c.instance.executionId, c.newHistory);
    const u = c.instance;
    const nameKey = functionKey(u.name);
    const statement = nameKey !== row.name_key ? s.updateInstance : u.runtimeStatus !== row.runtime_status ? s.updateInstanceStatus : s.updateInstanceSameStatus;
    statement.run({
      instanceId: id,
      name: u.name,
      nameKey,
      executionId: u.executionId,
      status: u.runtimeStatus,
      input: u.input ?? null,
      output: u.output ?? null,
      customStatus: u.customStatus ?? null,
      failure: u.failureDetails ? JSON.stringify(u.failureDetails) : null,
      entityState: u.entityState ?? null,
      now: u.lastUpdatedAt ?? now,
      historyLength: seq,
    });
    const leased = this.insertTasks(c, now, announce);
    payloads.restoreInputs(leased);
    for (const m of c.messages) this.deliver(m, now, announce, changed);
    this.dropOrphanPayloads(payloads);
    if (c.deleteIfIdle && !s.hasAnyMessage.get(id)) {
      this.deleteInstanceData(id);
      return { ok: true };
    }
    // Payloads no row refers to any more: an execution that ended or started over, an entity's old state.
    const ended = isTerminalStatus(u.runtimeStatus) && !isTerminalStatus(row.runtime_status as OrchestrationRuntimeStatus);
    if ((c.replaceHistory || ended || row.kind === "entity") && s.hasPayloads.get(id)) s.sweepPayloads.run({ id });
    // Messages that arrived while the step's lease held them back are ready now that it is released.
    // (Without a lease, an optimistic step's instance was never held: what arrived was announced then.)
    if (f.kind === "lease" && s.hasVisibleMessage.get(id, now)) announce("orchestration", now);
    if (u.runtimeStatus !== row.runtime_status) changed(id, u.runtimeStatus);
    return leased.length > 0 ? { ok: true, leasedActivities: leased } : { ok: true };
  }

  /** Inserts the step's activity tasks, leasing the first ones to the committing worker when asked. */
  private insertTasks(c: OrchestrationCommit, now: number, announce: Announce): ActivityWorkItem[] {
    const leased: ActivityWorkItem[] = [];
    const lease = c.leaseActivities;
    for (const t of c.activityTasks) {
      const key = functionKey(t.name);
      const take = !!lease && leased.length < lease.max && (!lease.functions || lease.functions.includes(key));
      const token = take ? randomUUID() : null;
      const lockedUntil = take ? now + lease.leaseMs : 0;
      const metadata = t.metadata ? JSON.stringify(t.metadata) : null;
      const { lastInsertRowid } = this.s.insertTask.run(t.instanceId, t.executionId, t.taskScheduledId, t.name, key, t.input ?? null, metadata, now, token, lockedUntil, take ? 1 : 0);
      if (token === null) {
        announce("activity", now);
        continue;
      }
      const item: ActivityWorkItem = { id: Number(lastInsertRowid), instanceId: t.instanceId, executionId: t.executionId, taskScheduledId: t.taskScheduledId, name: t.name, lockToken: token, lockedUntil, dequeueCount: 1 };
      if (t.input !== undefined) item.input = t.input;
      if (t.metadata) item.metadata = t.metadata;
      leased.push(item);
    }
    return leased;
  }

  /**
   * A message a step sends: delivered as core's planDelivery says, on the target's state read here.
   * An instance it creates or replaces changes status (announced after the commit, as any change).
   */
  private deliver(m: OutgoingMessage, now: number, announce: Announce, changed?: Changed): void {
    const d = planDelivery(m, this.target(m.instanceId), "step", now);
    switch (d.action) {
      case "drop":
      case "fail":
        return;
      case "redirect":
        this.deliver(d.message, now, announce, changed);
        return;
      case "replace":
        this.deleteInstanceData(m.instanceId, true);
        this.insertRow(d.row, now);
        changed?.(m.instanceId, d.row.runtimeStatus);
        break;
      case "create":
        this.insertRow(d.row, now);
        changed?.(m.instanceId, d.row.runtimeStatus);
        break;
      case "append":
        break;
    }
    if (m.wake) this.s.wake.run(m.instanceId);
    this.insertMessage(m.instanceId, m.message, m.visibleAt ?? now, announce);
  }

  async abandonOrchestrationWorkItem(item: OrchestrationWorkItem, options: AbandonOptions, now: number): Promise<void> {
    this.write((announce) => {
      const retryAt = now + Math.max(0, options.retryAfterMs);
      const park = options.park ? JSON.stringify(options.park) : null;
      const released = this.s.abandonInstance.get({ now, retryAt, park, instanceId: item.instanceId, lockToken: item.lockToken });
      if (released) announce("orchestration", released.locked_until);
    });
  }

  async renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return this.write(() =>
      items.map((item) => {
        const ok = this.s.renewInstance.run(now + leaseMs, item.instanceId, item.lockToken).changes === 1;
        if (ok) item.lockedUntil = now + leaseMs;
        return ok;
      }),
    );
  }

  async getHistory(instanceId: string, page: HistoryPage = {}): Promise<HistoryEvent[]> {
    const payloads = new PayloadReader();
    // One read transaction: the payload rows are those the history rows name.
    const { events, rows } = this.database.transaction(() => {
      const stored = page.fromSeq === undefined && page.limit === undefined ? this.s.history.all(instanceId) : this.s.historyPage.all(instanceId, page.fromSeq ?? 0, page.limit ?? -1);
      const events = stored.map((r) => JSON.parse(r.event) as HistoryEvent);
      for (const e of events) payloads.event(instanceId, e);
      return { events, rows: this.fetchPayloads(payloads) };
    })();
    if (!payloads.empty) await payloads.resolve(rows);
    return events;
  }

  async lockActivityWorkItems(req: ActivityLockRequest): Promise<ActivityWorkItem[]> {
    if (req.max <= 0) return [];
    const q = this.readyTaskQueries(req.functions);
    const params = { now: req.now, max: req.max, ...q.params };
    // Look before taking the write lock: an idle poll must not cost a write transaction.
    if (!q.any.get(params)) return [];
    const payloads = new PayloadReader();
    const lockedUntil = req.now + req.leaseMs;
    const { items, rows } = this.write(() => {
      const leased = q.lease.all({ ...params, token: randomUUID(), lockedUntil }).sort((a, b) => a.id - b.id);
      const items = leased.map((t) => {
        const item: ActivityWorkItem = {
          id: t.id,
          instanceId: t.instance_id,
          executionId: t.execution_id,
          taskScheduledId: t.task_scheduled_id,
          name: t.name,
          lockToken: t.lock_token,
          lockedUntil,
          dequeueCount: t.dequeue_count,
        };
        if (t.input !== null) item.input = t.input;
        if (t.metadata !== null) item.metadata = JSON.parse(t.metadata) as Record<string, string>;
        payloads.task(item);
        return item;
      });
      return { items, rows: this.fetchPayloads(payloads) };
    });
    if (!payloads.empty) await payloads.resolveTasks(rows, items);
    return items;
  }

  async completeActivityWorkItems(given: readonly ActivityResult[], now: number): Promise<CommitResult[]> {
    if (given.length === 0) return [];
    const w = this.payloadWriter();
    const results = given.map((r) => ({ item: r.item, event: w.event(r.item.instanceId, r.event) }));
    if (!w.empty) await w.compress();
    return this.write((announce) => {
      this.insertPayloads(w);
      const out = results.map(({ item, event }): CommitResult => {
        if (this.s.deleteTask.run(item.id, item.lockToken).changes !== 1) return { ok: false, error: activityLockLost(item) };
        this.deliver({ kind: "toParent", instanceId: item.instanceId, message: { event, executionId: item.executionId } }, now, announce);
        return { ok: true };
      });
      this.dropOrphanPayloads(w);
      return out;
    });
  }

  async abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void> {
    this.write((announce) => {
      if (this.s.abandonTask.run(now + retryAfterMs, item.id, item.lockToken).changes === 1) announce("activity", now + retryAfterMs);
    });
  }

  async renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return this.write(() =>
      items.map((item) => {
        const ok = this.s.renewTask.run(now + leaseMs, item.id, item.lockToken).changes === 1;
        if (ok) item.lockedUntil = now + leaseMs;
        return ok;
      }),
    );
  }

  async getInstance(instanceId: string, options: InstanceReadOptions = {}): Promise<InstanceRecord | undefined> {
    const [record] = await this.readInstances(() => {
      const r = this.s.getInstance.get(instanceId);
      return r ? [r] : [];
    }, options);
    return record;
  }

  /** Instance rows with their payloads (the input only when wanted), read in one transaction. */
  private async readInstances(read: () => InstanceRow[], options: InstanceReadOptions): Promise<InstanceRecord[]> {
    const payloads = new PayloadReader();
    const { records, rows } = this.database.transaction(() => {
      const records = read().map(instanceFromRow);
      for (const r of records) payloads.instance(r, options);
      return { records, rows: this.fetchPayloads(payloads) };
    })();
    if (!payloads.empty) await payloads.resolve(rows);
    return records;
  }

  async queryInstances(q: InstanceQuery): Promise<InstancePage> {
    const size = pageSizeOf(q.pageSize);
    const cursor = decodeCursor(q.continuationToken);
    const f = filterSql(q);
    if (!f) return { instances: [] };
    const { where, params } = f;
    if (cursor) {
      where.push("(created_at > ? OR (created_at = ? AND instance_id > ?))");
      params.push(cursor.createdAt, cursor.createdAt, cursor.instanceId);
    }
    const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, instance_id LIMIT ?`;
    let more = false;
    const page = await this.readInstances(() => {
      const rows = this.database.prepare<(string | number)[], InstanceRow>(sql).all(...params, size + 1);
      more = rows.length > size;
      return rows.slice(0, size);
    }, q);
    const last = page[page.length - 1];
    return more && last ? { instances: page, continuationToken: encodeCursor(last) } : { instances: page };
  }

  async countInstances(filter: InstanceFilter): Promise<StatusCounts> {
    const f = filterSql(filter);
    if (!f) return {};
    const sql = `SELECT runtime_status AS s, COUNT(*) AS n FROM instances ${f.where.length ? `WHERE ${f.where.join(" AND ")}` : ""} GROUP BY runtime_status`;
    const counts: StatusCounts = {};
    for (const r of this.database.prepare<(string | number)[], { s: OrchestrationRuntimeStatus; n: number }>(sql).all(...f.params)) counts[r.s] = r.n;
    return counts;
  }

  async purgeInstance(instanceId: string): Promise<number> {
    return this.write(() => {
      if (!this.s.instanceExists.get(instanceId)) return 0;
      this.deleteInstanceData(instanceId);
      return 1;
    });
  }

  async purgeInstances(f: PurgeFilter): Promise<number> {
    const statuses = (f.runtimeStatus ?? TERMINAL_STATUSES).filter((s) => isTerminalStatus(s));
    if (statuses.length === 0) return 0;
    const params: (string | number)[] = [...statuses];
    let sql = `SELECT instance_id FROM instances WHERE runtime_status IN (${statuses.map(() => "?").join(", ")})`;
    const bound = (clause: string, value: number | undefined): void => {
      if (value === undefined) return;
      sql += ` AND ${clause}`;
      params.push(value);
    };
    bound("created_at >= ?", f.createdFrom);
    bound("created_at <= ?", f.createdTo);
    // A finished instance was created before it last changed: the created_at bound lets the
    // (runtime_status, created_at) index narrow retention's scan, with no index on last_updated_at
    // (which every step writes).
    bound("created_at <= ?", f.lastUpdatedTo);
    bound("last_updated_at <= ?", f.lastUpdatedTo);
    sql += " LIMIT ?";
    const select = this.database.prepare<(string | number)[], { instance_id: string }>(sql);
    let total = 0;
    // Bounded batches keep each write transaction short, so workers are not starved during a big purge.
    for (;;) {
      const batch = purgeBatchSize(f, total);
      if (batch <= 0) return total;
      const n = this.write(() => {
        const ids = select.all(...params, batch);
        for (const { instance_id } of ids) this.deleteInstanceData(instance_id);
        return ids.length;
      });
      total += n;
      if (n < batch) return total;
      await new Promise((r) => setImmediate(r));
    }
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    const times = [this.s.nextMessage.get(now)?.t, this.s.nextTask.get(now)?.t, this.s.nextRetry.get(now)?.t].filter((t): t is number => typeof t === "number");
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  async workCounts(now: number): Promise<WorkCounts> {
    const counts: WorkCounts = { orchestrations: 0, entities: 0, activities: this.s.readyTasks.get(now, now)?.n ?? 0, parked: this.s.parkedCount.get()?.n ?? 0 };
    for (const r of this.s.readyInstances.all(now, now)) {
      if (r.kind === "entity") counts.entities = r.n;
      else counts.orchestrations = r.n;
    }
    return counts;
  }

  async findStrandedWork(req: StrandedWorkRequest): Promise<StrandedWork> {
    const instances = this.s.strandedInstances
      .all({ before: req.visibleBefore, now: req.now, limit: req.limit, orchestrations: JSON.stringify(req.functions.orchestrations), entities: JSON.stringify(req.functions.entities) })
      .map((r) => ({ instanceId: r.instance_id, kind: r.kind as InstanceKind, name: r.name }));
    const activities = this.s.strandedTasks
      .all({ before: req.visibleBefore, now: req.now, limit: req.limit, activities: JSON.stringify(req.functions.activities) })
      .map((r) => ({ instanceId: r.instance_id, name: r.name }));
    return { instances, activities };
  }

  async markParked(instanceId: string, park: ParkInfo, now: number): Promise<boolean> {
    return this.write(() => this.s.markParked.run(JSON.stringify(park), instanceId, now).changes === 1);
  }

  async heartbeat(host: HostRecord, now: number): Promise<void> {
    this.write(() => this.s.heartbeat.run(host.workerId, host.hostname, host.pid, host.startedAt, now, host.info ?? null));
  }

  async removeHost(workerId: string): Promise<void> {
    this.s.removeHost.run(workerId);
  }

  async initTimerOccurrence(name: string, baseline: number, workerId: string, now: number): Promise<number> {
    const key = functionKey(name);
    const found = this.s.timerLast.get(key);
    if (found) return found.last_occurrence;
    return this.write(() => {
      this.s.timerInsert.run({ key, baseline, workerId, now });
      return this.s.timerLast.get(key)!.last_occurrence;
    });
  }

  async readTimerOccurrence(name: string): Promise<TimerOccurrenceRecord | undefined> {
    const row = this.s.timerRow.get(functionKey(name));
    return row && timerRecord(row);
  }

  async claimTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<{ claimed: boolean; last?: number }> {
    const key = functionKey(name);
    // Look before taking the write lock: the hosts that lost the occurrence do not queue for it.
    const seen = this.s.timerLast.get(key)?.last_occurrence;
    if (seen !== undefined && seen >= occurrence) return { claimed: false, last: seen };
    return this.write(() => {
      const before = this.s.timerLast.get(key)?.last_occurrence;
      if (before !== undefined && before >= occurrence) return { claimed: false, last: before };
      this.s.timerClaim.run(key, occurrence, workerId, now, now + leaseMs);
      return before === undefined ? { claimed: true } : { claimed: true, last: before };
    });
  }

  async renewTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    return this.write(() => this.s.timerRenew.run({ key: functionKey(name), occurrence, workerId, until: now + leaseMs }).changes === 1);
  }

  async completeTimerOccurrence(name: string, occurrence: number, _workerId: string, _now: number): Promise<void> {
    this.write(() => this.s.timerComplete.run({ key: functionKey(name), occurrence }));
  }

  async takeOverTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    const key = functionKey(name);
    // Look before taking the write lock: a run still leased (or done, or superseded) is not queued for.
    const seen = this.s.timerRow.get(key);
    if (!seen || !timerRunInterrupted(timerRecord(seen), occurrence, now)) return false;
    return this.write(() => this.s.timerTakeOver.run({ key, occurrence, workerId, now, until: now + leaseMs }).changes === 1);
  }
}

/** SQLite result codes that mean the file cannot take writes now (not a bug in what was written). */
const UNAVAILABLE: Record<string, string> = {
  SQLITE_FULL: "the disk is full",
  SQLITE_READONLY: "the database file is read-only",
  SQLITE_IOERR: "the disk reported an I/O error",
  SQLITE_CANTOPEN: "the database file cannot be opened",
  SQLITE_BUSY: "another process holds the database's write lock for too long",
  SQLITE_LOCKED: "the database is locked",
  SQLITE_PROTOCOL: "the database's lock protocol failed",
};

/** A write that failed because of the file or the disk: STORE_UNAVAILABLE (HTTP 503), with the reason. */
function storeError(err: unknown, file: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return err;
  const reason = UNAVAILABLE[code] ?? UNAVAILABLE[code.replace(/_[A-Z_]+$/, "")] ?? UNAVAILABLE[code.split("_").slice(0, 2).join("_")];
  if (!reason) return err;
  return new StoreUnavailableError(`${reason} (${file}: ${err instanceof Error ? err.message : code})`, { cause: err });
}

/**
 * The WHERE fragments of a query's filters, with their values; undefined when nothing can match
 * (an empty status list). Only fixed fragments and placeholders: no input ever becomes SQL text.
 */
function filterSql(q: InstanceFilter): { where: string[]; params: (string | number)[] } | undefined {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (sql: string, ...values: (string | number)[]): void => {
    where.push(sql);
    params.push(...values);
  };
  if (q.kind !== undefined) add("kind = ?", q.kind);
  if (q.name !== undefined) add("name_key = ?", functionKey(q.name));
  if (q.lastUpdatedFrom !== undefined) add("last_updated_at >= ?", q.lastUpdatedFrom);
  if (q.lastUpdatedTo !== undefined) add("last_updated_at <= ?", q.lastUpdatedTo);
  if (q.runtimeStatus) {
    if (q.runtimeStatus.length === 0) return undefined;
    add(`runtime_status IN (${q.runtimeStatus.map(() => "?").join(", ")})`, ...q.runtimeStatus);
  }
  if (q.createdFrom !== undefined) add("created_at >= ?", q.createdFrom);
  if (q.createdTo !== undefined) add("created_at <= ?", q.createdTo);
  if (q.instanceIdPrefix !== undefined && q.instanceIdPrefix !== "") add("substr(instance_id, 1, length(?)) = ?", q.instanceIdPrefix, q.instanceIdPrefix);
  if (q.version !== undefined) add("version = ?", q.version);
  return { where, params };
}
