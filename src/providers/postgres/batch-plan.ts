/**
 * Group commit, planned: many independent writes (steps, activity results, a client's messages or
 * start) become one set of row operations for one transaction. The rows they touch are locked first
 * (in ascending ID order) and read; then this planner applies the operations one after the other to
 * that state, exactly as separate transactions in that order would, deciding each delivery with
 * core's `planStart`/`planDelivery`. A step whose fence fails is refused alone; the others go on.
 * Nothing here talks to the database: the provider executes the plan with a fixed number of
 * statements, however many operations it holds.
 */
import { LockLostError } from "../../core/errors.js";
import type { OrchestrationMessage, OutgoingMessage } from "../../core/messages.js";
import { type InstanceKind, type NewInstanceRow, planDelivery, planStart, type TargetState } from "../../core/outbox.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../../core/status.js";
import type { PayloadWriter } from "../payloads.js";
import {
  activityLockLost,
  type ActivityResult,
  type ActivityWorkItem,
  type CommitResult,
  commitInstanceId,
  type CreateInstanceRequest,
  functionKey,
  type OrchestrationCommit,
  type StartLease,
  type WorkKind,
} from "../provider.js";

/** An instance row as locked and read by the batch (then as the batch has changed it so far). */
export interface RowState {
  kind: InstanceKind;
  runtimeStatus: OrchestrationRuntimeStatus;
  lockToken: string | null;
  lockedUntil: number;
  historyLength: number;
  executionId: string;
}

export interface Snapshot {
  /** Every row the batch may touch, locked; undefined for those that do not exist. */
  rows: Map<string, RowState | undefined>;
  /** Lease tokens of the activity tasks whose results the batch records, locked. */
  tasks: Map<number, string | null>;
  /** The database's clock when the rows were read: nothing is due before it. */
  dbNow: number;
}

export type BatchOp = (
  | { kind: "step"; commit: OrchestrationCommit }
  | { kind: "activity"; result: ActivityResult }
  /** A client's messages, sent at `now`: all or none (refused: an error result, nothing planned). */
  | { kind: "send"; messages: readonly OutgoingMessage[]; now: number }
  /** A client's start: throws when refused. */
  | { kind: "create"; request: CreateInstanceRequest }
) & {
  /** The payload rows the operation's rows refer to (it holds references in their place); inserted with it. */
  payloads?: PayloadWriter;
};

/** A step's new events: one row, from position `seq` on. */
export interface HistoryRow {
  instanceId: string;
  seq: number;
  count: number;
  executionId: string;
  /** JSON array of the events. */
  events: string;
}

export interface OwnUpdate {
  name: string;
  nameKey: string;
  executionId: string;
  runtimeStatus: string;
  input: string | null;
  output: string | null;
  customStatus: string | null;
  failureDetails: string | null;
  entityState: string | null;
  lastUpdatedAt: number;
  historyLength: number;
  affinity: string | null;
}

export interface NewRow {
  kind: InstanceKind;
  name: string;
  nameKey: string;
  executionId: string;
  runtimeStatus: string;
  input: string | null;
  parentInstanceId: string | null;
  version: string | null;
  at: number;
  /** A start leased to its worker in its own transaction (CreateInstanceRequest.lease). */
  lease: StartLease | null;
}

export interface TaskRow {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  nameKey: string;
  input: string | null;
  metadata: string | null;
  visibleAt: number;
  lockToken: string | null;
  lockedUntil: number;
  dequeueCount: number;
  workerId: string | null;
  /** The worker that scheduled it: the one holding the orchestration's executor. */
  origin: string | null;
  /** Leased to the committing worker: the work item its result carries (its id comes from the insert). */
  leased?: ActivityWorkItem;
}

/** A row that receives messages or a wake without being written in full. */
export interface TargetPatch {
  instanceId: string;
  /** Earliest visible time of its new messages (null: none). */
  due: number | null;
  wake: boolean;
  lockedUntil: number;
  wakePending: boolean;
}

