import { LockLostError } from "../../core/errors.js";
import type { HistoryEvent } from "../../core/history.js";
import type { OrchestrationMessage, OutgoingMessage } from "../../core/messages.js";
import { type NewInstanceRow, planDelivery, planStart, processableWithoutCode, type TargetState } from "../../core/outbox.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../../core/status.js";
import type { ParkInfo } from "../../core/step-policy.js";
import { decodeCursor, encodeCursor, pageSizeOf } from "../paging.js";
import {
  activityLockLost,
  type WorkCounts,
  type InstanceFilter,
  type StatusCounts,
  type AbandonOptions,
  type ActivityLockRequest,
  type ActivityResult,
  type ActivityWorkItem,
  type CommitResult,
  type CreateInstanceRequest,
  type FunctionNames,
  functionKey,
  type HistoryPage,
  type HostRecord,
  type InstanceLockRequest,
  type InstancePage,
  type InstanceQuery,
  type InstanceRecord,
  newInstanceRecord,
  type OrchestrationCommit,
  type OrchestrationWorkItem,
  type ProviderStats,
  type PurgeFilter,
  startedWorkItem,
  type StorageProvider,
  type StrandedWork,
  type StrandedWorkRequest,
  type TimerOccurrenceRecord,
  timerRunInterrupted,
  timerRunOpen,
  type WorkKind,
} from "../provider.js";
import type { ActivityTaskRequest } from "../../core/step-commit.js";
import { notifySafely } from "../listeners.js";

interface InstanceRow {
  record: InstanceRecord;
  history: HistoryEvent[];
  lockToken: string | undefined;
  lockedUntil: number;
  workerId: string | undefined;
  /** A wake arrived while the row was leased: its release skips the retry delay. */
  wakePending: boolean;
}

interface MessageRow {
  id: number;
  instanceId: string;
  message: OrchestrationMessage;
  visibleAt: number;
  dequeueCount: number;
}

interface TaskRow {
  item: StoredTask;
  visibleAt: number;
  lockToken: string | undefined;
  lockedUntil: number;
  dequeueCount: number;
}

/**
 * A deep copy of stored data, so that nothing a caller does to what it wrote or read changes the
 * store. What is stored is JSON-shaped (events, records, messages: plain objects, arrays, strings,
 * numbers); copying it by hand is several times cheaper than structuredClone, which was the memory
 * store's largest cost per step. Anything else is left to structuredClone.
 */
function clone<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(clone) as T;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = clone((v as Record<string, unknown>)[k]);
  return out as T;
}

type StoredTask = Omit<ActivityWorkItem, "lockToken" | "lockedUntil" | "dequeueCount">;

/** A task as stored: its own copy of what the step asked for (built field by field: one per activity call). */
function storedTask(id: number, t: ActivityTaskRequest): StoredTask {
  const item: StoredTask = { id, instanceId: t.instanceId, executionId: t.executionId, taskScheduledId: t.taskScheduledId, name: t.name };
  if (t.input !== undefined) item.input = t.input;
  if (t.metadata !== undefined) item.metadata = clone(t.metadata);
  return item;
}

/** A stored task handed to a worker under a lease: a copy the worker may change. */
function leasedTask(t: TaskRow): ActivityWorkItem {
  const s = t.item;
  const item: ActivityWorkItem = { id: s.id, instanceId: s.instanceId, executionId: s.executionId, taskScheduledId: s.taskScheduledId, name: s.name, lockToken: t.lockToken!, lockedUntil: t.lockedUntil, dequeueCount: t.dequeueCount };
  if (s.input !== undefined) item.input = s.input;
  if (s.metadata !== undefined) item.metadata = clone(s.metadata);
  if (s.unreadable !== undefined) item.unreadable = s.unreadable;
  return item;
}

/**
 * The data of a memory store. Several MemoryProvider handles can share one (`openSecondHandle`), as
 * several connections share a database: the conformance suite runs its interleaving tests that way.
 */
