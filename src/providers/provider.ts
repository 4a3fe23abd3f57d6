/**
 * The storage contract (provider contract v2). Everything above this file talks to storage only
 * through it, so memory, SQLite and PostgreSQL are interchangeable; one conformance suite
 * (test/providers/) holds every implementation to it, also with two handles on one store.
 *
 * SHAPE. Work items: a worker locks the next instance that has visible messages (or the next activity
 * task), processes it, and completes it in ONE transaction that is refused when the lease no longer
 * matches. What a step writes is decided in core/ (orchestration-step.ts, entities/, outbox.ts): a
 * provider stores and delivers what it is told and decides nothing. Where a delivery depends on the
 * target's state at that moment (start a child, replace a finished one, refuse a running one, create
 * an entity), the provider reads that state inside its transaction and applies core's `planStart` /
 * `planDelivery` to it. Time always comes in as `now` (ms since epoch); nothing here reads a clock.
 *
 * LEASES. An instance is processed by one worker at a time: its row carries `lock_token` (random per
 * lease), `locked_until` and the owning `workerId`. A row is lockable when it has a visible message
 * and `locked_until <= now` (an expired lease is taken over: the work item says `takeover`). Every
 * write on behalf of a lease is fenced on its token, in the same transaction as the write: a lease
 * that expired but was not taken over still commits (the token is still the row's); once another
 * worker locked the instance, or an optimistic commit wrote it, the old token is refused. A refused
 * commit writes nothing and reports LockLostError in its CommitResult. Abandon
 * releases the token and sets `locked_until` to the retry time, so a parked instance's messages keep
 * their order and nobody takes it before then. A message with `wake` ends such a delay; one that
 * arrives while the instance is leased is remembered, so the release that follows ignores its delay.
 * A start may take the first lease itself, for a worker of the starting process (`lease` in
 * CreateInstanceRequest): the same lease, with no lock transaction before the first step.
 * Activity tasks have leases of their own.
 *
 * ISOLATION (what each method may assume, for providers that allow concurrent writers, such as
 * PostgreSQL under READ COMMITTED; SQLite serialises writers and the memory store is single-threaded):
 * - Lock order: an instance row before its messages, history and tasks; several instance rows in
 *   ascending instance ID. No method takes locks in another order, so no two methods deadlock.
 * - Every method that inserts a message first locks the target's instance row (SELECT ... FOR UPDATE,
 *   or the INSERT that creates an entity row), then decides with `planDelivery`, then inserts. Hence a
 *   `deleteIfIdle` commit, which checks for messages after locking its own row, either sees a message
 *   inserted concurrently (and keeps the row) or deletes the row before the sender locks it (and the
 *   sender then creates the entity again): no message is ever left without its row.
 * - createInstance and the child-start delivery lock (or insert) the target row before deciding, so
 *   two creates of one ID serialise: one creates, the other is refused or replaces a finished one.
 * - lockOrchestrationWorkItems claims rows with a conditional update (`... AND locked_until <= now`,
 *   FOR UPDATE SKIP LOCKED where available): two workers locking at once never get the same instance.
 *   It increments the dequeue count of the messages it hands out in the same transaction.
 * - A commit re-reads the row's token, execution and history length under the row lock; a stale lease
 *   (taken over since) or an optimistic commit whose expectation no longer holds writes nothing.
 * - Reads (getInstance, getHistory, queryInstances, nextVisibleAt, findStrandedWork) take no locks and
 *   may see a state a moment old; nothing relies on them for exclusion.
 */
import { LockLostError } from "../core/errors.js";
import type { FailureDetails } from "../core/failure.js";
import type { ExecutionStartedEvent, HistoryEvent, TaskCompletedEvent, TaskFailedEvent } from "../core/history.js";
import type { MessageMetadata, OrchestrationMessage, OutgoingMessage } from "../core/messages.js";
import { type InstanceKind, type NewInstanceRow, orchestrationRow } from "../core/outbox.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { ParkInfo } from "../core/step-policy.js";
import type { StepCommit } from "../core/step-commit.js";