export interface MessageRow {
  instanceId: string;
  executionId: string | null;
  type: string;
  event: string;
  visibleAt: number;
  metadata: string | null;
  /** 1 for the start message of a leased start: handed out with the lease. */
  dequeueCount: number;
}

/** The order of instance IDs in the database (COLLATE "C", byte order): the lock order of every transaction. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The rows and tasks a batch must lock before planning: every instance it may read or write. */
export function lockSet(ops: readonly BatchOp[]): { instanceIds: string[]; taskIds: number[] } {
  const ids = new Set<string>();
  const tasks = new Set<number>();
  const target = (m: OutgoingMessage): void => {
    ids.add(m.instanceId);
    // A refused child start is redirected to its parent.
    if (m.kind === "startChild" && m.message.event.type === "ExecutionStarted" && m.message.event.parentInstance) ids.add(m.message.event.parentInstance.instanceId);
  };
  for (const op of ops) {
    switch (op.kind) {
      case "step":
        ids.add(commitInstanceId(op.commit));
        for (const r of op.commit.activityResults ?? []) tasks.add(r.item.id);
        for (const m of op.commit.messages) target(m);
        break;
      case "activity":
        ids.add(op.result.item.instanceId);
        tasks.add(op.result.item.id);
        break;
      case "send":
        for (const m of op.messages) target(m);
        break;
      case "create":
        ids.add(op.request.startedEvent.instanceId);
        break;
    }
  }
  // Bytewise, as the database sorts them (COLLATE "C"): every transaction locks rows in this order.
  return { instanceIds: [...ids].sort(byteOrder), taskIds: [...tasks] };
}

/** Applies a batch's operations to the locked rows, in order, and collects the writes. */
export class BatchPlanner {
  readonly consumedMessageIds: number[] = [];
  readonly deletedTaskIds: number[] = [];
  history: HistoryRow[] = [];
  readonly own = new Map<string, OwnUpdate>();
  readonly resets = new Map<string, NewRow>();
  readonly creates = new Map<string, NewRow>();
  readonly wakes = new Map<string, { lockedUntil: number; wakePending: boolean }>();
  tasks: TaskRow[] = [];
  messages: MessageRow[] = [];
  /** Entities to delete after the writes if no message is left for them. */
  readonly idle = new Set<string>();
  /** Rows whose history is dropped before the writes (continueAsNew, rewind, a replaced instance). */
  readonly dropHistory = new Set<string>();
  /** Replaced instances: their messages and tasks are dropped before the writes. */
  readonly dropData = new Set<string>();
  /** Rows a step released: announced again when messages wait for them. */
  readonly released = new Set<string>();
  readonly announcements: [WorkKind, number][] = [];
  readonly changes: [string, OrchestrationRuntimeStatus][] = [];
  private readonly rows: Map<string, RowState | undefined>;
  private readonly tasksHeld: Map<number, string | null>;
  private readonly nowCap: number;

  /** The time of the operation being applied (a batch of client sends holds several). */
  private now: number;

  constructor(
    snapshot: Snapshot,
    now: number,
    private readonly newToken: () => string,
    /** An earlier attempt of this batch may have committed: a start already written is its own. */
    private readonly afterLostCommit = false,
  ) {
    this.now = now;
    this.rows = new Map(snapshot.rows);
    this.tasksHeld = new Map(snapshot.tasks);
    this.nowCap = Math.min(now, snapshot.dbNow);
  }

  /** Applies one operation. A refused send is an error result; a refused start throws. */
  apply(op: BatchOp): CommitResult {
    switch (op.kind) {
      case "step":
        return this.step(op.commit);
      case "activity":
        return this.activity(op.result);
      case "send": {
        const refused = this.refusal(op.messages, op.now);
        if (refused) return { ok: false, error: refused };
        const batchNow = this.now;
        this.now = op.now;
        try {
          for (const m of op.messages) this.deliver(m, "client");
        } finally {
          this.now = batchNow;
        }
        return { ok: true };
      }
      case "create":
        this.create(op.request);
        return { ok: true };
    }
  }