class MemoryStore {
  readonly instances = new Map<string, InstanceRow>();
  readonly messages = new Map<number, MessageRow>();
  readonly tasks = new Map<number, TaskRow>();
  /** Per-instance indexes, so deleting or locking one instance does not scan the whole store. */
  readonly messagesOf = new Map<string, Map<number, MessageRow>>();
  readonly tasksOf = new Map<string, Set<number>>();
  /** Instances released with a retry delay (parked or abandoned), so the next retry is found without a scan. */
  readonly delayed = new Set<string>();
  nextId = 1;
  /** Lease tokens: unique within the store, which is all a token must be here (a UUID each cost more than the rest of a lease). */
  nextLockToken = 1;
  readonly hosts = new Map<string, HostRecord & { heartbeatAt: number }>();
  /** Timer triggers: the last occurrence claimed and its lease, by lower-case function name. */
  readonly timerOccurrences = new Map<string, TimerOccurrenceRecord & { claimedAt: number }>();
  readonly workListeners = new Set<(kind: WorkKind, visibleAt: number) => void>();
  readonly changeListeners = new Set<(instanceId: string, status: OrchestrationRuntimeStatus) => void>();
}

function notifyAll<A extends unknown[]>(listeners: Iterable<(...args: A) => void>, ...args: A): void {
  for (const l of listeners) notifySafely(l, ...args);
}

function handles(functions: FunctionNames | undefined, record: InstanceRecord): boolean {
  if (!functions) return true;
  const names = record.kind === "entity" ? functions.entities : functions.orchestrations;
  return names.includes(functionKey(record.name));
}

/**
 * In-process storage: the reference implementation of the provider contract, for tests and
 * throwaway runs (`--store memory:`). Everything is lost when the process exits. Each method runs to
 * completion without yielding, so it is atomic by construction.
 */
export class MemoryProvider implements StorageProvider {
  readonly stats: ProviderStats = { writeTransactions: 0 };
  private readonly subscriptions: (() => void)[] = [];

  constructor(private readonly store: MemoryStore = new MemoryStore()) {}

  /** Another handle on the same data, as a second connection to one database. */
  openSecondHandle(): MemoryProvider {
    return new MemoryProvider(this.store);
  }

  async initialize(): Promise<void> {}
  async close(): Promise<void> {
    for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe();
  }

  onWork(listener: (kind: WorkKind, visibleAt: number) => void): () => void {
    return this.subscribe(this.store.workListeners, listener);
  }

  onInstanceChange(listener: (instanceId: string, status: OrchestrationRuntimeStatus) => void): () => void {
    return this.subscribe(this.store.changeListeners, listener);
  }

  private subscribe<L>(set: Set<L>, listener: L): () => void {
    set.add(listener);
    const unsubscribe = (): void => void set.delete(listener);
    this.subscriptions.push(unsubscribe);
    return unsubscribe;
  }

  private notify(kind: WorkKind, visibleAt: number): void {
    notifyAll(this.store.workListeners, kind, visibleAt);
  }

  private newLockToken(): string {
    return `lease-${this.s.nextLockToken++}`;
  }

  private get s(): MemoryStore {
    return this.store;
  }

  // ---- rows ----

  private newRow(row: NewInstanceRow, now: number): InstanceRow {
    return { record: newInstanceRecord(row, now), history: [], lockToken: undefined, lockedUntil: 0, workerId: undefined, wakePending: false };
  }

  private target(instanceId: string): TargetState | undefined {
    const row = this.s.instances.get(instanceId);
    return row ? { kind: row.record.kind, runtimeStatus: row.record.runtimeStatus } : undefined;
  }