export type { MessageKind, MessageMetadata, OrchestrationMessage, OutgoingMessage } from "../core/messages.js";
export type { InstanceKind } from "../core/outbox.js";
export type { ActivityTaskRequest, InstanceUpdate, StepCommit } from "../core/step-commit.js";
export type { ParkInfo } from "../core/step-policy.js";

export interface StorageProvider {
  /** Creates or migrates the schema. Idempotent; safe when several hosts start at once. */
  initialize(): Promise<void>;
  close(): Promise<void>;

  // ---- client side ----
  /**
   * Creates an instance (status Pending) and enqueues its ExecutionStarted message, as core's
   * `planStart` says: a finished instance of that ID is replaced (history, messages, tasks deleted),
   * a Pending/Running/Suspended/ContinuedAsNew one raises InstanceAlreadyExistsError, nothing written.
   * With `lease`, the new instance is leased to that worker in the same transaction and its work item
   * returned (as a lock would have returned it); nobody is woken for it. Otherwise undefined: also
   * when the provider declines the lease, and the start is then announced as without one.
   */
  createInstance(request: CreateInstanceRequest): Promise<OrchestrationWorkItem | undefined>;
  /**
   * Enqueues messages from a client (kinds `event` and `entity`), all or none: when `planDelivery`
   * refuses one (an unknown orchestration: InstanceNotFoundError), nothing is written. A message to
   * an unknown entity creates its row (status Running). `wake` ends the target's retry delay.
   * Calls on one handle are stored in call order, also when made without waiting for each other.
   */
  sendMessages(messages: readonly OutgoingMessage[], now: number): Promise<void>;