  /**
   * Whether core refuses any of a client's messages, on the state as the batch has it (and as the
   * earlier messages of the same call would leave it): checked before any is planned, so a refused
   * call leaves nothing behind while the others of the batch go on.
   */
  private refusal(messages: readonly OutgoingMessage[], now: number): Error | undefined {
    const created = new Map<string, TargetState>();
    for (const m of messages) {
      const d = planDelivery(m, created.get(m.instanceId) ?? this.target(m.instanceId), "client", now);
      if (d.action === "fail") return d.error;
      if (d.action === "create" || d.action === "replace") created.set(m.instanceId, { kind: d.row.kind, runtimeStatus: d.row.runtimeStatus });
    }
    return undefined;
  }

  private state(instanceId: string): RowState | undefined {
    if (!this.rows.has(instanceId)) throw new Error(`internal: instance '${instanceId}' was not locked by the batch`);
    return this.rows.get(instanceId);
  }

  private target(instanceId: string): TargetState | undefined {
    const r = this.state(instanceId);
    return r ? { kind: r.kind, runtimeStatus: r.runtimeStatus } : undefined;
  }

  private step(c: OrchestrationCommit): CommitResult {
    const f = c.fence;
    const id = commitInstanceId(c);
    const row = this.state(id);
    const held =
      f.kind === "lease"
        ? !!row && row.lockToken === f.item.lockToken
        : !!row && row.lockedUntil <= this.nowCap && row.executionId === f.executionId && row.historyLength === f.historyLength;
    if (!row || !held) return { ok: false, error: new LockLostError(`orchestration instance '${id}'`) };
    for (const r of c.activityResults ?? []) {
      if (this.tasksHeld.get(r.item.id) !== r.item.lockToken) return { ok: false, error: activityLockLost(r.item) };
    }
    if (f.kind === "lease") {
      this.consumedMessageIds.push(...f.consumedMessageIds);
      this.released.add(id);
    }
    for (const r of c.activityResults ?? []) {
      this.deletedTaskIds.push(r.item.id);
      this.tasksHeld.delete(r.item.id);
    }
    let seq = row.historyLength;
    if (c.replaceHistory) {
      this.dropHistory.add(id);
      this.history = this.history.filter((h) => h.instanceId !== id);
      seq = 0;
    }
    const u = c.instance;
    if (c.newHistory.length > 0) {
      this.history.push({ instanceId: id, seq, count: c.newHistory.length, executionId: u.executionId, events: JSON.stringify(c.newHistory) });
      seq += c.newHistory.length;
    }
    const workerId = c.workerId ?? (f.kind === "lease" ? f.item.workerId : undefined);
    this.own.set(id, {
      name: u.name,
      nameKey: functionKey(u.name),
      executionId: u.executionId,
      runtimeStatus: u.runtimeStatus,
      input: u.input ?? null,
      output: u.output ?? null,
      customStatus: u.customStatus ?? null,
      failureDetails: u.failureDetails ? JSON.stringify(u.failureDetails) : null,
      entityState: u.entityState ?? null,
      lastUpdatedAt: u.lastUpdatedAt ?? this.now,
      historyLength: seq,
      affinity: workerId ?? null,
    });
    this.rows.set(id, { ...row, runtimeStatus: u.runtimeStatus, lockToken: null, lockedUntil: 0, historyLength: seq, executionId: u.executionId });
    if (u.runtimeStatus !== row.runtimeStatus) this.changes.push([id, u.runtimeStatus]);
    const leased = this.insertTasks(c, workerId ?? null);
    for (const m of c.messages) this.deliver(m, "step");
    if (c.deleteIfIdle) this.idle.add(id);
    return leased.length > 0 ? { ok: true, leasedActivities: leased } : { ok: true };
  }