  /** Queues a message; `announce` false for one handed out with a lease taken with it (counted as delivered once). */
  private addMessage(instanceId: string, message: OrchestrationMessage, visibleAt: number, announce = true): number {
    const id = this.s.nextId++;
    const row: MessageRow = { id, instanceId, message: clone(message), visibleAt, dequeueCount: announce ? 0 : 1 };
    this.s.messages.set(id, row);
    let own = this.s.messagesOf.get(instanceId);
    if (!own) this.s.messagesOf.set(instanceId, (own = new Map<number, MessageRow>()));
    own.set(id, row);
    if (announce) this.notify("orchestration", visibleAt);
    return id;
  }

  /**
   * A message a step sends: delivered as core's planDelivery says. An instance it creates or
   * replaces is reported to `started`, to be announced once the whole step is written.
   */
  private deliver(m: OutgoingMessage, now: number, started?: (instanceId: string, status: OrchestrationRuntimeStatus) => void): void {
    const d = planDelivery(m, this.target(m.instanceId), "step", now);
    switch (d.action) {
      case "drop":
      case "fail":
        return;
      case "redirect":
        this.deliver(d.message, now, started);
        return;
      case "replace":
        this.deleteInstanceData(m.instanceId);
        this.s.instances.set(m.instanceId, this.newRow(d.row, now));
        started?.(m.instanceId, d.row.runtimeStatus);
        break;
      case "create":
        this.s.instances.set(m.instanceId, this.newRow(d.row, now));
        started?.(m.instanceId, d.row.runtimeStatus);
        break;
      case "append":
        break;
    }
    if (m.wake) this.wake(m.instanceId);
    this.addMessage(m.instanceId, m.message, m.visibleAt ?? now);
  }

  /** Ends a retry delay; under a lease, the release that follows skips its delay. */
  private wake(instanceId: string): void {
    const row = this.s.instances.get(instanceId);
    if (!row) return;
    if (row.lockToken === undefined) row.lockedUntil = 0;
    else row.wakePending = true;
  }

  // ---- client side ----

  async createInstance(req: CreateInstanceRequest): Promise<OrchestrationWorkItem | undefined> {
    this.stats.writeTransactions++;
    const started = req.startedEvent;
    const d = planStart(started, this.target(started.instanceId));
    if (d.action === "fail") throw d.error;
    if (d.action !== "create" && d.action !== "replace") return undefined;
    if (d.action === "replace") this.deleteInstanceData(started.instanceId);
    const row = this.newRow(d.row, req.now);
    this.s.instances.set(started.instanceId, row);
    const message: OrchestrationMessage = { event: started, executionId: started.executionId };
    if (req.metadata) message.metadata = req.metadata;
    const lease = req.visibleAt === undefined ? req.lease : undefined;
    const messageId = this.addMessage(started.instanceId, message, req.visibleAt ?? req.now, !lease);
    this.changed(started.instanceId, d.row.runtimeStatus);
    if (!lease) return undefined;
    const held = { lockToken: this.newLockToken(), lockedUntil: req.now + lease.leaseMs, workerId: lease.workerId };
    row.lockToken = held.lockToken;
    row.lockedUntil = held.lockedUntil;
    row.workerId = held.workerId;
    return startedWorkItem(clone(started), messageId, held, req.now, req.metadata && clone(req.metadata));
  }

  async sendMessages(messages: readonly OutgoingMessage[], now: number): Promise<void> {
    this.stats.writeTransactions++;
    // All or none: every message is checked before anything is written, each against the state
    // the earlier ones leave (as a transaction that writes them one by one would see it).
    const created = new Map<string, TargetState>();
    for (const m of messages) {
      const d = planDelivery(m, created.get(m.instanceId) ?? this.target(m.instanceId), "client", now);
      if (d.action === "fail") throw d.error;
      if (d.action === "create") created.set(m.instanceId, { kind: d.row.kind, runtimeStatus: d.row.runtimeStatus });
    }
    for (const m of messages) {
      const d = planDelivery(m, this.target(m.instanceId), "client", now);
      if (d.action === "create") this.s.instances.set(m.instanceId, this.newRow(d.row, now));
      if (d.action !== "create" && d.action !== "append") continue;
      if (m.wake) this.wake(m.instanceId);
      this.addMessage(m.instanceId, m.message, m.visibleAt ?? now);
    }
  }

