import { randomUUID } from "node:crypto";
import { EntityId } from "../../core/entity-id.js";
import { InstanceAlreadyExistsError, InstanceNotFoundError, LockLostError } from "../../core/errors.js";
import type { HistoryEvent } from "../../core/history.js";
import { isTerminalStatus } from "../../core/status.js";
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
  OrchestrationWorkItem,
  OutgoingMessage,
  PurgeFilter,
  QueuedMessage,
  StorageProvider,
  WorkKind,
} from "../provider.js";
import { subOrchestrationRejection } from "../../core/messages.js";

interface InstanceRow {
  record: InstanceRecord;
  history: HistoryEvent[];
  lockToken: string | undefined;
  lockedUntil: number;
}

interface MessageRow extends QueuedMessage {
  instanceId: string;
  visibleAt: number;
}

interface TaskRow {
  item: Omit<ActivityWorkItem, "lockToken" | "lockedUntil" | "dequeueCount">;
  visibleAt: number;
  lockToken: string | undefined;
  lockedUntil: number;
  dequeueCount: number;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * In-process storage: the reference implementation of the provider contract, for tests and
 * throwaway runs (`--store memory:`). Everything is lost when the process exits.
 */
export class MemoryProvider implements StorageProvider {
  private readonly instances = new Map<string, InstanceRow>();
  private readonly messages = new Map<number, MessageRow>();
  private readonly tasks = new Map<number, TaskRow>();
  /** Per-instance indexes, so deleting or locking one instance does not scan the whole store. */
  private readonly messagesOf = new Map<string, Map<number, MessageRow>>();
  private readonly tasksOf = new Map<string, Set<number>>();
  private nextId = 1;
  private readonly listeners = new Set<(kind: WorkKind, visibleAt: number) => void>();

  async initialize(): Promise<void> {}
  async close(): Promise<void> {
    this.listeners.clear();
  }