  /** The step's activity tasks; the first ones are leased to the committing worker when it asks. */
  private insertTasks(c: OrchestrationCommit, origin: string | null): ActivityWorkItem[] {
    const leased: ActivityWorkItem[] = [];
    const lease = c.leaseActivities;
    for (const t of c.activityTasks) {
      const key = functionKey(t.name);
      const take = !!lease && leased.length < lease.max && (!lease.functions || lease.functions.includes(key));
      const row: TaskRow = {
        instanceId: t.instanceId,
        executionId: t.executionId,
        taskScheduledId: t.taskScheduledId,
        name: t.name,
        nameKey: key,
        input: t.input ?? null,
        metadata: t.metadata ? JSON.stringify(t.metadata) : null,
        visibleAt: this.now,
        lockToken: null,
        lockedUntil: 0,
        dequeueCount: 0,
        workerId: null,
        origin,
      };
      if (take) {
        row.lockToken = this.newToken();
        row.lockedUntil = this.now + lease.leaseMs;
        row.dequeueCount = 1;
        row.workerId = lease.workerId;
        const item: ActivityWorkItem = { id: 0, instanceId: t.instanceId, executionId: t.executionId, taskScheduledId: t.taskScheduledId, name: t.name, lockToken: row.lockToken, lockedUntil: row.lockedUntil, dequeueCount: 1 };
        if (t.input !== undefined) item.input = t.input;
        if (t.metadata) item.metadata = t.metadata;
        row.leased = item;
        leased.push(item);
      } else this.announcements.push(["activity", this.now]);
      this.tasks.push(row);
    }
    return leased;
  }

  private activity({ item, event }: ActivityResult): CommitResult {
    if (this.tasksHeld.get(item.id) !== item.lockToken) return { ok: false, error: activityLockLost(item) };
    this.deletedTaskIds.push(item.id);
    this.tasksHeld.delete(item.id);
    this.deliver({ kind: "toParent", instanceId: item.instanceId, message: { event, executionId: item.executionId } }, "step");
    return { ok: true };
  }

  private create(req: CreateInstanceRequest): void {
    const started = req.startedEvent;
    const existing = this.state(started.instanceId);
    // The same start sent again after its COMMIT got no answer: it was written the first time.
    if (this.afterLostCommit && existing && existing.executionId === started.executionId && !isTerminalStatus(existing.runtimeStatus)) return;
    const d = planStart(started, existing ? { kind: existing.kind, runtimeStatus: existing.runtimeStatus } : undefined);
    if (d.action === "fail") throw d.error;
    if (d.action !== "create" && d.action !== "replace") return;
    // A lease is taken for a new ID only: a replaced instance's start goes the ordinary way.
    const lease = req.lease && req.visibleAt === undefined && d.action === "create" ? { lockToken: this.newToken(), lockedUntil: req.now + req.lease.leaseMs, workerId: req.lease.workerId } : null;
    if (d.action === "replace") this.replace(d.row, req.now);
    else this.createRow(d.row, req.now, lease);
    const message: OrchestrationMessage = { event: started, executionId: started.executionId };
    if (req.metadata) message.metadata = req.metadata;
    this.insertMessage(started.instanceId, message, req.visibleAt ?? req.now, lease !== null);
  }

  /** A message: delivered as core's planDelivery says, on the target's state as the batch has it now. */
  private deliver(m: OutgoingMessage, origin: "step" | "client"): void {
    const d = planDelivery(m, this.target(m.instanceId), origin, this.now);
    switch (d.action) {
      case "fail":
        throw d.error;
      case "drop":
        return;
      case "redirect":
        this.deliver(d.message, origin);
        return;
      case "replace":
        this.replace(d.row);
        break;
      case "create":
        this.createRow(d.row);
        break;
      case "append":
        break;
    }
    if (m.wake) this.wake(m.instanceId);
    this.insertMessage(m.instanceId, m.message, m.visibleAt ?? this.now);
  }

  private newRow(row: NewInstanceRow, at: number, lease: NewRow["lease"] = null): NewRow {
    return {
      lease,
      kind: row.kind,
      name: row.name,
      nameKey: functionKey(row.name),
      executionId: row.executionId,
      runtimeStatus: row.runtimeStatus,
      input: row.input ?? null,
      parentInstanceId: row.parentInstanceId ?? null,
      version: row.version ?? null,
      at,
    };
  }