  // ---- orchestration work ----

  async lockOrchestrationWorkItems(req: InstanceLockRequest): Promise<OrchestrationWorkItem[]> {
    if (req.max <= 0) return [];
    const ready: InstanceRow[] = [];
    const seen = new Set<string>();
    for (const m of this.s.messages.values()) {
      if (m.visibleAt > req.now || seen.has(m.instanceId)) continue;
      seen.add(m.instanceId);
      const row = this.s.instances.get(m.instanceId);
      if (!row || row.lockedUntil > req.now) continue;
      if (!handles(req.functions, row.record) && !this.hasMessageWithoutCode(row.record, req.now)) continue;
      ready.push(row);
      if (ready.length >= req.max) break;
    }
    if (ready.length === 0) return [];
    this.stats.writeTransactions++;
    return ready.map((row) => {
      const instanceId = row.record.instanceId;
      const takeover = row.lockToken !== undefined;
      row.lockToken = this.newLockToken();
      row.lockedUntil = req.now + req.leaseMs;
      row.workerId = req.workerId;
      const visible = [...(this.s.messagesOf.get(instanceId)?.values() ?? [])].filter((m) => m.visibleAt <= req.now);
      let dequeueCount = 0;
      for (const m of visible) dequeueCount = Math.max(dequeueCount, ++m.dequeueCount);
      const item: OrchestrationWorkItem = {
        instanceId,
        lockToken: row.lockToken,
        lockedUntil: row.lockedUntil,
        workerId: req.workerId,
        dequeueCount,
        takeover,
        instance: clone(row.record),
        messages: visible.map((m) => ({ id: m.id, message: clone(m.message), dequeueCount: m.dequeueCount })),
      };
      if (req.cachedHistoryLength?.(instanceId, row.record.executionId) !== row.history.length) item.history = clone(row.history);
      return item;
    });
  }

  private hasMessageWithoutCode(record: InstanceRecord, now: number): boolean {
    for (const m of this.s.messagesOf.get(record.instanceId)?.values() ?? []) {
      if (m.visibleAt <= now && processableWithoutCode(record.runtimeStatus, m.message.event.type)) return true;
    }
    return false;
  }

  async completeOrchestrationWorkItems(commits: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]> {
    if (commits.length === 0) return [];
    this.stats.writeTransactions++;
    return commits.map((c) => this.completeOne(c, now));
  }

  private completeOne(c: OrchestrationCommit, now: number): CommitResult {
    const f = c.fence;
    const instanceId = f.kind === "lease" ? f.item.instanceId : f.instanceId;
    const row = this.s.instances.get(instanceId);
    const held = !!row && (f.kind === "lease" ? row.lockToken === f.item.lockToken : row.lockedUntil <= now && row.record.executionId === f.executionId && row.history.length === f.historyLength);
    if (!row || !held) return { ok: false, error: new LockLostError(`orchestration instance '${instanceId}'`) };
    for (const r of c.activityResults ?? []) {
      const t = this.s.tasks.get(r.item.id);
      if (!t || t.lockToken !== r.item.lockToken) return { ok: false, error: activityLockLost(r.item) };
    }
    if (f.kind === "lease") for (const id of f.consumedMessageIds) this.deleteMessage(id);
    for (const r of c.activityResults ?? []) this.deleteTask(r.item.id);
    if (c.replaceHistory) row.history = clone(c.newHistory);
    else for (const e of c.newHistory) row.history.push(clone(e));
    const before = row.record.runtimeStatus;
    row.record = this.updatedRecord(row, c, now);
    row.lockToken = undefined;
    row.lockedUntil = 0;
    row.workerId = undefined;
    row.wakePending = false;
    const leased = this.insertTasks(c, now);
    const started: [string, OrchestrationRuntimeStatus][] = [];
    for (const m of c.messages) this.deliver(m, now, (id, status) => started.push([id, status]));
    const announceStarted = (): void => {
      for (const [id, status] of started) this.changed(id, status);
    };
    if (c.deleteIfIdle && (this.s.messagesOf.get(instanceId)?.size ?? 0) === 0) {
      this.deleteInstanceData(instanceId);
      announceStarted();
      return { ok: true };
    }
    // Messages that arrived while the step ran are ready now that the lease is released.
    for (const m of this.s.messagesOf.get(instanceId)?.values() ?? []) {
      if (m.visibleAt <= now) {
        this.notify("orchestration", now);
        break;
      }
    }
    if (row.record.runtimeStatus !== before) this.changed(instanceId, row.record.runtimeStatus);
    announceStarted();
    return leased.length > 0 ? { ok: true, leasedActivities: leased } : { ok: true };
  }

