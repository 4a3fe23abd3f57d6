import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { EntityId } from "../../core/entity-id.js";
import { DurableError, InstanceAlreadyExistsError, InstanceNotFoundError, LockLostError } from "../../core/errors.js";
import type { FailureDetails } from "../../core/failure.js";
import type { HistoryEvent } from "../../core/history.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../../core/status.js";
import { decodeCursor, encodeCursor, pageSizeOf } from "../paging.js";
import type {
  ActivityResult,
  ActivityWorkItem,
  CommitResult,
  CreateInstanceRequest,
  InstancePage,
  InstanceQuery,
  InstanceRecord,
  LockRequest,
  OrchestrationCommit,
  OrchestrationMessage,
  OrchestrationWorkItem,
  OutgoingMessage,
  PurgeFilter,
  StorageProvider,
  WorkKind,
} from "../provider.js";
import { subOrchestrationRejection } from "../../core/messages.js";
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
}

export class SchemaVersionError extends DurableError {
  constructor(found: number, known: number) {
    super("SCHEMA_VERSION_UNSUPPORTED", `The database schema is at version ${found}, newer than this Perdure understands (${known}). Upgrade Perdure, or point it at another database.`);
  }
}

interface InstanceRow {
  instance_id: string;
  name: string;
  execution_id: string;
  runtime_status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  failure_details: string | null;
  parent_instance_id: string | null;
  created_at: number;
  last_updated_at: number;
  history_length: number;
  lock_token: string | null;
  locked_until: number;
  entity_state: string | null;
}

interface MessageRow {
  id: number;
  execution_id: string | null;
  event: string;
}

interface TaskRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_scheduled_id: number;
  name: string;
  input: string | null;
  lock_token: string | null;
  locked_until: number;
  dequeue_count: number;
}

function entityIdOrUndefined(instanceId: string): EntityId | undefined {
  try {
    return EntityId.fromInstanceId(instanceId);
  } catch {
    return undefined;
  }
}

/** A listener's failure must not make a committed write look failed. */
function notifySafely(listener: (kind: WorkKind, at: number) => void, kind: WorkKind, at: number): void {
  try {
    listener(kind, at);
  } catch {
    // Wake-ups are hints; polling is the floor.
  }
}

function toRecord(r: InstanceRow): InstanceRecord {
  const rec: InstanceRecord = {
    instanceId: r.instance_id,
    name: r.name,
    executionId: r.execution_id,
    runtimeStatus: r.runtime_status as OrchestrationRuntimeStatus,
    createdAt: r.created_at,
    lastUpdatedAt: r.last_updated_at,
    historyLength: r.history_length,
  };
  if (r.input !== null) rec.input = r.input;
  if (r.output !== null) rec.output = r.output;
  if (r.custom_status !== null) rec.customStatus = r.custom_status;
  if (r.failure_details !== null) rec.failureDetails = JSON.parse(r.failure_details) as FailureDetails;
  if (r.parent_instance_id !== null) rec.parentInstanceId = r.parent_instance_id;
  if (r.entity_state !== null) rec.entityState = r.entity_state;
  return rec;
}

/**
 * Embedded storage on one SQLite file (WAL). Every step is one transaction; several processes may
 * open the same file, coordinated by SQLite's write lock and by leases.
 */
export class SqliteProvider implements StorageProvider {
  private db: Database.Database | undefined;
  private readonly listeners = new Set<(kind: WorkKind, visibleAt: number) => void>();
  private stmts: ReturnType<SqliteProvider["prepare"]> | undefined;

  constructor(private readonly options: SqliteProviderOptions) {}