  // ---- orchestration and entity work ----
  /**
   * Leases up to `max` lockable instances that have a visible message and whose function this worker
   * has (`functions`), with those messages (oldest first) and, unless the worker already holds
   * exactly that history (`cachedHistoryLength`), the current execution's history.
   */
  lockOrchestrationWorkItems(request: InstanceLockRequest): Promise<OrchestrationWorkItem[]>;
  /**
   * Commits each step atomically; items are independent (one refused commit does not refuse
   * another). Fenced by the lease (`fence.kind === "lease"`) or optimistically (`"optimistic"`: the
   * row must be unleased, at that execution and history length; nothing is consumed from the inbox).
   * Activity results in `activityResults` are deleted with the step, each fenced on its own lease.
   * A successful commit clears the instance's park record.
   */
  completeOrchestrationWorkItems(commits: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]>;
  /**
   * Releases the lease without consuming anything: the instance becomes lockable again at
   * `now + retryAfterMs`, with its messages in their order. With `park`, the park record is stored
   * (visible in queries) until the next successful commit.
   */
  abandonOrchestrationWorkItem(item: OrchestrationWorkItem, options: AbandonOptions, now: number): Promise<void>;
  /** Extends leases still held; returns false for those that were lost. */
  renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]>;
  /** The current execution's history, oldest first; a page of it with `fromSeq`/`limit`. */
  getHistory(instanceId: string, page?: HistoryPage): Promise<HistoryEvent[]>;

  // ---- activity work ----
  /** Leases up to `max` visible activity tasks whose function this worker has (`functions`). */
  lockActivityWorkItems(request: ActivityLockRequest): Promise<ActivityWorkItem[]>;
  /** Deletes each task and enqueues its TaskCompleted/TaskFailed to the orchestration, atomically per item. */
  completeActivityWorkItems(results: readonly ActivityResult[], now: number): Promise<CommitResult[]>;
  abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void>;
  renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]>;

  // ---- queries and maintenance ----
  getInstance(instanceId: string, options?: InstanceReadOptions): Promise<InstanceRecord | undefined>;
  queryInstances(query: InstanceQuery): Promise<InstancePage>;
  /** Deletes the instance with its history, messages and tasks. Returns 0 or 1. */
  purgeInstance(instanceId: string): Promise<number>;
  /**
   * Deletes matching instances in a terminal state, with their history, messages and tasks, in
   * short transactions; returns how many. With `limit`, at most that many (retention's batches).
   */
  purgeInstances(filter: PurgeFilter): Promise<number>;
  /** Earliest time after `now` at which a message, task or retry becomes due, for timer wake-ups. */
  nextVisibleAt(now: number): Promise<number | undefined>;
  /**
   * The backlog at `now`, for metrics: instances of each kind with a visible message that no one
   * holds (nor holds back for a retry), activity tasks visible and not leased, and parked instances.
   * Read-only; may count a state a moment old.
   */
  workCounts(now: number): Promise<WorkCounts>;
  /** How many instances match `filter`, per runtime status (for a dashboard's counts, without paging through them). */
  countInstances(filter: InstanceFilter): Promise<StatusCounts>;
  /**
   * Work that has waited since before `visibleBefore` for a function none of `functions` names: the
   * instances (orchestrations and entities; not those leased or held back for a retry, nor messages
   * that need no code) and the activity tasks (with the orchestration that waits for them).
   * Read-only; lets a host tell an operator what no running host can do.
   */
  findStrandedWork(request: StrandedWorkRequest): Promise<StrandedWork>;
  /**
   * Stores a park record on an instance that has none, that nobody holds a live lease on and that is
   * not held back for a retry; false otherwise (a worker's own park record is never overwritten).
   */
  markParked(instanceId: string, park: ParkInfo, now: number): Promise<boolean>;

  // ---- hosts ----
  /**
   * Records that a host is alive (one small write). Hosts call it every few seconds, which makes it
   * also the probe of whether the store can be written: it throws when it cannot.
   */
  heartbeat(host: HostRecord, now: number): Promise<void>;
  /** Forgets a host that stopped cleanly: the instances it held in its cache go to others at once. */
  removeHost(workerId: string): Promise<void>;
  /**
   * The store's own clock (ms since the epoch), for stores that several machines share: hosts measure
   * their clock against it and correct their time. Absent for stores on the host's own machine.
   */
  storeTime?(): Promise<number>;

  // ---- timer triggers ----
  /**
   * One small record per timer function (`name`, case-insensitive): the last occurrence (ms since
   * the epoch) that a host claimed. Creates the record with `baseline` when there is none (insert if
   * absent; never moves an existing one) and returns the stored value: the baseline just written, or
   * what was there. A host calls it when it starts, to learn whether an occurrence was missed while
   * no host ran (Azure's past-due check); the baseline is its start time. A baseline counts as done
   * (no run of it to finish).
   */
  initTimerOccurrence(name: string, baseline: number, workerId: string, now: number): Promise<number>;
  /** The record of a timer function (`name`, case-insensitive); undefined when there is none. Read-only. */
  readTimerOccurrence(name: string): Promise<TimerOccurrenceRecord | undefined>;
  /**
   * Compare-and-set: claims `occurrence` for `workerId` when no occurrence at or after it was claimed
   * (the stored one is older, or there is none), by storing it with a lease until `now + leaseMs`;
   * `claimed` says whether this call did. `last` is the stored occurrence before the call (undefined:
   * none): the one replaced when claimed, the one that won otherwise. Atomic across every handle on
   * the store, so each occurrence of a timer runs on one host of a fleet, whatever their clocks. The
   * claim supersedes an earlier occurrence whose run did not end: that one is never taken over.
   */
  claimTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<{ claimed: boolean; last?: number }>;
  /**
   * Extends the lease of `workerId` on `occurrence` to `now + leaseMs` while its run goes on; true
   * when it still holds it (the last occurrence claimed, held by `workerId`, not done), false when it
   * lost it (taken over, superseded or done). An expired lease that no one took over is renewed.
   */
  renewTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean>;
  /**
   * Records that the run of `occurrence` ended (whatever its outcome): `done` moves to it when it is
   * older, and no later than the last claim. From then on the occurrence is never taken over. Not
   * fenced by the worker: a run that ended is done, even if another host took it over meanwhile.
   */
  completeTimerOccurrence(name: string, occurrence: number, workerId: string, now: number): Promise<void>;
  /**
   * Compare-and-set for an interrupted run: gives `occurrence` to `workerId` with a lease until
   * `now + leaseMs` when it is still the last occurrence claimed, its run is not done and its lease
   * expired (`leaseUntil <= now`: its holder stopped renewing it); true when this call took it.
   * Atomic across every handle on the store: of hosts racing to take it over, exactly one does.
   */
  takeOverTimerOccurrence(name: string, occurrence: number, workerId: string, now: number, leaseMs: number): Promise<boolean>;

  /** Push notification of new work written by this process (or, for PostgreSQL, any process). */
  onWork?(listener: (kind: WorkKind, visibleAt: number) => void): () => void;
  /** Push notification of a committed change of an instance's runtime status (for waits). */
  onInstanceChange?(listener: (instanceId: string, runtimeStatus: OrchestrationRuntimeStatus) => void): () => void;
  /** Counters for benchmarks and diagnostics. */
  readonly stats?: ProviderStats;
}