  private updatedRecord(row: InstanceRow, c: OrchestrationCommit, now: number): InstanceRecord {
    const r = row.record;
    const u = c.instance;
    const next: InstanceRecord = {
      instanceId: r.instanceId,
      kind: r.kind,
      name: u.name,
      executionId: u.executionId,
      runtimeStatus: u.runtimeStatus,
      createdAt: r.createdAt,
      lastUpdatedAt: u.lastUpdatedAt ?? now,
      historyLength: row.history.length,
    };
    if (u.input !== undefined) next.input = u.input;
    if (u.output !== undefined) next.output = u.output;
    if (u.customStatus !== undefined) next.customStatus = u.customStatus;
    if (u.failureDetails !== undefined) next.failureDetails = clone(u.failureDetails);
    if (u.entityState !== undefined) next.entityState = u.entityState;
    if (r.parentInstanceId !== undefined) next.parentInstanceId = r.parentInstanceId;
    if (r.version !== undefined) next.version = r.version;
    return next;
  }

  /** Inserts the step's activity tasks, leasing the first ones to the committing worker when asked. */
  private insertTasks(c: OrchestrationCommit, now: number): ActivityWorkItem[] {
    const leased: ActivityWorkItem[] = [];
    const lease = c.leaseActivities;
    let announce = false;
    for (const t of c.activityTasks) {
      const id = this.s.nextId++;
      const row: TaskRow = { item: storedTask(id, t), visibleAt: now, lockToken: undefined, lockedUntil: 0, dequeueCount: 0 };
      if (lease && leased.length < lease.max && (!lease.functions || lease.functions.includes(functionKey(t.name)))) {
        row.lockToken = this.newLockToken();
        row.lockedUntil = now + lease.leaseMs;
        row.dequeueCount = 1;
        leased.push(leasedTask(row));
      } else announce = true;
      this.s.tasks.set(id, row);
      let own = this.s.tasksOf.get(t.instanceId);
      if (!own) this.s.tasksOf.set(t.instanceId, (own = new Set<number>()));
      own.add(id);
    }
    if (announce) this.notify("activity", now);
    return leased;
  }

  private changed(instanceId: string, status: OrchestrationRuntimeStatus): void {
    notifyAll(this.s.changeListeners, instanceId, status);
  }

  async abandonOrchestrationWorkItem(item: OrchestrationWorkItem, options: AbandonOptions, now: number): Promise<void> {
    this.stats.writeTransactions++;
    const row = this.s.instances.get(item.instanceId);
    if (!row || row.lockToken !== item.lockToken) return;
    row.lockToken = undefined;
    row.workerId = undefined;
    row.lockedUntil = row.wakePending ? now : now + Math.max(0, options.retryAfterMs);
    row.wakePending = false;
    if (row.lockedUntil > 0) this.s.delayed.add(item.instanceId);
    if (options.park) row.record.parked = clone(options.park);
    this.notify("orchestration", row.lockedUntil);
  }