  async initialize(): Promise<void> {
    if (this.db) return;
    const db = new Database(this.options.filename);
    try {
      // The busy timeout first: switching a new file to WAL takes a lock another process may hold.
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs ?? 5000}`);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      this.migrate(db);
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
      insertEntity: db.prepare(
        `INSERT OR IGNORE INTO instances (instance_id, name, execution_id, runtime_status, created_at, last_updated_at, history_length, locked_until)
         VALUES (?, ?, '', 'Running', ?, ?, 0, 0)`,
      ),
      insertInstance: db.prepare(
        `INSERT INTO instances (instance_id, name, execution_id, runtime_status, input, parent_instance_id, created_at, last_updated_at, history_length, locked_until)
         VALUES (@instanceId, @name, @executionId, 'Pending', @input, @parent, @now, @now, 0, 0)`,
      ),
      deleteInstance: db.prepare("DELETE FROM instances WHERE instance_id = ?"),
      deleteHistory: db.prepare("DELETE FROM history WHERE instance_id = ?"),
      deleteMessages: db.prepare("DELETE FROM messages WHERE instance_id = ?"),
      deleteTasks: db.prepare("DELETE FROM activity_tasks WHERE instance_id = ?"),
      insertMessage: db.prepare("INSERT INTO messages (instance_id, execution_id, event_type, event, visible_at) VALUES (?, ?, ?, ?, ?)"),
      deleteMessage: db.prepare("DELETE FROM messages WHERE id = ?"),
      readyInstances: db.prepare<[number, number, number], { instance_id: string }>(
        `SELECT m.instance_id FROM messages m JOIN instances i ON i.instance_id = m.instance_id
         WHERE m.visible_at <= ? AND i.locked_until <= ?
         GROUP BY m.instance_id ORDER BY MIN(m.id) LIMIT ?`,
      ),
      anyReadyInstance: db.prepare<[number, number], { one: number }>(
        `SELECT 1 AS one FROM messages m JOIN instances i ON i.instance_id = m.instance_id
         WHERE m.visible_at <= ? AND i.locked_until <= ? LIMIT 1`,
      ),
      hasAnyMessage: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM messages WHERE instance_id = ? LIMIT 1"),
      hasVisibleMessage: db.prepare<[string, number], { one: number }>("SELECT 1 AS one FROM messages WHERE instance_id = ? AND visible_at <= ? LIMIT 1"),
      anyReadyTask: db.prepare<[number, number], { one: number }>("SELECT 1 AS one FROM activity_tasks WHERE visible_at <= ? AND locked_until <= ? LIMIT 1"),
      lockInstance: db.prepare("UPDATE instances SET lock_token = ?, locked_until = ? WHERE instance_id = ? AND locked_until <= ?"),
      visibleMessages: db.prepare<[string, number], MessageRow>("SELECT id, execution_id, event FROM messages WHERE instance_id = ? AND visible_at <= ? ORDER BY id"),
      lockOf: db.prepare<[string], { lock_token: string | null; history_length: number }>("SELECT lock_token, history_length FROM instances WHERE instance_id = ?"),
      appendHistory: db.prepare("INSERT INTO history (instance_id, seq, execution_id, event_type, event) VALUES (?, ?, ?, ?, ?)"),
      updateInstance: db.prepare(
        `UPDATE instances SET name = @name, execution_id = @executionId, runtime_status = @status, input = @input, output = @output,
           custom_status = @customStatus, failure_details = @failure, entity_state = @entityState, last_updated_at = @now, history_length = @historyLength,
           lock_token = NULL, locked_until = 0
         WHERE instance_id = @instanceId`,
      ),
      releaseInstance: db.prepare("UPDATE instances SET lock_token = NULL, locked_until = 0 WHERE instance_id = ? AND lock_token = ?"),
      delayMessage: db.prepare("UPDATE messages SET visible_at = MAX(visible_at, ?) WHERE id = ?"),
      renewInstance: db.prepare("UPDATE instances SET locked_until = ? WHERE instance_id = ? AND lock_token = ?"),
      history: db.prepare<[string], { event: string }>("SELECT event FROM history WHERE instance_id = ? ORDER BY seq"),
      insertTask: db.prepare("INSERT INTO activity_tasks (instance_id, execution_id, task_scheduled_id, name, input, visible_at) VALUES (?, ?, ?, ?, ?, ?)"),
      readyTasks: db.prepare<[number, number, number], TaskRow>("SELECT * FROM activity_tasks WHERE visible_at <= ? AND locked_until <= ? ORDER BY id LIMIT ?"),
      lockTask: db.prepare("UPDATE activity_tasks SET lock_token = ?, locked_until = ?, dequeue_count = dequeue_count + 1 WHERE id = ?"),
      deleteTask: db.prepare("DELETE FROM activity_tasks WHERE id = ? AND lock_token = ?"),
      instanceExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM instances WHERE instance_id = ?"),
      abandonTask: db.prepare("UPDATE activity_tasks SET lock_token = NULL, locked_until = 0, visible_at = ? WHERE id = ? AND lock_token = ?"),
      renewTask: db.prepare("UPDATE activity_tasks SET locked_until = ? WHERE id = ? AND lock_token = ?"),
      nextMessage: db.prepare<[number], { t: number | null }>("SELECT MIN(visible_at) AS t FROM messages WHERE visible_at > ?"),
      nextTask: db.prepare<[number], { t: number | null }>("SELECT MIN(visible_at) AS t FROM activity_tasks WHERE visible_at > ?"),
    };
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
    this.listeners.clear();
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
  }

  onWork(listener: (kind: WorkKind, visibleAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `fn` in an IMMEDIATE transaction and announces the work it wrote once it is committed. */
  private write<T>(fn: (announce: (kind: WorkKind, at: number) => void) => T): T {
    const wakes: [WorkKind, number][] = [];
    const result = this.database.transaction(() => fn((kind, at) => wakes.push([kind, at]))).immediate();
    if (wakes.length > 0 && this.listeners.size > 0) {
      const earliest = new Map<WorkKind, number>();
      for (const [k, at] of wakes) earliest.set(k, Math.min(at, earliest.get(k) ?? Infinity));
      for (const [k, at] of earliest) for (const l of this.listeners) notifySafely(l, k, at);
    }
    return result;
  }

  private deleteInstanceData(instanceId: string): void {
    const s = this.s;
    s.deleteHistory.run(instanceId);
    s.deleteMessages.run(instanceId);
    s.deleteTasks.run(instanceId);
    s.deleteInstance.run(instanceId);
  }

  private insertMessage(instanceId: string, m: OrchestrationMessage, visibleAt: number, announce: (k: WorkKind, at: number) => void): void {
    this.s.insertMessage.run(instanceId, m.executionId ?? null, m.event.type, JSON.stringify(m.event), visibleAt);
    announce("orchestration", visibleAt);
  }

  async createInstance(req: CreateInstanceRequest): Promise<void> {
    this.write((announce) => {
      const existing = this.s.getInstance.get(req.instanceId);
      if (existing && !isTerminalStatus(existing.runtime_status as OrchestrationRuntimeStatus)) {
        throw new InstanceAlreadyExistsError(req.instanceId, existing.runtime_status);
      }
      if (existing) this.deleteInstanceData(req.instanceId);
      this.s.insertInstance.run({
        instanceId: req.instanceId,
        name: req.name,
        executionId: req.executionId,
        input: req.input ?? null,
        parent: req.startedEvent.parentInstance?.instanceId ?? null,
        now: req.now,
      });
      this.insertMessage(req.instanceId, { event: req.startedEvent, executionId: req.executionId }, req.visibleAt ?? req.now, announce);
    });
  }

  /** Entities exist from their first message on. */
  private ensureEntity(instanceId: string, now: number): boolean {
    if (!EntityId.isEntityInstanceId(instanceId)) return false;
    const id = entityIdOrUndefined(instanceId);
    if (!id) return false;
    this.s.insertEntity.run(instanceId, id.name, now, now);
    return true;
  }

  async sendMessages(messages: readonly OutgoingMessage[], now: number): Promise<void> {
    this.write((announce) => {
      for (const m of messages) {
        if (EntityId.isEntityInstanceId(m.instanceId)) EntityId.fromInstanceId(m.instanceId); // validates before anything is written
        else if (!this.s.instanceExists.get(m.instanceId)) throw new InstanceNotFoundError(m.instanceId);
      }
      for (const m of messages) this.ensureEntity(m.instanceId, now);
      for (const m of messages) this.insertMessage(m.instanceId, m.message, m.visibleAt ?? now, announce);
    });
  }

  async lockOrchestrationWorkItems(req: LockRequest): Promise<OrchestrationWorkItem[]> {
    if (req.max <= 0) return [];
    // Look before taking the write lock: an idle poll must not cost a write transaction.
    if (!this.s.anyReadyInstance.get(req.now, req.now)) return [];
    return this.write(() => {
      const s = this.s;
      const items: OrchestrationWorkItem[] = [];
      for (const { instance_id } of s.readyInstances.all(req.now, req.now, req.max)) {
        const token = randomUUID();
        const lockedUntil = req.now + req.leaseMs;
        if (s.lockInstance.run(token, lockedUntil, instance_id, req.now).changes !== 1) continue;
        const row = s.getInstance.get(instance_id)!;
        const messages = s.visibleMessages.all(instance_id, req.now).map((m) => {
          const message: OrchestrationMessage = { event: JSON.parse(m.event) as HistoryEvent };
          if (m.execution_id !== null) message.executionId = m.execution_id;
          return { id: m.id, message };
        });
        items.push({ instanceId: instance_id, lockToken: token, lockedUntil, instance: toRecord(row), messages });
      }
      return items;
    });
  }

  async completeOrchestrationWorkItems(commits: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]> {
    try {
      return this.write((announce) => commits.map((c) => this.completeOne(c, now, announce)));
    } catch (first) {
      if (commits.length === 1) return [{ ok: false, error: first instanceof Error ? first : new Error(String(first)) }];
      // Something in the group failed and the whole transaction rolled back: redo it with each step
      // in its own savepoint, so the failing one is refused alone instead of taking the others along.
      return this.write((announce) =>
        commits.map((c) => {
          try {
            return this.database.transaction(() => this.completeOne(c, now, announce))();
          } catch (err) {
            return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
          }
        }),
      );
    }
  }

  private completeOne(c: OrchestrationCommit, now: number, announce: (k: WorkKind, at: number) => void): CommitResult {
    const s = this.s;
    const id = c.item.instanceId;
    const lock = s.lockOf.get(id);
    if (!lock || lock.lock_token !== c.item.lockToken) return { ok: false, error: new LockLostError(`orchestration instance '${id}'`) };
    for (const mid of c.consumedMessageIds) s.deleteMessage.run(mid);
    let seq = lock.history_length;
    if (c.replaceHistory) {
      s.deleteHistory.run(id);
      seq = 0;
    }
    for (const e of c.newHistory) s.appendHistory.run(id, seq++, c.instance.executionId, e.type, JSON.stringify(e));
    const u = c.instance;
    s.updateInstance.run({
      instanceId: id,
      name: u.name,
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
    for (const t of c.activityTasks) {
      s.insertTask.run(t.instanceId, t.executionId, t.taskScheduledId, t.name, t.input ?? null, now);
      announce("activity", now);
    }
    for (const m of c.messages) this.deliver(id, m, now, announce);
    if (c.deleteIfIdle && !s.hasAnyMessage.get(id)) {
      this.deleteInstanceData(id);
      return { ok: true };
    }
    // Messages that arrived while the step ran are ready now that the lease is released.
    if (s.hasVisibleMessage.get(id, now)) announce("orchestration", now);
    return { ok: true };
  }

  private deliver(from: string, m: OutgoingMessage, now: number, announce: (k: WorkKind, at: number) => void): void {
    const ev = m.message.event;
    if (ev.type === "ExecutionStarted" && m.instanceId !== from) {
      const existing = this.s.getInstance.get(m.instanceId);
      if (existing && !isTerminalStatus(existing.runtime_status as OrchestrationRuntimeStatus)) {
        const rejection = subOrchestrationRejection(ev, existing.runtime_status, now);
        if (rejection) this.deliver(m.instanceId, rejection, now, announce);
        return;
      }
      if (existing) this.deleteInstanceData(m.instanceId);
      this.s.insertInstance.run({ instanceId: m.instanceId, name: ev.name, executionId: ev.executionId, input: ev.input ?? null, parent: ev.parentInstance?.instanceId ?? null, now });
    } else if (!this.ensureEntity(m.instanceId, now) && !this.s.instanceExists.get(m.instanceId)) {
      return;
    }
    this.insertMessage(m.instanceId, m.message, m.visibleAt ?? now, announce);
  }

  async abandonOrchestrationWorkItem(item: OrchestrationWorkItem, retryAfterMs: number, now: number): Promise<void> {
    this.write((announce) => {
      if (this.s.releaseInstance.run(item.instanceId, item.lockToken).changes !== 1) return;
      for (const m of item.messages) this.s.delayMessage.run(now + retryAfterMs, m.id);
      announce("orchestration", now + retryAfterMs);
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

  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    return this.s.history.all(instanceId).map((r) => JSON.parse(r.event) as HistoryEvent);
  }

  async lockActivityWorkItems(req: LockRequest): Promise<ActivityWorkItem[]> {
    if (req.max <= 0) return [];
    if (!this.s.anyReadyTask.get(req.now, req.now)) return [];
    return this.write(() => {
      const s = this.s;
      return s.readyTasks.all(req.now, req.now, req.max).map((t) => {
        const token = randomUUID();
        const lockedUntil = req.now + req.leaseMs;
        s.lockTask.run(token, lockedUntil, t.id);
        const item: ActivityWorkItem = {
          id: t.id,
          instanceId: t.instance_id,
          executionId: t.execution_id,
          taskScheduledId: t.task_scheduled_id,
          name: t.name,
          lockToken: token,
          lockedUntil,
          dequeueCount: t.dequeue_count + 1,
        };
        if (t.input !== null) item.input = t.input;
        return item;
      });
    });
  }

  async completeActivityWorkItems(results: readonly ActivityResult[], now: number): Promise<CommitResult[]> {
    return this.write((announce) =>
      results.map(({ item, event }): CommitResult => {
        if (this.s.deleteTask.run(item.id, item.lockToken).changes !== 1) {
          return { ok: false, error: new LockLostError(`activity task ${item.name}#${item.taskScheduledId} of '${item.instanceId}'`) };
        }
        if (this.s.instanceExists.get(item.instanceId)) this.insertMessage(item.instanceId, { event, executionId: item.executionId }, now, announce);
        return { ok: true };
      }),
    );
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

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const r = this.s.getInstance.get(instanceId);
    return r ? toRecord(r) : undefined;
  }

  async queryInstances(q: InstanceQuery): Promise<InstancePage> {
    const size = pageSizeOf(q.pageSize);
    const cursor = decodeCursor(q.continuationToken);
    // Only fixed fragments and placeholders: no input ever becomes SQL text.
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.kind === "entity") where.push("substr(instance_id, 1, 1) = '@'");
    if (q.kind === "orchestration") where.push("substr(instance_id, 1, 1) <> '@'");
    if (q.lastUpdatedFrom !== undefined) {
      where.push("last_updated_at >= ?");
      params.push(q.lastUpdatedFrom);
    }
    if (q.lastUpdatedTo !== undefined) {
      where.push("last_updated_at <= ?");
      params.push(q.lastUpdatedTo);
    }
    if (q.runtimeStatus) {
      if (q.runtimeStatus.length === 0) return { instances: [] };
      where.push(`runtime_status IN (${q.runtimeStatus.map(() => "?").join(", ")})`);
      params.push(...q.runtimeStatus);
    }
    if (q.createdFrom !== undefined) {
      where.push("created_at >= ?");
      params.push(q.createdFrom);
    }
    if (q.createdTo !== undefined) {
      where.push("created_at <= ?");
      params.push(q.createdTo);
    }
    if (q.instanceIdPrefix !== undefined && q.instanceIdPrefix !== "") {
      where.push("substr(instance_id, 1, length(?)) = ?");
      params.push(q.instanceIdPrefix, q.instanceIdPrefix);
    }
    if (cursor) {
      where.push("(created_at > ? OR (created_at = ? AND instance_id > ?))");
      params.push(cursor.createdAt, cursor.createdAt, cursor.instanceId);
    }
    const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, instance_id LIMIT ?`;
    const rows = this.database.prepare<(string | number)[], InstanceRow>(sql).all(...params, size + 1);
    const page = rows.slice(0, size).map(toRecord);
    const last = page[page.length - 1];
    return rows.length > size && last ? { instances: page, continuationToken: encodeCursor(last) } : { instances: page };
  }

  async purgeInstance(instanceId: string): Promise<number> {
    return this.write(() => {
      if (!this.s.instanceExists.get(instanceId)) return 0;
      this.deleteInstanceData(instanceId);
      return 1;
    });
  }

  async purgeInstances(f: PurgeFilter): Promise<number> {
    const statuses = (f.runtimeStatus ?? ["Completed", "Failed", "Terminated", "Canceled"]).filter((s) => isTerminalStatus(s));
    if (statuses.length === 0) return 0;
    const params: (string | number)[] = [...statuses, f.createdFrom];
    let sql = `SELECT instance_id FROM instances WHERE runtime_status IN (${statuses.map(() => "?").join(", ")}) AND created_at >= ?`;
    if (f.createdTo !== undefined) {
      sql += " AND created_at <= ?";
      params.push(f.createdTo);
    }
    sql += " LIMIT 500";
    let total = 0;
    // Bounded batches keep each write transaction short, so workers are not starved during a big purge.
    for (;;) {
      const n = this.write(() => {
        const ids = this.database.prepare<(string | number)[], { instance_id: string }>(sql).all(...params);
        for (const { instance_id } of ids) this.deleteInstanceData(instance_id);
        return ids.length;
      });
      total += n;
      if (n < 500) return total;
      await new Promise((r) => setImmediate(r));
    }
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    const a = this.s.nextMessage.get(now)?.t ?? null;
    const b = this.s.nextTask.get(now)?.t ?? null;
    if (a === null) return b ?? undefined;
    if (b === null) return a;
    return Math.min(a, b);
  }
}
