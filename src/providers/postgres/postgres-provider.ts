import { randomBytes, randomUUID } from "node:crypto";
import { DurableError, InvalidArgumentError, StoreUnavailableError } from "../../core/errors.js";
import type { HistoryEvent } from "../../core/history.js";
import type { OrchestrationMessage, OutgoingMessage } from "../../core/messages.js";
import type { InstanceKind } from "../../core/outbox.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus, TERMINAL_STATUSES } from "../../core/status.js";
import type { ParkInfo } from "../../core/step-policy.js";
import { decodeCursor, encodeCursor, pageSizeOf } from "../paging.js";
import { CompressedCache, DEFAULT_OFFLOAD_BYTES, missingPayload, PayloadReader, PayloadWriter, RecentIds } from "../payloads.js";
import {
  type AbandonOptions,
  type ActivityLockRequest,
  type ActivityResult,
  type ActivityWorkItem,
  type CommitResult,
  type CreateInstanceRequest,
  commitInstanceId,
  functionKey,
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
  startedWorkItem,
  type StorageProvider,
  type StrandedWork,
  type StrandedWorkRequest,
  type TimerOccurrenceRecord,
  timerRunInterrupted,
  timerRunOpen,
  type WorkCounts,
  type InstanceFilter,
  type StatusCounts,
  type WorkKind,
} from "../provider.js";
import { ProviderListeners } from "../listeners.js";
import { instanceFromRow, type InstanceRow, timerRecord, type TimerRow } from "../sql-rows.js";
import { SchemaPermissionError, SchemaVersionError } from "../schema-version.js";
import { type BatchOp, BatchPlanner, byteOrder, lockSet, type RowState, type Snapshot } from "./batch-plan.js";
import { PG_MIGRATIONS } from "./migrations.js";
import { PgConnection, type Querier, type Replay, RetryTransaction } from "./pg-connection.js";
import { PgListener } from "./pg-listener.js";
import { type Statements, statements } from "./pg-sql.js";
import { bulkTaskInsert, type Gate, readReport, type ReportRow, type WriteReport, writeStatement } from "./write-statement.js";

export interface PostgresProviderOptions {
  /** `postgres://user[:password]@host[:port]/database[?sslmode=...]` */
  connectionString: string;
  /** The schema holding Perdure's tables (created on first start). Default `perdure`. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** How long a lost connection or restarting server is retried before an operation fails. Default 5 s. */
  retryForMs?: number;
  /** Wake other processes on new work through LISTEN/NOTIFY. Default true. */
  listen?: boolean;
  /** Where connection trouble is reported. Default: stderr. */
  warn?: (message: string) => void;
  /** Payloads from this many bytes on are compressed into the payloads table (default 32 KiB; 0: never). */
  offloadBytes?: number;
}

export const DEFAULT_SCHEMA = "perdure";
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface ClaimRow extends InstanceRow {
  takeover: boolean;
  ids: number[] | null;
  execs: (string | null)[] | null;
  events: string[] | null;
  metas: (string | null)[] | null;
  counts: number[] | null;
}

interface TaskRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_scheduled_id: number;
  name: string;
  input: string | null;
  metadata: string | null;
  lock_token: string;
  locked_until: number;
  dequeue_count: number;
}

/** What crosses processes on the store's channel: who sent it, the earliest new work per kind, finished instances. */
interface WorkNotice {
  s: string;
  o?: number;
  a?: number;
  c?: [string, OrchestrationRuntimeStatus][];
}

/** NOTIFY payloads must stay under 8,000 bytes; the list of finished instances is dropped beyond this. */
const MAX_NOTICE_BYTES = 7_000;