  async renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    this.stats.writeTransactions++;
    return items.map((item) => {
      const row = this.s.instances.get(item.instanceId);
      if (!row || row.lockToken !== item.lockToken) return false;
      row.lockedUntil = now + leaseMs;
      item.lockedUntil = row.lockedUntil;
      return true;
    });
  }

  async getHistory(instanceId: string, page: HistoryPage = {}): Promise<HistoryEvent[]> {
    const all = this.s.instances.get(instanceId)?.history ?? [];
    const from = page.fromSeq ?? 0;
    return clone(page.limit === undefined ? all.slice(from) : all.slice(from, from + page.limit));
  }

  // ---- activity work ----

  async lockActivityWorkItems(req: ActivityLockRequest): Promise<ActivityWorkItem[]> {
    const out: ActivityWorkItem[] = [];
    for (const t of this.s.tasks.values()) {
      if (out.length >= req.max) break;
      if (t.visibleAt > req.now || t.lockedUntil > req.now) continue;
      if (req.functions && !req.functions.includes(functionKey(t.item.name))) continue;
      t.lockToken = this.newLockToken();
      t.lockedUntil = req.now + req.leaseMs;
      t.dequeueCount++;
      out.push(leasedTask(t));
    }
    if (out.length > 0) this.stats.writeTransactions++;
    return out;
  }

  async completeActivityWorkItems(results: readonly ActivityResult[], now: number): Promise<CommitResult[]> {
    if (results.length === 0) return [];
    this.stats.writeTransactions++;
    return results.map(({ item, event }) => {
      const t = this.s.tasks.get(item.id);
      if (!t || t.lockToken !== item.lockToken) return { ok: false, error: activityLockLost(item) };
      this.deleteTask(item.id);
      this.deliver({ kind: "toParent", instanceId: item.instanceId, message: { event, executionId: item.executionId } }, now);
      return { ok: true };
    });
  }

  async abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void> {
    this.stats.writeTransactions++;
    const t = this.s.tasks.get(item.id);
    if (!t || t.lockToken !== item.lockToken) return;
    t.lockToken = undefined;
    t.lockedUntil = 0;
    t.visibleAt = now + retryAfterMs;
    this.notify("activity", t.visibleAt);
  }

  async renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    this.stats.writeTransactions++;
    return items.map((item) => {
      const t = this.s.tasks.get(item.id);
      if (!t || t.lockToken !== item.lockToken) return false;
      t.lockedUntil = now + leaseMs;
      item.lockedUntil = t.lockedUntil;
      return true;
    });
  }

  // ---- queries and maintenance ----

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const row = this.s.instances.get(instanceId);
    return row ? clone(row.record) : undefined;
  }

  async queryInstances(q: InstanceQuery): Promise<InstancePage> {
    const size = pageSizeOf(q.pageSize);
    const cursor = decodeCursor(q.continuationToken);
    const rows = this.matching(q)
      .filter((r) => !cursor || r.createdAt > cursor.createdAt || (r.createdAt === cursor.createdAt && r.instanceId > cursor.instanceId))
      .sort((a, b) => a.createdAt - b.createdAt || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    const page = rows.slice(0, size).map(clone);
    const last = page[page.length - 1];
    return rows.length > size && last ? { instances: page, continuationToken: encodeCursor(last) } : { instances: page };
  }

  async countInstances(filter: InstanceFilter): Promise<StatusCounts> {
    const counts: StatusCounts = {};
    for (const r of this.matching(filter)) counts[r.runtimeStatus] = (counts[r.runtimeStatus] ?? 0) + 1;
    return counts;
  }

  private matching(q: InstanceFilter): InstanceRecord[] {
    const name = q.name === undefined ? undefined : functionKey(q.name);
    return [...this.s.instances.values()]
      .map((i) => i.record)
      .filter(
        (r) =>
          (!q.runtimeStatus || q.runtimeStatus.includes(r.runtimeStatus)) &&
          (q.kind === undefined || q.kind === r.kind) &&
          (name === undefined || functionKey(r.name) === name) &&
          (q.lastUpdatedFrom === undefined || r.lastUpdatedAt >= q.lastUpdatedFrom) &&
          (q.lastUpdatedTo === undefined || r.lastUpdatedAt <= q.lastUpdatedTo) &&
          (q.createdFrom === undefined || r.createdAt >= q.createdFrom) &&
          (q.createdTo === undefined || r.createdAt <= q.createdTo) &&
          (q.instanceIdPrefix === undefined || r.instanceId.startsWith(q.instanceIdPrefix)) &&
          (q.version === undefined || r.version === q.version),
      );
  }

  private deleteMessage(id: number): void {
    const m = this.s.messages.get(id);
    if (!m) return;
    this.s.messages.delete(id);
    this.s.messagesOf.get(m.instanceId)?.delete(id);
  }

  private deleteTask(id: number): void {
    const t = this.s.tasks.get(id);
    if (!t) return;
    this.s.tasks.delete(id);
    this.s.tasksOf.get(t.item.instanceId)?.delete(id);
  }

  private deleteInstanceData(instanceId: string): void {
    this.s.instances.delete(instanceId);
    for (const id of this.s.messagesOf.get(instanceId)?.keys() ?? []) this.s.messages.delete(id);
    this.s.messagesOf.delete(instanceId);
    for (const id of this.s.tasksOf.get(instanceId) ?? []) this.s.tasks.delete(id);
    this.s.tasksOf.delete(instanceId);
  }

  async purgeInstance(instanceId: string): Promise<number> {
    this.stats.writeTransactions++;
    if (!this.s.instances.has(instanceId)) return 0;
    this.deleteInstanceData(instanceId);
    return 1;
  }

  async purgeInstances(f: PurgeFilter): Promise<number> {
    this.stats.writeTransactions++;
    let n = 0;
    for (const inst of [...this.s.instances.values()]) {
      if (f.limit !== undefined && n >= f.limit) break;
      const r = inst.record;
      if (!isTerminalStatus(r.runtimeStatus)) continue;
      if ((f.createdFrom !== undefined && r.createdAt < f.createdFrom) || (f.createdTo !== undefined && r.createdAt > f.createdTo)) continue;
      if (f.lastUpdatedTo !== undefined && r.lastUpdatedAt > f.lastUpdatedTo) continue;
      if (f.runtimeStatus && !f.runtimeStatus.includes(r.runtimeStatus)) continue;
      this.deleteInstanceData(r.instanceId);
      n++;
    }
    return n;
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    let min: number | undefined;
    const consider = (t: number): void => {
      if (t > now && (min === undefined || t < min)) min = t;
    };
    for (const m of this.s.messages.values()) consider(m.visibleAt);
    for (const t of this.s.tasks.values()) consider(t.visibleAt);
    // A parked instance's retry: unleased, held back until then, with messages waiting.
    for (const id of this.s.delayed) {
      const row = this.s.instances.get(id);
      if (!row || row.lockToken !== undefined || row.lockedUntil <= now) this.s.delayed.delete(id);
      else if ((this.s.messagesOf.get(id)?.size ?? 0) > 0) consider(row.lockedUntil);
    }
    return min;
  }

  async workCounts(now: number): Promise<WorkCounts> {
    const counts: WorkCounts = { orchestrations: 0, entities: 0, activities: 0, parked: 0 };
    const ready = new Set<string>();
    for (const m of this.s.messages.values()) if (m.visibleAt <= now) ready.add(m.instanceId);
    for (const id of ready) {
      const row = this.s.instances.get(id);
      if (!row || row.lockedUntil > now) continue;
      if (row.record.kind === "entity") counts.entities++;
      else counts.orchestrations++;
    }
    for (const t of this.s.tasks.values()) if (t.visibleAt <= now && (t.lockToken === undefined || t.lockedUntil <= now)) counts.activities++;
    for (const row of this.s.instances.values()) if (row.record.parked !== undefined) counts.parked++;
    return counts;
  }

  async findStrandedWork(req: StrandedWorkRequest): Promise<StrandedWork> {
    const out: StrandedWork = { instances: [], activities: [] };
    const seen = new Set<string>();
    for (const m of this.s.messages.values()) {
      if (out.instances.length >= req.limit) break;
      if (m.visibleAt > req.visibleBefore || seen.has(m.instanceId)) continue;
      const row = this.s.instances.get(m.instanceId);
      if (!row || row.lockedUntil > req.now || handles(req.functions, row.record) || processableWithoutCode(row.record.runtimeStatus, m.message.event.type)) continue;
      // Stranded when any of its waiting messages needs the code (as the SQL of the SQLite store).
      seen.add(m.instanceId);
      out.instances.push({ instanceId: m.instanceId, kind: row.record.kind, name: row.record.name });
    }
    for (const t of this.s.tasks.values()) {
      if (out.activities.length >= req.limit) break;
      if (t.visibleAt > req.visibleBefore || t.lockedUntil > req.now || req.functions.activities.includes(functionKey(t.item.name))) continue;
      out.activities.push({ instanceId: t.item.instanceId, name: t.item.name });
    }
    return out;
  }

  async markParked(instanceId: string, park: ParkInfo, now: number): Promise<boolean> {
    this.stats.writeTransactions++;
    const row = this.s.instances.get(instanceId);
    if (!row || row.record.parked !== undefined || row.lockedUntil > now) return false;
    row.record.parked = clone(park);
    return true;
  }

  async heartbeat(host: HostRecord, now: number): Promise<void> {
    this.stats.writeTransactions++;
    this.s.hosts.set(host.workerId, { ...host, heartbeatAt: now });
  }

  async removeHost(workerId: string): Promise<void> {
    this.s.hosts.delete(workerId);
  }

  async initTimerOccurrence(name: string, baseline: number, workerId: string, now: number): Promise<number> {
    const key = functionKey(name);
    const row = this.s.timerOccurrences.get(key);
    if (row) return row.last;
    this.stats.writeTransactions++;
    this.s.timerOccurrences.set(key, { last: baseline, done: baseline, workerId, claimedAt: now, leaseUntil: now });
    return baseline;
  }

  async readTimerOccurrence(name: string): Promise<TimerOccurrenceRecord | undefined> {
    const row = this.s.timerOccurrences.get(functionKey(name));
    if (!row) return undefined;
    const { last, done, workerId, leaseUntil } = row;
    return done === undefined ? { last, workerId, leaseUntil } : { last, done, workerId, leaseUntil };
  }

  async claimTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<{ claimed: boolean; last?: number }> {
    const key = functionKey(name);
    const row = this.s.timerOccurrences.get(key);
    if (row && row.last >= occurrence) return { claimed: false, last: row.last };
    this.stats.writeTransactions++;
    const claim = { last: occurrence, workerId, claimedAt: now, leaseUntil: now + leaseMs };
    this.s.timerOccurrences.set(key, row?.done === undefined ? claim : { ...claim, done: row.done });
    return row ? { claimed: true, last: row.last } : { claimed: true };
  }

  async renewTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    const row = this.s.timerOccurrences.get(functionKey(name));
    if (!row || !timerRunOpen(row, occurrence) || row.workerId !== workerId) return false;
    this.stats.writeTransactions++;
    row.leaseUntil = now + leaseMs;
    return true;
  }

  async completeTimerOccurrence(name: string, occurrence: number, _workerId: string, _now: number): Promise<void> {
    const row = this.s.timerOccurrences.get(functionKey(name));
    if (!row || occurrence > row.last || (row.done !== undefined && row.done >= occurrence)) return;
    this.stats.writeTransactions++;
    row.done = occurrence;
  }

  async takeOverTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
    const row = this.s.timerOccurrences.get(functionKey(name));
    if (!row || !timerRunInterrupted(row, occurrence, now)) return false;
    this.stats.writeTransactions++;
    Object.assign(row, { workerId, claimedAt: now, leaseUntil: now + leaseMs });
    return true;
  }
}