export type WorkKind = "orchestration" | "activity";

export interface ProviderStats {
  /** Write transactions committed (or attempted) since the provider was created. */
  writeTransactions: number;
}

/** The functions a worker can run: lower-case names. Undefined in a request means "any". */
export interface FunctionNames {
  orchestrations: readonly string[];
  entities: readonly string[];
}

export interface LockRequestBase {
  /** The worker taking the lease (hostname + pid + random), recorded as the owner. */
  workerId: string;
  now: number;
  leaseMs: number;
  max: number;
}

export interface InstanceLockRequest extends LockRequestBase {
  /**
   * Only instances of these functions; plus, whatever their function, instances with a visible
   * message that core's `processableWithoutCode` allows (a termination; anything but a rewind sent
   * to a finished instance). Undefined: any instance.
   */
  functions?: FunctionNames;
  /** The history length this worker holds in its cache for an instance, to skip sending it again. */
  cachedHistoryLength?: (instanceId: string, executionId: string) => number | undefined;
  /**
   * Cache affinity, for stores that several hosts share: an instance last run by another host that is
   * alive (its heartbeat is younger than `hostTimeoutMs`) is left to that host for `graceMs` after it
   * became ready, so scale-out does not turn every step into a full replay elsewhere.
   */
  affinity?: { graceMs: number; hostTimeoutMs: number };
}

/** A host sharing the store, as its heartbeat records it. */
export interface HostRecord {
  workerId: string;
  hostname: string;
  pid: number;
  startedAt: number;
  /** JSON text the host adds about itself (its version, whether it runs workers or HTTP). */
  info?: string;
}

/** What the store keeps per timer function: the claims of its occurrences and their leases. */
export interface TimerOccurrenceRecord {
  /** The last occurrence claimed (ms since the epoch), or the baseline written when the timer was first seen. */
  last: number;
  /** The last occurrence whose run ended (or the baseline); undefined: none. A run of `last` is in progress, or was interrupted, while `done` is older. */
  done?: number;
  /** The host that claimed `last` (or took it over). */
  workerId: string;
  /** When that host's lease on `last` ends unless renewed; a run not done whose lease ended was interrupted. */
  leaseUntil: number;
}

export interface ActivityLockRequest extends LockRequestBase {
  /** Only tasks of these activities (lower-case names). Undefined: any task. */
  functions?: readonly string[];
  /**
   * Locality, for stores that several hosts share: a task scheduled by another host is left to that
   * host for `graceMs` after it became visible (its result then goes straight to the executor that
   * host holds; from another host it goes through the instance's inbox). Competing consumers after.
   */
  affinity?: { graceMs: number };
}