function toTaskItem(t: TaskRow): ActivityWorkItem {
  const item: ActivityWorkItem = {
    id: t.id,
    instanceId: t.instance_id,
    executionId: t.execution_id,
    taskScheduledId: t.task_scheduled_id,
    name: t.name,
    lockToken: t.lock_token,
    lockedUntil: t.locked_until,
    dequeueCount: t.dequeue_count,
  };
  if (t.input !== null) item.input = t.input;
  if (t.metadata !== null) item.metadata = JSON.parse(t.metadata) as Record<string, string>;
  return item;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * Storage on PostgreSQL, shared by any number of hosts (provider.ts states the contract and the
 * isolation each method relies on). Work is claimed with FOR UPDATE SKIP LOCKED plus a lease; every
 * commit locks the rows it touches in ascending ID order and is fenced on the lease token; many
 * steps are committed in one transaction with a fixed number of statements (batch-plan.ts). New work
 * wakes other processes through LISTEN/NOTIFY; polling stays the floor.
 */
export class PostgresProvider implements StorageProvider {
  readonly stats: ProviderStats = { writeTransactions: 0 };
  readonly schema: string;
  private conn: PgConnection | undefined;
  private listener: PgListener | undefined;
  private sqlText: Statements;
  private readonly channel: string;
  /** Tells this process's notices from others' on the shared channel. */
  private readonly senderId = randomBytes(6).toString("hex");
  private readonly listeners = new ProviderListeners();
  private readonly compressed = new CompressedCache();
  /** Instances whose payloads this handle wrote or read lately: their end sweeps the payloads they no longer use. */
  private readonly payloadOwners = new RecentIds();
  private initializing: Promise<void> | undefined;

  constructor(private readonly options: PostgresProviderOptions) {
    this.schema = options.schema ?? DEFAULT_SCHEMA;
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new InvalidArgumentError(`'${this.schema}' is not a usable schema name: use letters, digits and underscores (at most 63, not starting with a digit), e.g. schema=perdure.`);
    }
    this.sqlText = statements(`"${this.schema}"`);
    this.channel = `perdure:${this.schema}`;
  }

  private get warn(): (message: string) => void {
    return this.options.warn ?? ((m) => console.error(`[perdure postgres] ${m}`));
  }

  private get c(): PgConnection {
    if (!this.conn) throw new DurableError("PROVIDER_NOT_INITIALIZED", "The PostgreSQL provider is not initialized (or already closed); call initialize() first.");
    return this.conn;
  }

  async initialize(): Promise<void> {
    if (this.conn) return;
    this.initializing ??= this.open().finally(() => (this.initializing = undefined));
    return this.initializing;
  }

  private async open(): Promise<void> {
    const conn = new PgConnection({
      connectionString: this.options.connectionString,
      poolSize: this.options.poolSize ?? 10,
      retryForMs: this.options.retryForMs ?? 5_000,
      // Tells an operator (pg_stat_activity) whose connections these are.
      applicationName: `perdure:${this.schema}`,
      warn: (m) => this.warn(m),
    });
    try {
      await this.migrate(conn);
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
    this.conn = conn;
    if (this.options.listen !== false) {
      this.listener = new PgListener({
        config: conn.config,
        channel: this.channel,
        onMessage: (payload) => this.receive(payload),
        // Notices sent while nobody listened are lost: look for work once connected.
        onConnect: () => this.publish([["orchestration", 0], ["activity", 0]], []),
        warn: (m) => this.warn(m),
      });
      // Listening before the host takes work: a notice sent before LISTEN would be lost.
      await this.listener.start();
    }
  }

  /**
   * Brings the schema up to date. The common case (already current) only reads; otherwise one
   * transaction under an advisory lock per schema, so hosts starting together migrate once.
   */
  private async migrate(conn: PgConnection): Promise<void> {
    const latest = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;
    const s = `"${this.schema}"`;
    const current = async (q: Querier): Promise<number> => {
      const exists = await q.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [`${s}.schema_version`]);
      if (!exists.rows[0]?.t) return 0;
      const v = await q.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_version`);
      return v.rows[0]?.v ?? 0;
    };
    const found = await conn.run("reading the schema version", "fenced", current);
    if (found > latest) throw new SchemaVersionError(found, latest);
    if (found === latest) return;
    const migrateTx = async (q: Querier): Promise<void> => {
      await q.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`perdure:migrate:${this.schema}`]);
      await q.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await q.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)`);
      const now = await current(q);
      if (now > latest) throw new SchemaVersionError(now, latest);
      for (const m of PG_MIGRATIONS) {
        if (m.version <= now) continue;
        await q.query(m.sql.replaceAll("{s}", s));
        await q.query(`INSERT INTO ${s}.schema_version (version, description, applied_at) VALUES ($1, $2, (extract(epoch FROM now()) * 1000)::bigint)`, [m.version, m.description]);
      }
    };
    await conn.tx("migrating the schema", "fenced", migrateTx).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === "42501") {
        throw new SchemaPermissionError(`The role may not create or migrate the schema '${this.schema}' (${(err as Error).message}; it is at version ${found}, this Perdure needs ${latest})`, { cause: err });
      }
      throw err;
    });
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.initializing?.catch(() => undefined);
    const listener = this.listener;
    const conn = this.conn;
    this.listener = undefined;
    this.conn = undefined;
    await listener?.stop();
    await conn?.close();
  }

  onWork(listener: (kind: WorkKind, visibleAt: number) => void): () => void {
    return this.listeners.onWork(listener);
  }

  onInstanceChange(listener: (instanceId: string, status: OrchestrationRuntimeStatus) => void): () => void {
    return this.listeners.onInstanceChange(listener);
  }

  /** Tells this process's listeners, after a commit: the earliest new work per kind, then status changes. */
  private publish(work: readonly [WorkKind, number][], changes: readonly [string, OrchestrationRuntimeStatus][]): void {
    this.listeners.publish(work, changes);
  }

  /** The notice other processes get for a transaction's new work and finished instances (undefined: nothing to say). */
  private notice(work: readonly [WorkKind, number][], changes: readonly [string, OrchestrationRuntimeStatus][]): string | null {
    const n: WorkNotice = { s: this.senderId };
    for (const [k, at] of work) {
      const key = k === "orchestration" ? "o" : "a";
      n[key] = Math.min(at, n[key] ?? Infinity);
    }
    const finished = changes.filter(([, status]) => isTerminalStatus(status));
    if (finished.length > 0) n.c = finished;
    if (n.o === undefined && n.a === undefined && n.c === undefined) return null;
    let text = JSON.stringify(n);
    if (Buffer.byteLength(text) > MAX_NOTICE_BYTES) {
      delete n.c;
      text = JSON.stringify(n);
    }
    return text;
  }

  private receive(payload: string): void {
    let n: WorkNotice;
    try {
      n = JSON.parse(payload) as WorkNotice;
    } catch {
      return;
    }
    if (n.s === this.senderId) return;
    const work: [WorkKind, number][] = [];
    if (typeof n.o === "number") work.push(["orchestration", n.o]);
    if (typeof n.a === "number") work.push(["activity", n.a]);
    this.publish(work, Array.isArray(n.c) ? n.c : []);
  }

  // ---- batches: client writes, steps and activity results ----

  /** Runs `ops` as one transaction: lock, plan, write. Client operations that are refused throw. */
  private async execute(ops: BatchOp[], now: number, what: string, replay: Replay): Promise<CommitResult[]> {
    let planner: BatchPlanner | undefined;
    const writers = ops.flatMap((op) => (op.payloads && !op.payloads.empty ? [op.payloads] : []));
    const results = await this.c.tx(what, replay, async (q, retry) => {
      const { instanceIds, taskIds } = lockSet(ops);
      const snapshot = await this.lockRows(q, instanceIds, taskIds);
      const sweepable = ops.map((op) => op.kind === "step" && this.worthSweeping(op.commit, snapshot.rows.get(commitInstanceId(op.commit))));
      const p = new BatchPlanner(snapshot, now, randomUUID, retry.afterLostCommit);
      planner = p;
      const out = ops.map((op) => p.apply(op));
      const sweep = ops.flatMap((op, i) => (sweepable[i] && out[i]!.ok && op.kind === "step" ? [commitInstanceId(op.commit)] : []));
      await this.write(q, p, now, writers, sweep);
      return out;
    });
    for (const w of writers) for (const id of w.owners) this.payloadOwners.add(id);
    if (planner?.writesRows) this.stats.writeTransactions++;
    if (planner) this.publish(planner.announcements, planner.changes);
    return results.map((r) => (r.ok && r.leasedActivities ? withLeased(r, r.leasedActivities) : r));
  }

  /** Steps or activity results: one refused or failing item must not take the others along. */
  private async executeEach(ops: BatchOp[], now: number, what: string): Promise<CommitResult[]> {
    if (ops.length === 0) return [];
    try {
      return await this.execute(ops, now, what, "fenced");
    } catch (first) {
      // Nobody can write now: each on its own would only wait the retry window again.
      if (ops.length === 1 || first instanceof StoreUnavailableError) return ops.map(() => ({ ok: false, error: asError(first) }));
      const out: CommitResult[] = [];
      for (const op of ops) {
        try {
          out.push(...(await this.execute([op], now, what, "fenced")));
        } catch (err) {
          out.push({ ok: false, error: asError(err) });
        }
      }
      return out;
    }
  }

  private async lockRows(q: Querier, instanceIds: string[], taskIds: number[]): Promise<Snapshot> {
    const r = await q.query<{ k: string; id: string | null; kind: string; runtime_status: string; lock_token: string | null; locked_until: number; history_length: number; execution_id: string; db_now: number | null }>({
      ...this.sqlText.lockRows,
      values: [instanceIds, taskIds],
    });
    const rows = new Map<string, RowState>();
    const tasks = new Map<number, string | null>();
    let dbNow = Infinity;
    for (const row of r.rows) {
      if (row.k === "i" && row.id !== null) {
        rows.set(row.id, {
          kind: row.kind as InstanceKind,
          runtimeStatus: row.runtime_status as OrchestrationRuntimeStatus,
          lockToken: row.lock_token,
          lockedUntil: row.locked_until,
          historyLength: row.history_length,
          executionId: row.execution_id,
        });
      } else if (row.k === "t" && row.id !== null) tasks.set(Number(row.id), row.lock_token);
      else if (row.k === "n" && row.db_now !== null) dbNow = row.db_now;
    }
    const all = new Map<string, RowState | undefined>();
    for (const id of instanceIds) all.set(id, rows.get(id));
    return { rows: all, tasks, dbNow };
  }

  /**
   * Whether a step's commit should sweep its instance's payloads: it ends the execution, starts a
   * new one or is an entity's, and the instance has payloads this handle knows of.
   */
  private worthSweeping(c: OrchestrationCommit, before: RowState | undefined): boolean {
    if (!this.payloadOwners.has(commitInstanceId(c))) return false;
    const ended = isTerminalStatus(c.instance.runtimeStatus) && !(before && isTerminalStatus(before.runtimeStatus));
    return c.replaceHistory || ended || before?.kind === "entity";
  }

  /**
   * What a written plan learns from its statement's report: each task it leased gets its ID, and an
   * instance whose release left a message ready (it arrived while a step held the lease) is announced.
   */
  private settle(p: BatchPlanner, report: WriteReport, now: number): void {
    for (const [id, readyAt] of report.released) if (p.released.has(id) && readyAt <= now) p.announcements.push(["orchestration", now]);
    for (const t of p.tasks) if (t.leased && t.lockToken !== null) t.leased.id = report.taskIds.get(t.lockToken) ?? -1;
  }

  /**
   * The plan's writes: what goes first (dropped histories), the payload rows, one statement for the
   * rest, the sweep of payloads no longer used, then idle entities.
   */
  private async write(q: Querier, p: BatchPlanner, now: number, payloads: readonly PayloadWriter[] = [], sweep: readonly string[] = []): Promise<void> {
    if (p.dropHistory.size > 0 || p.dropData.size > 0) await q.query({ ...this.sqlText.dropData, values: [[...p.dropHistory], [...p.dropData]] });
    const rows = payloads.flatMap((w) => w.rows());
    if (rows.length > 0) {
      await q.query({ ...this.sqlText.insertPayloads, values: [rows.map((r) => r.instanceId), rows.map((r) => r.key), rows.map((r) => r.bytes), rows.map((r) => r.data)] });
    }
    if (p.tasks.length > BULK_TASKS) {
      // A big fan-out: its unleased tasks go first, in chunks (the statement's parameters would
      // otherwise hold all of them at once, in memory here and on the server).
      const bulk = p.tasks.filter((t) => t.lockToken === null);
      p.tasks = p.tasks.filter((t) => t.lockToken !== null);
      for (let i = 0; i < bulk.length; i += BULK_TASKS) await q.query(bulkTaskInsert(`"${this.schema}"`, bulk.slice(i, i + BULK_TASKS)));
    }
    const statement = writeStatement(`"${this.schema}"`, p, { channel: this.channel, payload: this.notice(p.announcements, p.changes) });
    if (statement) {
      const report = readReport((await q.query<ReportRow>(statement)).rows);
      // Another transaction created one of these rows after ours read it as absent: plan again.
      for (const [id] of p.creates) if (!report.created.has(id)) throw new RetryTransaction(`instance '${id}' was created concurrently`);
      this.settle(p, report, now);
    }
    if (sweep.length > 0) await q.query({ ...this.sqlText.sweepPayloads, values: [[...new Set(sweep)].sort(byteOrder)] });
    // Payload rows of a message that was dropped, or of a client's send that was refused: their instance does not exist.
    if (rows.length > 0) await q.query({ ...this.sqlText.dropOrphanPayloads, values: [[...new Set(rows.map((r) => r.instanceId))]] });
    if (p.idle.size > 0) await q.query({ ...this.sqlText.deleteIdle, values: [[...p.idle]] });
  }

  // ---- client side ----

  /**
   * Starts made in the same turn of the event loop go to the store together: new IDs (the common
   * case) are inserted with their start messages in one statement; an ID that exists is then decided
   * on its locked row, on its own.
   *
   * A start's `lease` is taken by the one-statement insert (a new ID); a start that replaces a
   * finished instance, or waits behind another start of its ID, declines it (the contract allows
   * that) and is announced as without one.
   */
  async createInstance(request: CreateInstanceRequest): Promise<OrchestrationWorkItem | undefined> {
    const payloads = this.payloadWriter();
    const req = payloads.create(request);
    if (!payloads.empty) await payloads.compress();
    return new Promise<OrchestrationWorkItem | undefined>((resolve, reject) => {
      this.starts.push({ req, original: request, payloads, resolve, reject });
      if (this.starts.length === 1) setImmediate(() => void this.flushStarts());
    });
  }

  private payloadWriter(): PayloadWriter {
    return new PayloadWriter(this.options.offloadBytes ?? DEFAULT_OFFLOAD_BYTES, this.compressed);
  }

  private starts: { req: CreateInstanceRequest; original: CreateInstanceRequest; payloads: PayloadWriter; resolve: (item: OrchestrationWorkItem | undefined) => void; reject: (err: unknown) => void }[] = [];

  private async flushStarts(): Promise<void> {
    const batch = this.starts.splice(0, 500);
    if (this.starts.length > 0) setImmediate(() => void this.flushStarts());
    const first = new Map<string, (typeof batch)[number]>();
    // Starts with payload rows take the transaction below (the one-statement insert has no room for
    // them), and so do the other starts of their ID, which keep their order.
    const withPayloads = new Set(batch.flatMap((s) => (s.payloads.empty ? [] : [s.req.startedEvent.instanceId])));
    for (const s of batch) if (!first.has(s.req.startedEvent.instanceId) && !withPayloads.has(s.req.startedEvent.instanceId)) first.set(s.req.startedEvent.instanceId, s);
    let inserted = new Map<string, OrchestrationWorkItem | undefined>();
    try {
      if (first.size > 0) inserted = await this.insertStarts([...first.values()]);
    } catch (err) {
      for (const s of batch) s.reject(err);
      return;
    }
    // The rest, one at a time per ID in call order (the IDs side by side).
    const rest = new Map<string, typeof batch>();
    for (const s of batch) {
      const id = s.req.startedEvent.instanceId;
      if (first.get(id) === s && inserted.has(id)) s.resolve(inserted.get(id));
      else rest.set(id, [...(rest.get(id) ?? []), s]);
    }
    await Promise.all(
      [...rest.values()].map(async (starts) => {
        for (const s of starts) {
          try {
            const { lease: _declined, ...request } = s.req;
            await this.execute([{ kind: "create", request, payloads: s.payloads }], s.req.now, `the start of '${s.req.startedEvent.instanceId}'`, "fenced");
            s.resolve(undefined);
          } catch (err) {
            s.reject(err);
          }
        }
      }),
    );
  }

  /**
   * Inserts new instances with their starts in one statement; returns the IDs that were free, each
   * with its work item when the start was leased.
   */
  private async insertStarts(starts: { req: CreateInstanceRequest; original: CreateInstanceRequest }[]): Promise<Map<string, OrchestrationWorkItem | undefined>> {
    const reqs = starts.map((s) => s.req);
    const rows = new Map<string, RowState | undefined>(reqs.map((r) => [r.startedEvent.instanceId, undefined]));
    const p = new BatchPlanner({ rows, tasks: new Map(), dbNow: Infinity }, reqs[0]!.now, randomUUID);
    for (const request of reqs) p.apply({ kind: "create", request });
    const statement = writeStatement(`"${this.schema}"`, p, { channel: this.channel, payload: this.notice(p.announcements, []) }, undefined, "ic");
    if (!statement) return new Map();
    const what = reqs.length === 1 ? `the start of '${reqs[0]!.startedEvent.instanceId}'` : `${reqs.length} starts`;
    // Each start carries a new execution ID: after a lost COMMIT, a row that already holds ours is
    // our own insert, so the statement can be sent again.
    const { done, messageIds } = await this.c.run(what, "fenced", async (q, retry) => {
      const { created: done, startMessageIds: messageIds } = readReport((await q.query<ReportRow>(statement)).rows);
      if (!retry.afterLostCommit) return { done, messageIds };
      const mine = await q.query<{ instance_id: string; message_id: string | null }>(
        `SELECT i.instance_id, (SELECT min(m.id) FROM "${this.schema}".messages m WHERE m.instance_id = i.instance_id AND m.execution_id = s.ex AND m.event_type = 'ExecutionStarted')::text AS message_id
         FROM "${this.schema}".instances i JOIN unnest($1::text[], $2::text[]) AS s(id, ex) ON i.instance_id = s.id AND i.execution_id = s.ex`,
        [reqs.map((r) => r.startedEvent.instanceId), reqs.map((r) => r.startedEvent.executionId)],
      );
      for (const row of mine.rows) {
        done.add(row.instance_id);
        if (row.message_id !== null) messageIds.set(row.instance_id, Number(row.message_id));
      }
      return { done, messageIds };
    });
    const inserted = new Map<string, OrchestrationWorkItem | undefined>();
    for (const { req, original } of starts) {
      const id = req.startedEvent.instanceId;
      if (!done.has(id)) continue;
      const created = p.creates.get(id);
      const messageId = messageIds.get(id);
      const lease = created?.lease;
      // The caller's event, with its input in full (the row may hold a reference to a payload row).
      inserted.set(id, lease && messageId !== undefined ? startedWorkItem(original.startedEvent, messageId, lease, req.now, req.metadata) : undefined);
    }
    if (inserted.size > 0) {
      this.stats.writeTransactions++;
      const visible = reqs.filter((q) => inserted.has(q.startedEvent.instanceId) && !inserted.get(q.startedEvent.instanceId)).map((q): [WorkKind, number] => ["orchestration", q.visibleAt ?? q.now]);
      this.publish(visible, p.changes.filter(([id]) => inserted.has(id)));
    }
    return inserted;
  }

  /**
   * A client's messages go in the order of the calls: those made while a batch is being written are
   * written together, in order, once it is committed (a batch at a time, so a later call never
   * overtakes an earlier one; a refused call is refused alone).
   */
  async sendMessages(outgoing: readonly OutgoingMessage[], now: number): Promise<void> {
    if (outgoing.length === 0) return;
    const payloads = this.payloadWriter();
    const messages = outgoing.map((m) => payloads.outgoing(m));
    if (!payloads.empty) await payloads.compress();
    return new Promise<void>((resolve, reject) => {
      this.sends.push({ messages, now, payloads, resolve, reject });
      if (!this.sending) {
        this.sending = true;
        setImmediate(() => void this.flushSends());
      }
    });
  }

  private sends: { messages: readonly OutgoingMessage[]; now: number; payloads: PayloadWriter; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private sending = false;

  private async flushSends(): Promise<void> {
    while (this.sends.length > 0) {
      const batch = this.sends.splice(0, 500);
      try {
        const results = await this.execute(
          batch.map((s) => ({ kind: "send", messages: s.messages, now: s.now, payloads: s.payloads })),
          batch[0]!.now,
          batch.length === 1 ? "sending messages" : `${batch.length} clients' messages`,
          "once",
        );
        batch.forEach((s, i) => {
          const r = results[i]!;
          if (r.ok) s.resolve();
          else s.reject(r.error);
        });
      } catch (err) {
        for (const s of batch) s.reject(err);
      }
    }
    this.sending = false;
  }

  // ---- orchestration and entity work ----

  async lockOrchestrationWorkItems(req: InstanceLockRequest): Promise<OrchestrationWorkItem[]> {
    if (req.max <= 0) return [];
    const f = req.functions;
    const claimed = await this.c.run("locking orchestration work", "fenced", async (q) => {
      const r = await q.query<ClaimRow>({
        ...this.sqlText.claim,
        values: [req.now, !f, f?.orchestrations ?? [], f?.entities ?? [], req.workerId, req.affinity?.graceMs ?? 0, req.affinity?.hostTimeoutMs ?? 0, req.max, req.now + req.leaseMs],
      });
      if (r.rows.length === 0) return { rows: r.rows, histories: new Map<string, string[]>() };
      const needed = r.rows.filter((row) => req.cachedHistoryLength?.(row.instance_id, row.execution_id) !== row.history_length).map((row) => row.instance_id);
      const histories = new Map<string, string[]>();
      if (needed.length > 0) {
        const h = await q.query<{ instance_id: string; events: string }>({ name: `history-of:${this.schema}`, text: this.sqlText.historyOf, values: [needed] });
        for (const id of needed) histories.set(id, []);
        for (const row of h.rows) histories.get(row.instance_id)?.push(row.events);
      }
      return { rows: r.rows, histories };
    });
    if (claimed.rows.length === 0) return [];
    this.stats.writeTransactions++;
    const payloads = new PayloadReader();
    const items = claimed.rows.map((row) => this.workItem(row, claimed.histories.get(row.instance_id), req.workerId, payloads));
    if (payloads.empty) return items;
    await payloads.resolveItems(await this.fetchPayloads(payloads), items);
    return items;
  }

  /** The payload rows a read refers to. */
  private async fetchPayloads(r: PayloadReader): Promise<{ instance_id: string; key: string; data: Buffer }[]> {
    if (r.empty) return [];
    const wanted = r.wanted();
    for (const w of wanted) this.payloadOwners.add(w.instanceId);
    const res = await this.c.run("reading payloads", "fenced", (q) =>
      q.query<{ instance_id: string; key: string; data: Buffer }>({ ...this.sqlText.payloads, values: [wanted.map((w) => w.instanceId), wanted.map((w) => w.key)] }),
    );
    return res.rows;
  }

  /**
   * The work item of a freshly leased instance. Stored JSON that cannot be parsed does not make the
   * lock fail (that would stop every instance behind it, on every host): the item says what could
   * not be read, with what could.
   */
  private workItem(row: ClaimRow, history: string[] | undefined, workerId: string, payloads: PayloadReader): OrchestrationWorkItem {
    const problems: string[] = [];
    const readable = <T>(what: string, read: () => T): T | undefined => {
      try {
        return read();
      } catch (err) {
        problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    };
    const ids = row.ids ?? [];
    const messages = ids.flatMap((id, i) => {
      const message = readable(`message ${id}`, () => {
        const m: OrchestrationMessage = { event: JSON.parse(row.events![i]!) as HistoryEvent };
        const exec = row.execs?.[i];
        if (exec !== null && exec !== undefined) m.executionId = exec;
        const meta = row.metas?.[i];
        if (meta !== null && meta !== undefined) m.metadata = JSON.parse(meta) as Record<string, string>;
        payloads.message(row.instance_id, m);
        return m;
      });
      return message ? [{ id, message, dequeueCount: row.counts?.[i] ?? 1 }] : [];
    });
    const instance = readable("the instance row", () => instanceFromRow(row)) ?? instanceFromRow({ ...row, failure_details: null, parked: null });
    payloads.instance(instance);
    const item: OrchestrationWorkItem = {
      instanceId: row.instance_id,
      lockToken: row.lock_token!,
      lockedUntil: row.locked_until,
      workerId,
      dequeueCount: (row.counts ?? []).reduce((n, c) => Math.max(n, c), 0),
      takeover: row.takeover,
      instance,
      messages,
    };
    if (history) {
      const events = readable("the history", () => history.flatMap(parseSteps));
      if (events) {
        for (const e of events) payloads.event(row.instance_id, e);
        item.history = events;
      }
    }
    if (problems.length > 0) item.unreadable = `The stored state of '${row.instance_id}' could not be read (${problems.join("; ")}).`;
    return item;
  }

  async completeOrchestrationWorkItems(given: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]> {
    // Large payloads are compressed before anything is sent, off the main thread.
    const writers = given.map(() => this.payloadWriter());
    const commits = given.map((c, i) => writers[i]!.commit(c, commitInstanceId(c)));
    if (writers.some((w) => !w.empty)) await Promise.all(writers.map((w) => w.compress()));
    const results: (CommitResult | undefined)[] = commits.map(() => undefined);
    // The hot path: steps that write only their own instance take one statement. Those with payload
    // rows to insert, or that may sweep them, take a transaction.
    const seen = new Set<string>();
    const express: number[] = [];
    commits.forEach((c, i) => {
      const id = commitInstanceId(c);
      if (isExpress(c) && writers[i]!.empty && !this.mayNeedSweep(c) && !seen.has(id)) express.push(i);
      seen.add(id);
    });
    if (express.length > 0) {
      const done = await this.expressSteps(express.map((i) => commits[i]!), now).catch((err: unknown) =>
        // Nobody can write now: the normal path would only wait the retry window again.
        err instanceof StoreUnavailableError ? express.map((): CommitResult => ({ ok: false, error: err })) : undefined,
      );
      if (done) express.forEach((i, j) => (results[i] = done[j]));
    }
    const rest = commits.flatMap((c, i) => (results[i] ? [] : [{ i, c }]));
    if (rest.length > 0) {
      const done = await this.executeEach(
        rest.map(({ c, i }) => ({ kind: "step", commit: c, payloads: writers[i]! })),
        now,
        rest.length === 1 ? "a step" : `${rest.length} steps`,
      );
      rest.forEach(({ i }, j) => (results[i] = done[j]));
    }
    results.forEach((r, i) => r?.ok && writers[i]!.restoreInputs(r.leasedActivities));
    return results as CommitResult[];
  }

  /** A step that may sweep payloads (see worthSweeping), judged without its row's state. */
  private mayNeedSweep(c: OrchestrationCommit): boolean {
    return this.payloadOwners.has(commitInstanceId(c)) && (c.replaceHistory || isTerminalStatus(c.instance.runtimeStatus) || c.instance.entityState !== undefined);
  }

  /**
   * Steps that write nothing but their own instance, in one statement that checks their fences
   * itself (write-statement.ts, the gate): no transaction around it, no read before it. Optimistic
   * steps presume the state their fence names; leased ones the state of their work item, which no
   * one else may change while the lease is held. Undefined when a fence or a presumption did not
   * hold: nothing was written, and the normal path sorts them out.
   */
  private async expressSteps(commits: OrchestrationCommit[], now: number): Promise<CommitResult[] | undefined> {
    const rows = new Map<string, RowState | undefined>();
    const tasks = new Map<number, string | null>();
    const instances: Gate["instances"][number][] = [];
    const taskGates: Gate["tasks"][number][] = [];
    const known = new Map<string, OrchestrationRuntimeStatus>();
    for (const c of commits) {
      const f = c.fence;
      if (f.kind === "optimistic") {
        // The status is read back by the gate.
        rows.set(f.instanceId, { kind: "orchestration", runtimeStatus: "Running", lockToken: null, lockedUntil: 0, historyLength: f.historyLength, executionId: f.executionId });
        instances.push({ instanceId: f.instanceId, executionId: f.executionId, historyLength: f.historyLength });
      } else {
        const rec = f.item.instance;
        rows.set(f.item.instanceId, { kind: rec.kind, runtimeStatus: rec.runtimeStatus, lockToken: f.item.lockToken, lockedUntil: f.item.lockedUntil, historyLength: rec.historyLength, executionId: rec.executionId });
        instances.push({ instanceId: f.item.instanceId, executionId: rec.executionId, historyLength: rec.historyLength, lockToken: f.item.lockToken, runtimeStatus: rec.runtimeStatus });
        known.set(f.item.instanceId, rec.runtimeStatus);
      }
      for (const r of c.activityResults ?? []) {
        tasks.set(r.item.id, r.item.lockToken);
        taskGates.push({ id: r.item.id, lockToken: r.item.lockToken });
      }
    }
    instances.sort((a, b) => byteOrder(a.instanceId, b.instanceId));
    const gate: Gate = { instances, tasks: taskGates, now };
    const p = new BatchPlanner({ rows, tasks, dbNow: Infinity }, now, randomUUID);
    const out = commits.map((commit) => p.apply({ kind: "step", commit }));
    if (out.some((r) => !r.ok)) return undefined;
    // Status changes of leased steps are known and go in the notice; optimistic ones are read back.
    const noticed = p.changes.filter(([id]) => known.has(id));
    const statement = writeStatement(`"${this.schema}"`, p, { channel: this.channel, payload: this.notice(p.announcements, noticed) }, gate);
    if (!statement) return undefined;
    const r = await this.c.run(commits.length === 1 ? "a step" : `${commits.length} steps`, "fenced", (q) => q.query<ReportRow>(statement));
    const report = readReport(r.rows);
    if (!report.ok) return undefined;
    this.stats.writeTransactions++;
    const before = new Map<string, string>([...known, ...report.statusBefore]);
    this.settle(p, report, now);
    const changes: [string, OrchestrationRuntimeStatus][] = [];
    for (const c of commits) {
      const id = commitInstanceId(c);
      if (before.get(id) !== c.instance.runtimeStatus) changes.push([id, c.instance.runtimeStatus]);
    }
    // The optimistic ones that finished were not in the notice (their old status was not known yet): tell this process.
    this.publish(p.announcements, changes);
    return out.map((res) => (res.ok && res.leasedActivities ? withLeased(res, res.leasedActivities) : res));
  }

  async abandonOrchestrationWorkItem(item: OrchestrationWorkItem, options: AbandonOptions, now: number): Promise<void> {
    const retryAt = now + Math.max(0, options.retryAfterMs);
    const park = options.park ? JSON.stringify(options.park) : null;
    const r = await this.c.run("releasing a lease", "fenced", (q) =>
      q.query<{ locked_until: number }>(
        `WITH u AS (${this.sqlText.abandon}), n AS (SELECT pg_notify($6, json_build_object('s', $7::text, 'o', u.locked_until)::text) FROM u)
         SELECT u.locked_until, (SELECT count(*) FROM n) AS notified FROM u`,
        [item.instanceId, item.lockToken, now, retryAt, park, this.channel, this.senderId],
      ),
    );
    const released = r.rows[0];
    if (released) {
      this.stats.writeTransactions++;
      this.publish([["orchestration", released.locked_until]], []);
    }
  }

  async renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return this.renew("renewing leases", this.sqlText.renew, items, (i) => i.instanceId, now + leaseMs);
  }

  /** Extends the leases of `items` still held (their tokens) to `until`, in one statement; which were. */
  private async renew<T extends { lockToken: string; lockedUntil: number }, K extends string | number>(what: string, sql: string, items: readonly T[], key: (item: T) => K, until: number): Promise<boolean[]> {
    if (items.length === 0) return [];
    const r = await this.c.run(what, "fenced", (q) => q.query<{ k: K }>(sql, [items.map(key), items.map((i) => i.lockToken), until]));
    this.stats.writeTransactions++;
    const renewed = new Set(r.rows.map((row) => row.k));
    return items.map((item) => {
      const ok = renewed.has(key(item));
      if (ok) item.lockedUntil = until;
      return ok;
    });
  }

  async getHistory(instanceId: string, page: HistoryPage = {}): Promise<HistoryEvent[]> {
    const track = (events: HistoryEvent[], payloads: PayloadReader): void => {
      for (const e of events) payloads.event(instanceId, e);
    };
    if (page.fromSeq === undefined && page.limit === undefined) {
      return this.readResolved(async () => {
        const r = await this.c.run("reading history", "fenced", (q) => q.query<{ seq: number; events: string }>(this.sqlText.history, [instanceId]));
        return r.rows.flatMap((row) => parseSteps(row.events));
      }, track);
    }
    const from = page.fromSeq ?? 0;
    const to = page.limit === undefined ? null : from + page.limit;
    return this.readResolved(async () => {
      const r = await this.c.run("reading history", "fenced", (q) => q.query<{ seq: number; events: string }>(this.sqlText.historyPage, [instanceId, from, to]));
      // Steps hold several events: cut the first and the last to the page.
      const events = r.rows.flatMap((row) => parseSteps(row.events).map((e, i) => [row.seq + i, e] as const));
      return events.filter(([seq]) => seq >= from && (to === null || seq < to)).map(([, e]) => e);
    }, track);
  }

  /**
   * Rows, read by `read`, with the payloads they name (noted by `track`). The two are separate
   * statements: a sweep committed between them may have deleted a payload the rows named then (and
   * no longer name), so the rows are read again, up to three times, before one is called missing.
   */
  private async readResolved<T>(read: () => Promise<T>, track: (value: T, payloads: PayloadReader) => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const value = await read();
      const payloads = new PayloadReader();
      track(value, payloads);
      if (payloads.empty) return value;
      let missing: Error | undefined;
      await payloads.resolve(await this.fetchPayloads(payloads), (instanceId, key) => {
        missing ??= missingPayload(instanceId, key);
      });
      if (!missing) return value;
      if (attempt >= 3) throw missing;
    }
  }

  // ---- activity work ----

  async lockActivityWorkItems(req: ActivityLockRequest): Promise<ActivityWorkItem[]> {
    if (req.max <= 0) return [];
    const r = await this.c.run("locking activity work", "fenced", (q) =>
      q.query<TaskRow>({ ...this.sqlText.claimTasks, values: [req.now, !req.functions, req.functions ?? [], req.workerId, req.max, req.now + req.leaseMs, req.affinity?.graceMs ?? 0] }),
    );
    if (r.rows.length === 0) return [];
    this.stats.writeTransactions++;
    const items = r.rows.sort((a, b) => a.id - b.id).map(toTaskItem);
    const payloads = new PayloadReader();
    for (const item of items) payloads.task(item);
    if (!payloads.empty) await payloads.resolveTasks(await this.fetchPayloads(payloads), items);
    return items;
  }

  async completeActivityWorkItems(given: readonly ActivityResult[], now: number): Promise<CommitResult[]> {
    const ops = given.map((r): BatchOp => {
      const payloads = this.payloadWriter();
      return { kind: "activity", result: { item: r.item, event: payloads.event(r.item.instanceId, r.event) }, payloads };
    });
    if (ops.some((op) => !op.payloads!.empty)) await Promise.all(ops.map((op) => op.payloads!.compress()));
    return this.executeEach(
      ops,
      now,
      given.length === 1 ? "an activity result" : `${given.length} activity results`,
    );
  }

  async abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void> {
    const at = now + retryAfterMs;
    const r = await this.c.run("releasing an activity", "fenced", (q) =>
      q.query(
        `WITH u AS (${this.sqlText.abandonTask} RETURNING visible_at), n AS (SELECT pg_notify($4, json_build_object('s', $5::text, 'a', u.visible_at)::text) FROM u)
         SELECT u.visible_at, (SELECT count(*) FROM n) AS notified FROM u`,
        [item.id, item.lockToken, at, this.channel, this.senderId],
      ),
    );
    if (r.rows.length > 0) {
      this.stats.writeTransactions++;
      this.publish([["activity", at]], []);
    }
  }

  async renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return this.renew("renewing activity leases", this.sqlText.renewTasks, items, (i) => i.id, now + leaseMs);
  }

  // ---- queries and maintenance ----

  async getInstance(instanceId: string, options: InstanceReadOptions = {}): Promise<InstanceRecord | undefined> {
    const [record] = await this.readInstances(async () => {
      const r = await this.c.run("reading an instance", "fenced", (q) => q.query<InstanceRow>(this.sqlText.getInstance, [instanceId]));
      return r.rows;
    }, options);
    return record;
  }

  /** Instance rows with their payloads (the input only when wanted). */
  private async readInstances(read: () => Promise<InstanceRow[]>, options: InstanceReadOptions): Promise<InstanceRecord[]> {
    return this.readResolved(
      async () => (await read()).map(instanceFromRow),
      (records, payloads) => {
        for (const r of records) payloads.instance(r, options);
      },
    );
  }

  async queryInstances(query: InstanceQuery): Promise<InstancePage> {
    const size = pageSizeOf(query.pageSize);
    const cursor = decodeCursor(query.continuationToken);
    const f = filterSql(query);
    if (!f) return { instances: [] };
    const { where, params, add } = f;
    if (cursor) add((a, b) => `(i.created_at, i.instance_id) > (${a}::bigint, ${b}::text)`, cursor.createdAt, cursor.instanceId);
    params.push(size + 1);
    const sql = `${this.sqlText.getInstance.replace(/ WHERE i\.instance_id = \$1$/, "")} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY i.created_at, i.instance_id LIMIT $${params.length}`;
    let more = false;
    const page = await this.readInstances(async () => {
      const r = await this.c.run("querying instances", "fenced", (q) => q.query<InstanceRow>(sql, params));
      more = r.rows.length > size;
      return r.rows.slice(0, size);
    }, query);
    const last = page[page.length - 1];
    return more && last ? { instances: page, continuationToken: encodeCursor(last) } : { instances: page };
  }

  async countInstances(filter: InstanceFilter): Promise<StatusCounts> {
    const f = filterSql(filter);
    if (!f) return {};
    const sql = `SELECT i.runtime_status AS s, count(*)::int AS n FROM "${this.schema}".instances i ${f.where.length ? `WHERE ${f.where.join(" AND ")}` : ""} GROUP BY i.runtime_status`;
    const r = await this.c.run("counting instances", "fenced", (q) => q.query<{ s: OrchestrationRuntimeStatus; n: number }>(sql, f.params));
    const counts: StatusCounts = {};
    for (const row of r.rows) counts[row.s] = row.n;
    return counts;
  }

  async purgeInstance(instanceId: string): Promise<number> {
    const n = await this.c.tx(`purging '${instanceId}'`, "fenced", async (q) => {
      const locked = await q.query(this.sqlText.lockForPurge, [[instanceId]]);
      if (locked.rows.length === 0) return 0;
      await q.query(this.sqlText.purgeRows, [[instanceId]]);
      return 1;
    });
    if (n > 0) this.stats.writeTransactions++;
    return n;
  }

  async purgeInstances(f: PurgeFilter): Promise<number> {
    const statuses = (f.runtimeStatus ?? TERMINAL_STATUSES).filter((s) => isTerminalStatus(s));
    if (statuses.length === 0) return 0;
    let total = 0;
    // Bounded batches keep each transaction short, so workers are not held up during a big purge.
    for (;;) {
      const batch = purgeBatchSize(f, total);
      if (batch <= 0) return total;
      const n = await this.c.tx("purging instances", "fenced", async (q) => {
        const r = await q.query<{ instance_id: string }>(this.sqlText.purgeCandidates, [statuses, f.createdFrom ?? null, f.createdTo ?? null, f.lastUpdatedTo ?? null, batch]);
        const ids = r.rows.map((row) => row.instance_id);
        if (ids.length > 0) await q.query(this.sqlText.purgeRows, [ids]);
        return ids.length;
      });
      if (n > 0) this.stats.writeTransactions++;
      total += n;
      if (n < batch) return total;
    }
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    const r = await this.c.run("looking for the next due work", "fenced", (q) => q.query<{ t: number | null }>({ name: `next-visible:${this.schema}`, text: this.sqlText.nextVisible, values: [now] }));
    return r.rows[0]?.t ?? undefined;
  }

  async workCounts(now: number): Promise<WorkCounts> {
    const r = await this.c.run("counting the backlog", "fenced", (q) => q.query<{ k: string; n: number }>(this.sqlText.workCounts, [now]));
    const counts: WorkCounts = { orchestrations: 0, entities: 0, activities: 0, parked: 0 };
    for (const row of r.rows) {
      if (row.k === "orchestration") counts.orchestrations = row.n;
      else if (row.k === "entity") counts.entities = row.n;
      else if (row.k === "activity") counts.activities = row.n;
      else if (row.k === "parked") counts.parked = row.n;
    }
    return counts;
  }

  async findStrandedWork(req: StrandedWorkRequest): Promise<StrandedWork> {
    return this.c.run("looking for stranded work", "fenced", async (q) => {
      const i = await q.query<{ instance_id: string; kind: string; name: string }>(this.sqlText.strandedInstances, [
        req.visibleBefore,
        req.now,
        req.functions.orchestrations,
        req.functions.entities,
        req.limit,
      ]);
      const t = await q.query<{ instance_id: string; name: string }>(this.sqlText.strandedTasks, [req.visibleBefore, req.now, req.functions.activities, req.limit]);
      return {
        instances: i.rows.map((r) => ({ instanceId: r.instance_id, kind: r.kind as InstanceKind, name: r.name })),
        activities: t.rows.map((r) => ({ instanceId: r.instance_id, name: r.name })),
      };
    });
  }

  async markParked(instanceId: string, park: ParkInfo, now: number): Promise<boolean> {
    const r = await this.c.run("marking an instance parked", "fenced", (q) => q.query(this.sqlText.markParked, [JSON.stringify(park), instanceId, now]));
    this.stats.writeTransactions++;
    return r.rowCount === 1;
  }

  // ---- hosts ----

  async heartbeat(host: HostRecord, now: number): Promise<void> {
    this.stats.writeTransactions++;
    // The health probe: it says at once when the server cannot be reached, rather than after the retries.
    await this.c.run("recording a heartbeat", "fenced", (q) => q.query(this.sqlText.heartbeat, [host.workerId, host.hostname, host.pid, host.startedAt, now, host.info ?? null]), 0);
  }

  async removeHost(workerId: string): Promise<void> {
    await this.c.run("removing a host", "fenced", (q) => q.query(this.sqlText.removeHost, [workerId]));
  }

  async storeTime(): Promise<number> {
    const r = await this.c.run("reading the database clock", "fenced", (q) => q.query<{ now: number }>(this.sqlText.dbNow));
    return r.rows[0]!.now;
  }

  // ---- timer triggers ----

  private get timerTable(): string {
    return `"${this.schema}".timer_occurrences`;
  }

  async initTimerOccurrence(name: string, baseline: number, workerId: string, now: number): Promise<number> {
    const key = functionKey(name);
    const read = `SELECT last_occurrence AS last FROM ${this.timerTable} WHERE name_key = $1`;
    return this.c.run(`reading timer '${name}'`, "fenced", async (q) => {
      const found = await q.query<{ last: number }>(read, [key]);
      if (found.rows[0]) return found.rows[0].last;
      this.stats.writeTransactions++;
      // Insert if absent; a host that created it meanwhile wins, and the read after sees its row.
      // A baseline counts as done: there is no run of it to finish.
      await q.query(
        `INSERT INTO ${this.timerTable} (name_key, last_occurrence, done_occurrence, worker_id, claimed_at, lease_until) VALUES ($1, $2, $2, $3, $4, $4) ON CONFLICT (name_key) DO NOTHING`,
        [key, baseline, workerId, now],
      );
      const stored = await q.query<{ last: number }>(read, [key]);
      return stored.rows[0]!.last;
    });
  }

  async readTimerOccurrence(name: string): Promise<TimerOccurrenceRecord | undefined> {
    const r = await this.c.run(`reading timer '${name}'`, "fenced", (q) => q.query<TimerRow>(`SELECT ${TIMER_COLUMNS} FROM ${this.timerTable} WHERE name_key = $1`, [functionKey(name)]));
    return r.rows[0] && timerRecord(r.rows[0]);
  }

  async claimTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<{ claimed: boolean; last?: number }> {
    const key = functionKey(name);
    const table = this.timerTable;
    // Look before locking: the hosts that lost the occurrence do not queue for the row.
    const seen = await this.c.run(`reading timer '${name}'`, "fenced", (q) => q.query<{ last: number }>(`SELECT last_occurrence AS last FROM ${table} WHERE name_key = $1`, [key]));
    const last = seen.rows[0]?.last;
    if (last !== undefined && last >= occurrence) return { claimed: false, last };
    this.stats.writeTransactions++;
    return this.c.tx(`claiming an occurrence of timer '${name}'`, "fenced", async (q, retry) => {
      const r = await q.query<{ last: number; worker_id: string }>(`SELECT last_occurrence AS last, worker_id FROM ${table} WHERE name_key = $1 FOR UPDATE`, [key]);
      const row = r.rows[0];
      if (!row) {
        const inserted = await q.query(
          `INSERT INTO ${table} (name_key, last_occurrence, done_occurrence, worker_id, claimed_at, lease_until) VALUES ($1, $2, NULL, $3, $4, $5) ON CONFLICT (name_key) DO NOTHING`,
          [key, occurrence, workerId, now, now + leaseMs],
        );
        // Another host created the row meanwhile: decide again on its row.
        if (inserted.rowCount !== 1) throw new RetryTransaction();
        return { claimed: true };
      }
      if (row.last >= occurrence) {
        // An earlier attempt of this very claim committed, but its answer was lost on the wire.
        if (retry.afterLostCommit && row.last === occurrence && row.worker_id === workerId) return { claimed: true };
        return { claimed: false, last: row.last };
      }
      // The run of the occurrence replaced is not taken over any more: this claim supersedes it (done stays).
      await q.query(`UPDATE ${table} SET last_occurrence = $2, worker_id = $3, claimed_at = $4, lease_until = $5 WHERE name_key = $1`, [key, occurrence, workerId, now, now + leaseMs]);
      return { claimed: true, last: row.last };
    });
  }

  async renewTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    // A second attempt after a lost commit matches the same row again: renewing twice is renewing.
    const r = await this.c.run(`renewing the lease of timer '${name}'`, "fenced", (q) =>
      q.query(
        `UPDATE ${this.timerTable} SET lease_until = $4
          WHERE name_key = $1 AND last_occurrence = $2 AND worker_id = $3 AND (done_occurrence IS NULL OR done_occurrence < last_occurrence)`,
        [functionKey(name), occurrence, workerId, now + leaseMs],
      ),
    );
    this.stats.writeTransactions++;
    return r.rowCount === 1;
  }

  async completeTimerOccurrence(name: string, occurrence: number, _workerId: string, _now: number): Promise<void> {
    // Fenced: a second attempt finds done already moved and changes nothing.
    await this.c.run(`recording the end of a run of timer '${name}'`, "fenced", (q) =>
      q.query(`UPDATE ${this.timerTable} SET done_occurrence = $2 WHERE name_key = $1 AND last_occurrence >= $2 AND (done_occurrence IS NULL OR done_occurrence < $2)`, [functionKey(name), occurrence]),
    );
    this.stats.writeTransactions++;
  }

  async takeOverTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    const key = functionKey(name);
    const table = this.timerTable;
    // Look first: a run still leased (or done, or superseded) is not written to. The UPDATE decides:
    // of two racing, the second waits for the first's row lock, then sees its lease and changes nothing.
    // The lease counts as expired by the smaller of the caller's clock and the database's, as every
    // lease here: a host whose clock runs ahead takes over no run early.
    return this.c.run(`taking over an occurrence of timer '${name}'`, "fenced", async (q, retry) => {
      const seen = await q.query<TimerRow>(`SELECT ${TIMER_COLUMNS} FROM ${table} WHERE name_key = $1`, [key]);
      const row = seen.rows[0];
      if (!row) return false;
      const found = timerRecord(row);
      // An earlier attempt of this very takeover committed, but its answer was lost on the wire.
      if (retry.afterLostCommit && found.workerId === workerId && timerRunOpen(found, occurrence) && found.leaseUntil > now) return true;
      if (!timerRunInterrupted(found, occurrence, now)) return false;
      this.stats.writeTransactions++;
      const r = await q.query(
        `UPDATE ${table} SET worker_id = $3, claimed_at = $4, lease_until = $5
          WHERE name_key = $1 AND last_occurrence = $2 AND (done_occurrence IS NULL OR done_occurrence < last_occurrence)
            AND lease_until <= LEAST($4::bigint, (extract(epoch FROM statement_timestamp()) * 1000)::bigint)`,
        [key, occurrence, workerId, now, now + leaseMs],
      );
      return r.rowCount === 1;
    });
  }
}