  onWork(listener: (kind: WorkKind, visibleAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  private notify(kind: WorkKind, visibleAt: number): void {
    for (const l of this.listeners) {
      try {
        l(kind, visibleAt);
      } catch {
        // Wake-ups are hints; polling is the floor.
      }
    }
  }

  async createInstance(req: CreateInstanceRequest): Promise<void> {
    const existing = this.instances.get(req.instanceId);
    if (existing && !isTerminalStatus(existing.record.runtimeStatus)) throw new InstanceAlreadyExistsError(req.instanceId, existing.record.runtimeStatus);
    if (existing) this.deleteInstanceData(req.instanceId);
    this.instances.set(req.instanceId, {
      record: this.newRecord(req.instanceId, req.name, req.executionId, req.input, req.now, req.startedEvent.parentInstance?.instanceId),
      history: [],
      lockToken: undefined,
      lockedUntil: 0,
    });
    this.addMessage(req.instanceId, { event: clone(req.startedEvent), executionId: req.executionId }, req.visibleAt ?? req.now);
  }

  private newRecord(instanceId: string, name: string, executionId: string, input: string | undefined, now: number, parent: string | undefined): InstanceRecord {
    const r: InstanceRecord = { instanceId, name, executionId, runtimeStatus: "Pending", createdAt: now, lastUpdatedAt: now, historyLength: 0 };
    if (input !== undefined) r.input = input;
    if (parent !== undefined) r.parentInstanceId = parent;
    return r;
  }

  async sendMessages(messages: readonly OutgoingMessage[], now: number): Promise<void> {
    for (const m of messages) {
      if (EntityId.isEntityInstanceId(m.instanceId)) EntityId.fromInstanceId(m.instanceId); // validates before anything is written
      else if (!this.instances.has(m.instanceId)) throw new InstanceNotFoundError(m.instanceId);
    }
    for (const m of messages) {
      this.ensureEntity(m.instanceId, now);
      this.addMessage(m.instanceId, clone(m.message), m.visibleAt ?? now);
    }
  }

  /** Entities exist from their first message on. */
  private ensureEntity(instanceId: string, now: number): boolean {
    if (!EntityId.isEntityInstanceId(instanceId)) return false;
    let id: EntityId;
    try {
      id = EntityId.fromInstanceId(instanceId);
    } catch {
      return false; // a malformed entity ID names nothing: the message is dropped like one to an unknown instance
    }
    if (!this.instances.has(instanceId)) {
      const record = this.newRecord(instanceId, id.name, "", undefined, now, undefined);
      record.runtimeStatus = "Running";
      this.instances.set(instanceId, { record, history: [], lockToken: undefined, lockedUntil: 0 });
    }
    return true;
  }

  private addMessage(instanceId: string, message: MessageRow["message"], visibleAt: number): void {
    const id = this.nextId++;
    const row = { id, instanceId, message, visibleAt };
    this.messages.set(id, row);
    let own = this.messagesOf.get(instanceId);
    if (!own) this.messagesOf.set(instanceId, (own = new Map<number, MessageRow>()));
    own.set(id, row);
    this.notify("orchestration", visibleAt);
  }

  async lockOrchestrationWorkItems(req: LockRequest): Promise<OrchestrationWorkItem[]> {
    if (req.max <= 0) return [];
    const ready: string[] = [];
    const seen = new Set<string>();
    for (const m of this.messages.values()) {
      if (m.visibleAt > req.now || seen.has(m.instanceId)) continue;
      seen.add(m.instanceId);
      const inst = this.instances.get(m.instanceId);
      if (!inst || (inst.lockToken !== undefined && inst.lockedUntil > req.now)) continue;
      ready.push(m.instanceId);
      if (ready.length >= req.max) break;
    }
    return ready.map((instanceId) => {
      const inst = this.instances.get(instanceId)!;
      inst.lockToken = randomUUID();
      inst.lockedUntil = req.now + req.leaseMs;
      const msgs = [...(this.messagesOf.get(instanceId)?.values() ?? [])].filter((m) => m.visibleAt <= req.now);
      return {
        instanceId,
        lockToken: inst.lockToken,
        lockedUntil: inst.lockedUntil,
        instance: clone(inst.record),
        messages: msgs.map((m) => ({ id: m.id, message: clone(m.message) })),
      };
    });
  }

  private holds(item: { instanceId: string; lockToken: string }): InstanceRow | undefined {
    const inst = this.instances.get(item.instanceId);
    return inst && inst.lockToken === item.lockToken ? inst : undefined;
  }

  async completeOrchestrationWorkItems(commits: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]> {
    return commits.map((c) => {
      const inst = this.holds(c.item);
      if (!inst) return { ok: false, error: new LockLostError(`orchestration instance '${c.item.instanceId}'`) };
      for (const id of c.consumedMessageIds) this.deleteMessage(id);
      if (c.replaceHistory) inst.history = clone(c.newHistory);
      else for (const e of c.newHistory) inst.history.push(clone(e));
      const r = inst.record;
      const u = c.instance;
      const next: InstanceRecord = {
        instanceId: r.instanceId,
        name: u.name,
        executionId: u.executionId,
        runtimeStatus: u.runtimeStatus,
        createdAt: r.createdAt,
        lastUpdatedAt: u.lastUpdatedAt ?? now,
        historyLength: inst.history.length,
      };
      if (u.input !== undefined) next.input = u.input;
      if (u.output !== undefined) next.output = u.output;
      if (u.customStatus !== undefined) next.customStatus = u.customStatus;
      if (u.failureDetails !== undefined) next.failureDetails = clone(u.failureDetails);
      if (u.entityState !== undefined) next.entityState = u.entityState;
      if (r.parentInstanceId !== undefined) next.parentInstanceId = r.parentInstanceId;
      inst.record = next;
      inst.lockToken = undefined;
      inst.lockedUntil = 0;
      for (const t of c.activityTasks) {
        const id = this.nextId++;
        this.tasks.set(id, { item: { id, ...clone(t) }, visibleAt: now, lockToken: undefined, lockedUntil: 0, dequeueCount: 0 });
        let own = this.tasksOf.get(t.instanceId);
        if (!own) this.tasksOf.set(t.instanceId, (own = new Set<number>()));
        own.add(id);
        this.notify("activity", now);
      }
      for (const m of c.messages) this.deliver(c.item.instanceId, m, now);
      if (c.deleteIfIdle && (this.messagesOf.get(c.item.instanceId)?.size ?? 0) === 0) {
        this.deleteInstanceData(c.item.instanceId);
        return { ok: true };
      }
      // Messages that arrived while the step ran are ready now that the lease is released.
      for (const m of this.messagesOf.get(c.item.instanceId)?.values() ?? []) {
        if (m.visibleAt <= now) {
          this.notify("orchestration", now);
          break;
        }
      }
      return { ok: true };
    });
  }

  private deliver(from: string, m: OutgoingMessage, now: number): void {
    const ev = m.message.event;
    if (ev.type === "ExecutionStarted" && m.instanceId !== from) {
      const existing = this.instances.get(m.instanceId);
      if (existing && !isTerminalStatus(existing.record.runtimeStatus)) {
        const rejection = subOrchestrationRejection(ev, existing.record.runtimeStatus, now);
        if (rejection) this.deliver(m.instanceId, rejection, now);
        return;
      }
      if (existing) this.deleteInstanceData(m.instanceId);
      this.instances.set(m.instanceId, {
        record: this.newRecord(m.instanceId, ev.name, ev.executionId, ev.input, now, ev.parentInstance?.instanceId),
        history: [],
        lockToken: undefined,
        lockedUntil: 0,
      });
    }
    this.ensureEntity(m.instanceId, now);
    if (!this.instances.has(m.instanceId)) return;
    this.addMessage(m.instanceId, clone(m.message), m.visibleAt ?? now);
  }

  async abandonOrchestrationWorkItem(item: OrchestrationWorkItem, retryAfterMs: number, now: number): Promise<void> {
    const inst = this.holds(item);
    if (!inst) return;
    inst.lockToken = undefined;
    inst.lockedUntil = 0;
    for (const q of item.messages) {
      const m = this.messages.get(q.id);
      if (m) m.visibleAt = Math.max(m.visibleAt, now + retryAfterMs);
    }
    this.notify("orchestration", now + retryAfterMs);
  }

  async renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return items.map((item) => {
      const inst = this.holds(item);
      if (!inst) return false;
      inst.lockedUntil = now + leaseMs;
      item.lockedUntil = inst.lockedUntil;
      return true;
    });
  }

  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    return clone(this.instances.get(instanceId)?.history ?? []);
  }