  private fresh(row: NewInstanceRow): RowState {
    return { kind: row.kind, runtimeStatus: row.runtimeStatus, lockToken: null, lockedUntil: 0, historyLength: 0, executionId: row.executionId };
  }

  private createRow(row: NewInstanceRow, at = this.now, lease: NewRow["lease"] = null): void {
    this.creates.set(row.instanceId, this.newRow(row, at, lease));
    const state = this.fresh(row);
    if (lease) {
      state.lockToken = lease.lockToken;
      state.lockedUntil = lease.lockedUntil;
    }
    this.rows.set(row.instanceId, state);
    this.changes.push([row.instanceId, row.runtimeStatus]);
  }

  /**
   * A finished instance replaced by a new one: its old history, messages and tasks go, and so does
   * whatever this batch had already written for it (it would have been deleted with them).
   */
  private replace(row: NewInstanceRow, at = this.now): void {
    const id = row.instanceId;
    this.history = this.history.filter((h) => h.instanceId !== id);
    this.messages = this.messages.filter((m) => m.instanceId !== id);
    this.tasks = this.tasks.filter((t) => {
      if (t.instanceId !== id) return true;
      if (t.leased) t.leased.id = -1;
      return false;
    });
    this.own.delete(id);
    this.idle.delete(id);
    this.wakes.delete(id);
    this.released.delete(id);
    this.dropHistory.add(id);
    this.dropData.add(id);
    this.resets.set(id, this.newRow(row, at));
    this.rows.set(id, this.fresh(row));
    this.changes.push([id, row.runtimeStatus]);
  }

  /** Ends a retry delay now; on a leased instance, makes its release skip the delay. */
  private wake(instanceId: string): void {
    const row = this.state(instanceId);
    if (!row) return;
    if (row.lockToken === null) {
      row.lockedUntil = 0;
      this.wakes.set(instanceId, { lockedUntil: 0, wakePending: false });
    } else this.wakes.set(instanceId, { lockedUntil: row.lockedUntil, wakePending: true });
  }

  /** Queues a message; `leased`: the start message of a leased start, handed out with it and announced to nobody. */
  private insertMessage(instanceId: string, m: OrchestrationMessage, visibleAt: number, leased = false): void {
    this.messages.push({
      instanceId,
      executionId: m.executionId ?? null,
      type: m.event.type,
      event: JSON.stringify(m.event),
      visibleAt,
      metadata: m.metadata ? JSON.stringify(m.metadata) : null,
      dequeueCount: leased ? 1 : 0,
    });
    if (!leased) this.announcements.push(["orchestration", visibleAt]);
  }

  /** The earliest visible time of the messages this batch inserts for each instance. */
  newMessagesDue(): Map<string, number> {
    const due = new Map<string, number>();
    for (const m of this.messages) due.set(m.instanceId, Math.min(m.visibleAt, due.get(m.instanceId) ?? Infinity));
    return due;
  }

  /**
   * Rows that only receive messages or a wake (no full write of this batch covers them): their
   * ready_at moves to the earliest new message, and a wake ends their retry delay.
   */
  targetPatches(due: Map<string, number>): TargetPatch[] {
    const ids = new Set([...due.keys(), ...this.wakes.keys()]);
    const out: TargetPatch[] = [];
    for (const id of ids) {
      if (this.own.has(id) || this.resets.has(id) || this.creates.has(id)) continue;
      const wake = this.wakes.get(id);
      out.push({ instanceId: id, due: due.get(id) ?? null, wake: wake !== undefined, lockedUntil: wake?.lockedUntil ?? 0, wakePending: wake?.wakePending ?? false });
    }
    return out;
  }

  get writesRows(): boolean {
    return (
      this.consumedMessageIds.length > 0 ||
      this.deletedTaskIds.length > 0 ||
      this.history.length > 0 ||
      this.own.size > 0 ||
      this.resets.size > 0 ||
      this.creates.size > 0 ||
      this.wakes.size > 0 ||
      this.tasks.length > 0 ||
      this.messages.length > 0
    );
  }
}