const TIMER_COLUMNS = "last_occurrence, done_occurrence, worker_id, lease_until";

/** A history row: the JSON array of one step's events. */
function parseSteps(events: string): HistoryEvent[] {
  const parsed: unknown = JSON.parse(events);
  if (!Array.isArray(parsed)) throw new Error("a history row is not a JSON array of events");
  return parsed as HistoryEvent[];
}

/** Activity tasks per insert statement of a big fan-out. */
const BULK_TASKS = 2_000;

/** A step that writes its own instance only (no replace, no deletion, no big fan-out): it can take the one-statement path. */
function isExpress(c: OrchestrationCommit): boolean {
  if (c.replaceHistory || c.deleteIfIdle || c.activityTasks.length > BULK_TASKS) return false;
  const id = commitInstanceId(c);
  return c.messages.every((m) => m.instanceId === id && (m.kind === "self" || m.kind === "event" || m.kind === "toParent"));
}

/** A result's leased activities without those a later replace in the same batch removed. */
function withLeased(r: CommitResult & { ok: true }, leased: ActivityWorkItem[]): CommitResult {
  const kept = leased.filter((i) => i.id > 0);
  return kept.length > 0 ? { ok: true, leasedActivities: kept } : { ok: true };
}

/**
 * The WHERE fragments of a query's filters over `instances i`, with their values (and `add` for
 * more); undefined when nothing can match (an empty status list). Only fixed fragments and
 * placeholders: no input ever becomes SQL text.
 */