  async lockActivityWorkItems(req: LockRequest): Promise<ActivityWorkItem[]> {
    const out: ActivityWorkItem[] = [];
    for (const t of this.tasks.values()) {
      if (out.length >= req.max) break;
      if (t.visibleAt > req.now || (t.lockToken !== undefined && t.lockedUntil > req.now)) continue;
      t.lockToken = randomUUID();
      t.lockedUntil = req.now + req.leaseMs;
      t.dequeueCount++;
      out.push({ ...clone(t.item), lockToken: t.lockToken, lockedUntil: t.lockedUntil, dequeueCount: t.dequeueCount });
    }
    return out;
  }

  async completeActivityWorkItems(results: readonly ActivityResult[], now: number): Promise<CommitResult[]> {
    return results.map(({ item, event }) => {
      const t = this.tasks.get(item.id);
      if (!t || t.lockToken !== item.lockToken) return { ok: false, error: new LockLostError(`activity task ${item.name}#${item.taskScheduledId} of '${item.instanceId}'`) };
      this.deleteTask(item.id);
      if (this.instances.has(item.instanceId)) this.addMessage(item.instanceId, { event: clone(event), executionId: item.executionId }, now);
      return { ok: true };
    });
  }

  async abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void> {
    const t = this.tasks.get(item.id);
    if (!t || t.lockToken !== item.lockToken) return;
    t.lockToken = undefined;
    t.lockedUntil = 0;
    t.visibleAt = now + retryAfterMs;
    this.notify("activity", t.visibleAt);
  }