export interface HistoryPage {
  /** First sequence number (0-based position in the execution's history). */
  fromSeq?: number;
  limit?: number;
}

export interface InstanceRecord {
  instanceId: string;
  /** Orchestration or entity: stored, not guessed from the ID. */
  kind: InstanceKind;
  name: string;
  executionId: string;
  runtimeStatus: OrchestrationRuntimeStatus;
  /** JSON text of the input of the current execution. */
  input?: string;
  /** JSON text: the output, the terminate reason, or the failure message. */
  output?: string;
  customStatus?: string;
  failureDetails?: FailureDetails;
  parentInstanceId?: string;
  /** Orchestrations only: the version the instance was started with (`context.df.version`); absent for none. */
  version?: string;
  createdAt: number;
  lastUpdatedAt: number;
  /** Number of history events of the current execution (cache validation for workers). */
  historyLength: number;
  /** Entities only: the entity's stored record (state, lock, queued requests), JSON text. */
  entityState?: string;
  /** Why the instance is parked, until its next successful step. */
  parked?: ParkInfo;
}

export interface CreateInstanceRequest {
  startedEvent: ExecutionStartedEvent;
  now: number;
  /** Start later: the ExecutionStarted message becomes visible at this time. */
  visibleAt?: number;
  metadata?: MessageMetadata;
  /**
   * A worker of the starting process that runs the first step at once: the start leases the instance
   * to it and returns the work item, so the step needs no lock transaction (nor a wake-up to take
   * it). Ignored with `visibleAt`. A lease that is never completed expires as any other.
   */
  lease?: { workerId: string; leaseMs: number };
}

/**
 * A worker of the starting process that runs a new instance's first step the moment it is started:
 * the start asks for `lease` with it and hands over the work item createInstance returns, so the step
 * needs no lock transaction and no wake-up. (The host wires its worker to its in-process client.)
 */
export interface StartClaim {
  workerId: string;
  leaseMs: number;
  /** The start leased the instance: the worker runs its work item. */
  accept(item: OrchestrationWorkItem): void;
  /** The start leased nothing (refused, failed, or the store declined the lease): the offer ends. */
  release(): void;
}

/** Asks for a claim on a start of orchestration `name` at `version`; undefined when no worker here takes it now. */
export type StartHandoff = (name: string, version: string | undefined) => StartClaim | undefined;

export interface WorkCounts {
  orchestrations: number;
  entities: number;
  activities: number;
  parked: number;
}

export interface QueuedMessage {
  /** Provider-specific identity, used to delete consumed messages. */
  id: number;
  message: OrchestrationMessage;
  /** How many times this message has been handed to a worker, this time included. */
  dequeueCount: number;
}

export interface OrchestrationWorkItem {
  instanceId: string;
  lockToken: string;
  lockedUntil: number;
  workerId: string;
  /** The highest dequeue count of its messages: how often this step has been attempted. */
  dequeueCount: number;
  /** The previous lease had expired: another worker held the instance and lost it. */
  takeover: boolean;
  instance: InstanceRecord;
  messages: QueuedMessage[];
  /** The current execution's history; absent when the worker's cache already holds exactly it. */
  history?: HistoryEvent[];
  /**
   * Set when part of the instance's stored state (a message, the history, a field of its row) could
   * not be read: what and why. The item is still leased, so the worker can park it; one bad row must
   * not stop the lock of every other instance.
   */
  unreadable?: string;
}

/** How a commit proves it may write the instance. */
export type CommitFence =
  | { kind: "lease"; item: OrchestrationWorkItem; consumedMessageIds: readonly number[] }
  /**
   * The worker holds no lease but knows the instance's state: the commit is refused unless the row
   * is unleased (`locked_until <= now`), at `executionId`, with exactly `historyLength` events. Used
   * to record an activity result together with the next step in one transaction.
   */
  | { kind: "optimistic"; instanceId: string; executionId: string; historyLength: number };