function filterSql(query: InstanceFilter): { where: string[]; params: unknown[]; add: (sql: (...p: string[]) => string, ...values: unknown[]) => void } | undefined {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (...p: string[]) => string, ...values: unknown[]): void => {
    const placeholders = values.map((v) => {
      params.push(v);
      return `$${params.length}`;
    });
    where.push(sql(...placeholders));
  };
  if (query.kind !== undefined) add((a) => `i.kind = ${a}`, query.kind);
  if (query.name !== undefined) add((a) => `i.name_key = ${a}`, functionKey(query.name));
  if (query.lastUpdatedFrom !== undefined) add((a) => `i.last_updated_at >= ${a}`, query.lastUpdatedFrom);
  if (query.lastUpdatedTo !== undefined) add((a) => `i.last_updated_at <= ${a}`, query.lastUpdatedTo);
  if (query.runtimeStatus) {
    if (query.runtimeStatus.length === 0) return undefined;
    add((a) => `i.runtime_status = ANY(${a}::text[])`, query.runtimeStatus);
  }
  if (query.createdFrom !== undefined) add((a) => `i.created_at >= ${a}`, query.createdFrom);
  if (query.createdTo !== undefined) add((a) => `i.created_at <= ${a}`, query.createdTo);
  if (query.instanceIdPrefix !== undefined && query.instanceIdPrefix !== "") add((a) => `starts_with(i.instance_id, ${a})`, query.instanceIdPrefix);
  if (query.version !== undefined) add((a) => `i.version = ${a}`, query.version);
  return { where, params, add };
}