  async renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]> {
    return items.map((item) => {
      const t = this.tasks.get(item.id);
      if (!t || t.lockToken !== item.lockToken) return false;
      t.lockedUntil = now + leaseMs;
      item.lockedUntil = t.lockedUntil;
      return true;
    });
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const inst = this.instances.get(instanceId);
    return inst ? clone(inst.record) : undefined;
  }

  async queryInstances(q: InstanceQuery): Promise<InstancePage> {
    const size = pageSizeOf(q.pageSize);
    const cursor = decodeCursor(q.continuationToken);
    const rows = [...this.instances.values()]
      .map((i) => i.record)
      .filter(
        (r) =>
          (!q.runtimeStatus || q.runtimeStatus.includes(r.runtimeStatus)) &&
          (q.kind === undefined || (q.kind === "entity") === r.instanceId.startsWith("@")) &&
          (q.lastUpdatedFrom === undefined || r.lastUpdatedAt >= q.lastUpdatedFrom) &&
          (q.lastUpdatedTo === undefined || r.lastUpdatedAt <= q.lastUpdatedTo) &&
          (q.createdFrom === undefined || r.createdAt >= q.createdFrom) &&
          (q.createdTo === undefined || r.createdAt <= q.createdTo) &&
          (q.instanceIdPrefix === undefined || r.instanceId.startsWith(q.instanceIdPrefix)) &&
          (!cursor || r.createdAt > cursor.createdAt || (r.createdAt === cursor.createdAt && r.instanceId > cursor.instanceId)),
      )
      .sort((a, b) => a.createdAt - b.createdAt || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    const page = rows.slice(0, size).map(clone);
    const last = page[page.length - 1];
    return rows.length > size && last ? { instances: page, continuationToken: encodeCursor(last) } : { instances: page };
  }

  private deleteMessage(id: number): void {
    const m = this.messages.get(id);
    if (!m) return;
    this.messages.delete(id);
    this.messagesOf.get(m.instanceId)?.delete(id);
  }

  private deleteTask(id: number): void {
    const t = this.tasks.get(id);
    if (!t) return;
    this.tasks.delete(id);
    this.tasksOf.get(t.item.instanceId)?.delete(id);
  }

  private deleteInstanceData(instanceId: string): void {
    this.instances.delete(instanceId);
    for (const id of this.messagesOf.get(instanceId)?.keys() ?? []) this.messages.delete(id);
    this.messagesOf.delete(instanceId);
    for (const id of this.tasksOf.get(instanceId) ?? []) this.tasks.delete(id);
    this.tasksOf.delete(instanceId);
  }

  async purgeInstance(instanceId: string): Promise<number> {
    if (!this.instances.has(instanceId)) return 0;
    this.deleteInstanceData(instanceId);
    return 1;
  }

  async purgeInstances(f: PurgeFilter): Promise<number> {
    let n = 0;
    for (const inst of [...this.instances.values()]) {
      const r = inst.record;
      if (!isTerminalStatus(r.runtimeStatus)) continue;
      if (r.createdAt < f.createdFrom || (f.createdTo !== undefined && r.createdAt > f.createdTo)) continue;
      if (f.runtimeStatus && !f.runtimeStatus.includes(r.runtimeStatus)) continue;
      this.deleteInstanceData(r.instanceId);
      n++;
    }
    return n;
  }

  async nextVisibleAt(now: number): Promise<number | undefined> {
    let min: number | undefined;
    for (const m of this.messages.values()) if (m.visibleAt > now && (min === undefined || m.visibleAt < min)) min = m.visibleAt;
    for (const t of this.tasks.values()) if (t.visibleAt > now && (min === undefined || t.visibleAt < min)) min = t.visibleAt;
    return min;
  }
}