export interface OrchestrationCommit extends StepCommit {
  fence: CommitFence;
  /**
   * The worker committing (default: the lease's holder). Stores that serve several hosts remember it
   * as the instance's affinity: the host whose executor cache holds the instance gets it first.
   */
  workerId?: string | undefined;
  /** Activity results this step consumed directly: their tasks are deleted, each fenced on its lease. */
  activityResults?: readonly ActivityResult[] | undefined;
  /** Lease up to `max` of the step's new activity tasks to this worker, in the same transaction. */
  leaseActivities?: { workerId: string; leaseMs: number; max: number; functions?: readonly string[] } | undefined;
}

export type CommitResult = { ok: true; leasedActivities?: ActivityWorkItem[] } | { ok: false; error: Error };

export interface AbandonOptions {
  retryAfterMs: number;
  park?: ParkInfo;
}

export interface ActivityWorkItem {
  id: number;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input?: string;
  metadata?: MessageMetadata;
  lockToken: string;
  lockedUntil: number;
  /** How many times this task has been handed to a worker, this time included. */
  dequeueCount: number;
  /** Set when the task's stored input could not be read (its payload is missing): what and why. */
  unreadable?: string;
}

export interface ActivityResult {
  item: ActivityWorkItem;
  event: TaskCompletedEvent | TaskFailedEvent;
}

/**
 * What a read of instance records may leave out. Inputs are often the largest part of a record, and
 * a store that keeps large payloads apart need not fetch one nobody shows.
 */
export interface InstanceReadOptions {
  /** false: the record's `input` may be absent (a provider may still return it when it costs nothing). */
  input?: boolean;
}

export interface InstanceQuery extends InstanceReadOptions {
  /** Orchestrations only, entities only, or both (default). */
  kind?: InstanceKind;
  /** Only instances of this function (orchestrator or entity name), case-insensitive. */
  name?: string;
  runtimeStatus?: OrchestrationRuntimeStatus[];
  /** Inclusive bounds on lastUpdatedAt (an entity's last operation time). */
  lastUpdatedFrom?: number;
  lastUpdatedTo?: number;
  createdFrom?: number;
  createdTo?: number;
  instanceIdPrefix?: string;
  /** Only instances started with exactly this orchestration version. */
  version?: string;
  /** Default 100. */
  pageSize?: number;
  continuationToken?: string;
}

/** A query's filters without its paging: what `countInstances` counts. */
export type InstanceFilter = Omit<InstanceQuery, "pageSize" | "continuationToken">;

/** Instances per runtime status (statuses with none are absent). */
export type StatusCounts = Partial<Record<OrchestrationRuntimeStatus, number>>;

export interface InstancePage {
  instances: InstanceRecord[];
  /** Absent on the last page. */
  continuationToken?: string;
}

export interface PurgeFilter {
  /** Inclusive bounds on createdAt. */
  createdFrom?: number;
  createdTo?: number;
  /** Only instances last updated at or before this time: for a terminal one, when it finished (retention). */
  lastUpdatedTo?: number;
  /** Terminal statuses only (others are never purged); default all of them. */
  runtimeStatus?: OrchestrationRuntimeStatus[];
  /** Purge at most this many (default: every match). */
  limit?: number;
}

/** Rows deleted per purge transaction: short enough that workers are not held up during a big purge. */
export const PURGE_BATCH = 500;

/** Rows the next purge transaction may delete: a batch, or what is left of `limit`. */
export function purgeBatchSize(filter: PurgeFilter, purged: number): number {
  return filter.limit === undefined ? PURGE_BATCH : Math.min(PURGE_BATCH, filter.limit - purged);
}

export interface StrandedWorkRequest {
  functions: FunctionNames & { activities: readonly string[] };
  now: number;
  /** Only work visible since before this time. */
  visibleBefore: number;
  limit: number;
}

export interface StrandedWork {
  instances: { instanceId: string; kind: InstanceKind; name: string }[];
  activities: { instanceId: string; name: string }[];
}

export { TERMINAL_STATUSES } from "../core/status.js";

/**
 * A step's commit with its fence. Every commit is built here, with all its fields in one order (the
 * worker fills in the lease fields later): objects of one shape keep the hot path's property reads
 * fast, where spreading a step and adding fields one by one made each commit a shape of its own.
 */
export function orchestrationCommit(step: StepCommit, fence: CommitFence, activityResults?: readonly ActivityResult[]): OrchestrationCommit {
  return {
    replaceHistory: step.replaceHistory,
    newHistory: step.newHistory,
    instance: step.instance,
    activityTasks: step.activityTasks,
    messages: step.messages,
    deleteIfIdle: step.deleteIfIdle,
    fence,
    workerId: undefined,
    activityResults,
    leaseActivities: undefined,
  };
}

/** The lease a start takes for its worker (`CreateInstanceRequest.lease`), as stored on the new row. */
export interface StartLease {
  lockToken: string;
  lockedUntil: number;
  workerId: string;
}

/**
 * The work item of an instance a start leased to its worker: the new row (Pending) with its
 * ExecutionStarted message, handed out once, and an empty history. `started` is the event as the
 * caller gave it, input in full (a provider may store the input apart, as a payload reference).
 */
export function startedWorkItem(started: ExecutionStartedEvent, messageId: number, lease: StartLease, now: number, metadata?: MessageMetadata): OrchestrationWorkItem {
  const message: OrchestrationMessage = { event: started, executionId: started.executionId };
  if (metadata) message.metadata = metadata;
  return {
    instanceId: started.instanceId,
    lockToken: lease.lockToken,
    lockedUntil: lease.lockedUntil,
    workerId: lease.workerId,
    dequeueCount: 1,
    takeover: false,
    instance: newInstanceRecord(orchestrationRow(started), now),
    messages: [{ id: messageId, message, dequeueCount: 1 }],
    history: [],
  };
}

/** The record of an instance just created from core's plan (Pending, no history yet). */
export function newInstanceRecord(row: NewInstanceRow, now: number): InstanceRecord {
  const r: InstanceRecord = {
    instanceId: row.instanceId,
    kind: row.kind,
    name: row.name,
    executionId: row.executionId,
    runtimeStatus: row.runtimeStatus,
    createdAt: now,
    lastUpdatedAt: now,
    historyLength: 0,
  };
  if (row.input !== undefined) r.input = row.input;
  if (row.parentInstanceId !== undefined) r.parentInstanceId = row.parentInstanceId;
  if (row.version !== undefined) r.version = row.version;
  return r;
}

/** The instance a commit writes. */
export function commitInstanceId(c: Pick<OrchestrationCommit, "fence">): string {
  return c.fence.kind === "lease" ? c.fence.item.instanceId : c.fence.instanceId;
}

/** Reads a name for a lock filter: function names are case-insensitive. */
export const functionKey = (name: string): string => name.toLowerCase();

/** The refusal of an activity result whose task lease was lost (expired and taken, or the task is gone). */
export function activityLockLost(item: ActivityWorkItem): LockLostError {
  return new LockLostError(`activity task ${item.name}#${item.taskScheduledId} of '${item.instanceId}'`);
}

/** Whether the run of `occurrence` has not ended: it is the last occurrence claimed and `done` is older. */
export function timerRunOpen(r: TimerOccurrenceRecord, occurrence: number): boolean {
  return r.last === occurrence && (r.done === undefined || r.done < occurrence);
}

/** Whether the run of `occurrence` was interrupted: not ended, and its holder's lease expired at `now`. */
export function timerRunInterrupted(r: TimerOccurrenceRecord, occurrence: number, now: number): boolean {
  return timerRunOpen(r, occurrence) && r.leaseUntil <= now;
}
