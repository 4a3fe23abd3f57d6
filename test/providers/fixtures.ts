/**
 * Builders, helpers and the test harness types of the provider conformance suite. Everything here
 * goes through the StorageProvider interface only, so the suite runs unchanged against any backend.
 * Time is always a fixed number passed in as `now`: nothing reads the clock.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { LockLostError } from "../../src/core/errors.js";
import type { FailureDetails } from "../../src/core/failure.js";
import {
  HISTORY_FORMAT_VERSION,
  type CompletedStatus,
  type EntityOperationSignaledEvent,
  type EventRaisedEvent,
  type ExecutionCompletedEvent,
  type ExecutionStartedEvent,
  type ExecutionTerminatedEvent,
  type HistoryEvent,
  type ParentInstanceInfo,
  type TaskCompletedEvent,
  type TaskFailedEvent,
  type TaskScheduledEvent,
  type TimerFiredEvent,
} from "../../src/core/history.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../../src/core/status.js";
import type {
  ActivityLockRequest,
  ActivityTaskRequest,
  ActivityWorkItem,
  CommitResult,
  CreateInstanceRequest,
  FunctionNames,
  InstanceLockRequest,
  InstanceQuery,
  InstanceRecord,
  InstanceUpdate,
  MessageKind,
  MessageMetadata,
  OrchestrationCommit,
  OrchestrationMessage,
  OrchestrationWorkItem,
  OutgoingMessage,
  StorageProvider,
  WorkKind,
} from "../../src/providers/provider.js";
import { commitInstanceId } from "../../src/providers/provider.js";

// ---- the harness ----

export interface ProviderHandle {
  provider: StorageProvider;
  /** Closes whichever provider is current (see `reopen`) and removes the storage. */
  cleanup: () => Promise<void>;
  /** Persistent stores: closes the current provider and returns a new, initialized one on the same storage. */
  reopen?: () => Promise<StorageProvider>;
  /**
   * Another handle on the same store, as a second process or connection would have. The suite
   * initializes it and closes it at the end of the test, before `cleanup`.
   */
  second?: () => Promise<StorageProvider>;
  /** Why this store has no `second` handle, for the skip message. */
  noSecondReason?: string;
  /**
   * The store leases a start to the worker named in its request (CreateInstanceRequest.lease).
   * Otherwise it declines, as the contract allows, and the suite checks the start is announced instead.
   */
  leasesStarts?: boolean;
  /** It also leases a start that replaces a finished instance (PostgreSQL leases new IDs only). */
  leasesReplacingStarts?: boolean;
}

/** Returns a fresh, empty store (the suite calls `initialize()` again: it must be idempotent). */
export type MakeProvider = () => Promise<ProviderHandle>;

export type Body = (p: StorageProvider, h: ProviderHandle, t: TestContext) => Promise<void>;
/** Declares one conformance test: it gets a fresh store, cleaned up afterwards. */
export type Define = (title: string, body: Body) => void;

/** The second handle of `h`, or undefined after marking the test skipped. */
export async function secondHandle(h: ProviderHandle, t: TestContext): Promise<StorageProvider | undefined> {
  if (!h.second) {
    t.skip(h.noSecondReason ?? "this store offers no second handle on the same data");
    return undefined;
  }
  return h.second();
}

// ---- time ----

/** A fixed instant (2023-11-14T22:13:20Z); tests add offsets to it. */
export const T0 = 1_700_000_000_000;
export const LEASE = 30_000;
/** Far enough in the future that every message, timer, retry and lease is visible or expired. */
export const FAR = T0 + 365 * 24 * 3600_000;
export const WORKER = "host-a:1:worker";

export const iso = (t: number): string => new Date(t).toISOString();

// ---- history events ----

export function startedEvent(
  instanceId: string,
  executionId: string,
  opts: { name?: string; input?: string; parent?: ParentInstanceInfo; at?: number; generation?: number; version?: string } = {},
): ExecutionStartedEvent {
  const e: ExecutionStartedEvent = {
    type: "ExecutionStarted",
    eventId: -1,
    timestamp: iso(opts.at ?? T0),
    name: opts.name ?? "Orch",
    instanceId,
    executionId,
    generation: opts.generation ?? 0,
    historyFormatVersion: HISTORY_FORMAT_VERSION,
  };
  if (opts.input !== undefined) e.input = opts.input;
  if (opts.parent !== undefined) e.parentInstance = opts.parent;
  if (opts.version !== undefined) e.version = opts.version;
  return e;
}

export const orchestratorStarted = (t: number): HistoryEvent => ({ type: "OrchestratorStarted", eventId: -1, timestamp: iso(t) });
export const orchestratorCompleted = (t: number): HistoryEvent => ({ type: "OrchestratorCompleted", eventId: -1, timestamp: iso(t) });

export function taskScheduled(eventId: number, name: string, t: number, input?: string): TaskScheduledEvent {
  const e: TaskScheduledEvent = { type: "TaskScheduled", eventId, timestamp: iso(t), name };
  if (input !== undefined) e.input = input;
  return e;
}

export function taskCompleted(taskScheduledId: number, t: number, result?: string): TaskCompletedEvent {
  const e: TaskCompletedEvent = { type: "TaskCompleted", eventId: -1, timestamp: iso(t), taskScheduledId };
  if (result !== undefined) e.result = result;
  return e;
}

export function taskFailed(taskScheduledId: number, t: number, failureDetails: FailureDetails): TaskFailedEvent {
  return { type: "TaskFailed", eventId: -1, timestamp: iso(t), taskScheduledId, reason: failureDetails.errorMessage, failureDetails };
}

export function timerFired(timerId: number, fireAt: number): TimerFiredEvent {
  return { type: "TimerFired", eventId: -1, timestamp: iso(fireAt), timerId, fireAt: iso(fireAt) };
}

export function eventRaised(name: string, t: number, input?: string): EventRaisedEvent {
  const e: EventRaisedEvent = { type: "EventRaised", eventId: -1, timestamp: iso(t), name };
  if (input !== undefined) e.input = input;
  return e;
}

export const terminated = (t: number, reason?: string): ExecutionTerminatedEvent =>
  reason === undefined ? { type: "ExecutionTerminated", eventId: -1, timestamp: iso(t) } : { type: "ExecutionTerminated", eventId: -1, timestamp: iso(t), input: reason };

export function executionCompleted(status: CompletedStatus, t: number, result?: string, failureDetails?: FailureDetails): ExecutionCompletedEvent {
  const e: ExecutionCompletedEvent = { type: "ExecutionCompleted", eventId: -1, timestamp: iso(t), orchestrationStatus: status };
  if (result !== undefined) e.result = result;
  if (failureDetails !== undefined) e.failureDetails = failureDetails;
  return e;
}

/** A failure with every optional field set, nested: checks that storage keeps the structure. */
export const RICH_FAILURE: FailureDetails = {
  errorType: "TypeError",
  errorMessage: "boom: 'quotes' \"double\" ünïcödé 😀",
  stackTrace: "TypeError: boom\n    at activity (file.ts:1:2)\n    at run (worker.ts:3:4)",
  code: "SOME_CODE",
  isNonRetriable: true,
  innerFailure: { errorType: "RangeError", errorMessage: "inner", isNonRetriable: false, innerFailure: { errorType: "Error", errorMessage: "innermost", isNonRetriable: false } },
};

/** Metadata as the runtime carries it (trace context), with characters that need escaping. */
export const METADATA: MessageMetadata = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", note: "ünï 'q' \"d\" 😀" };

// ---- messages ----

export interface MessageExtras {
  executionId?: string;
  visibleAt?: number;
  metadata?: MessageMetadata;
  wake?: boolean;
}

/** What a message looks like in a work item after it was stored. */
export function stored(event: HistoryEvent, extras: Omit<MessageExtras, "visibleAt" | "wake"> = {}): OrchestrationMessage {
  const message: OrchestrationMessage = { event };
  if (extras.executionId !== undefined) message.executionId = extras.executionId;
  if (extras.metadata !== undefined) message.metadata = extras.metadata;
  return message;
}

export function outgoing(kind: MessageKind, instanceId: string, event: HistoryEvent, extras: MessageExtras = {}): OutgoingMessage {
  const m: OutgoingMessage = { kind, instanceId, message: stored(event, extras) };
  if (extras.visibleAt !== undefined) m.visibleAt = extras.visibleAt;
  if (extras.wake !== undefined) m.wake = extras.wake;
  return m;
}

export const toEvent = (instanceId: string, event: HistoryEvent, extras?: MessageExtras): OutgoingMessage => outgoing("event", instanceId, event, extras);
export const toSelf = (instanceId: string, event: HistoryEvent, extras?: MessageExtras): OutgoingMessage => outgoing("self", instanceId, event, extras);
export const toParent = (instanceId: string, event: HistoryEvent, extras?: MessageExtras): OutgoingMessage => outgoing("toParent", instanceId, event, extras);
export const toEntity = (instanceId: string, event: HistoryEvent, extras?: MessageExtras): OutgoingMessage => outgoing("entity", instanceId, event, extras);

/** A sub-orchestration start, as a parent's step sends it. */
export function startChild(started: ExecutionStartedEvent, metadata?: MessageMetadata): OutgoingMessage {
  return outgoing("startChild", started.instanceId, started, metadata ? { executionId: started.executionId, metadata } : { executionId: started.executionId });
}

// ---- provider operations ----

export interface CreateOptions {
  name?: string;
  executionId?: string;
  input?: string;
  now?: number;
  visibleAt?: number;
  parent?: ParentInstanceInfo;
  metadata?: MessageMetadata;
  version?: string;
  lease?: CreateInstanceRequest["lease"];
}

export async function create(p: StorageProvider, instanceId: string, opts: CreateOptions = {}): Promise<CreateInstanceRequest> {
  const executionId = opts.executionId ?? `${instanceId}-exec-1`;
  const now = opts.now ?? T0;
  const ev: { name?: string; input?: string; parent?: ParentInstanceInfo; at: number; version?: string } = { at: now };
  if (opts.name !== undefined) ev.name = opts.name;
  if (opts.version !== undefined) ev.version = opts.version;
  if (opts.input !== undefined) ev.input = opts.input;
  if (opts.parent !== undefined) ev.parent = opts.parent;
  const req: CreateInstanceRequest = { startedEvent: startedEvent(instanceId, executionId, ev), now };
  if (opts.visibleAt !== undefined) req.visibleAt = opts.visibleAt;
  if (opts.metadata !== undefined) req.metadata = opts.metadata;
  if (opts.lease !== undefined) req.lease = opts.lease;
  await p.createInstance(req);
  return req;
}

/** A start with a lease for `opts.lease` (default: WORKER): the request and what the store returned. */
export async function createLeased(p: StorageProvider, instanceId: string, opts: CreateOptions = {}): Promise<{ req: CreateInstanceRequest; item: OrchestrationWorkItem | undefined }> {
  const executionId = opts.executionId ?? `${instanceId}-exec-1`;
  const now = opts.now ?? T0;
  const ev: { name?: string; input?: string; at: number } = { at: now };
  if (opts.name !== undefined) ev.name = opts.name;
  if (opts.input !== undefined) ev.input = opts.input;
  const req: CreateInstanceRequest = { startedEvent: startedEvent(instanceId, executionId, ev), now, lease: opts.lease ?? { workerId: WORKER, leaseMs: LEASE } };
  if (opts.visibleAt !== undefined) req.visibleAt = opts.visibleAt;
  if (opts.metadata !== undefined) req.metadata = opts.metadata;
  return { req, item: await p.createInstance(req) };
}

export interface LockOptions {
  max?: number;
  leaseMs?: number;
  workerId?: string;
  functions?: FunctionNames;
  cachedHistoryLength?: InstanceLockRequest["cachedHistoryLength"];
}

export function lockRequest(now: number, o: LockOptions = {}): InstanceLockRequest {
  const req: InstanceLockRequest = { workerId: o.workerId ?? WORKER, now, leaseMs: o.leaseMs ?? LEASE, max: o.max ?? 1000 };
  if (o.functions) req.functions = o.functions;
  if (o.cachedHistoryLength) req.cachedHistoryLength = o.cachedHistoryLength;
  return req;
}

export async function lockAll(p: StorageProvider, now: number, o: LockOptions = {}): Promise<OrchestrationWorkItem[]> {
  return p.lockOrchestrationWorkItems(lockRequest(now, o));
}

/**
 * Locks `instanceId` (which must be ready at `now`) and releases every other instance the same call
 * happened to lock (retry 0: lockable again at `now`).
 */
export async function lockOne(p: StorageProvider, instanceId: string, now: number, o: LockOptions = {}): Promise<OrchestrationWorkItem> {
  const items = await lockAll(p, now, o);
  let mine: OrchestrationWorkItem | undefined;
  for (const item of items) {
    if (item.instanceId === instanceId) mine = item;
    else await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, now);
  }
  assert.ok(mine, `instance '${instanceId}' should be ready at ${now}; locked: [${items.map((i) => i.instanceId).join(", ")}]`);
  return mine;
}

/**
 * The messages queued for `instanceId` that are visible at `now`, read by locking and abandoning
 * (retry 0); undefined when the instance is not ready. Side effects: every instance ready at `now`
 * gets a delivery counted and becomes unlockable before `now`, and any lease expired by `now` is
 * broken. So peek at the test's current time, or at FAR only as the last look at the store.
 */
export async function peekMessages(p: StorageProvider, instanceId: string, now: number): Promise<OrchestrationWorkItem["messages"] | undefined> {
  const items = await lockAll(p, now);
  let found: OrchestrationWorkItem["messages"] | undefined;
  for (const item of items) {
    if (item.instanceId === instanceId) found = item.messages;
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, now);
  }
  return found;
}

/** The events visible for `instanceId` at `now` (empty when none). */
export async function peekEvents(p: StorageProvider, instanceId: string, now: number): Promise<HistoryEvent[]> {
  return ((await peekMessages(p, instanceId, now)) ?? []).map((m) => m.message.event);
}

/** The stored messages, without the ids and delivery counts that change from lock to lock. */
export const bodies = (messages: readonly { message: OrchestrationMessage }[] | undefined): OrchestrationMessage[] | undefined => messages?.map((m) => m.message);

export interface CommitOptions extends Partial<Omit<OrchestrationCommit, "fence" | "instance">> {
  status?: OrchestrationRuntimeStatus;
  instance?: Partial<InstanceUpdate>;
  /** Message ids consumed; default: every message of the item. */
  consumed?: readonly number[];
}

function updateFrom(rec: InstanceRecord, status: OrchestrationRuntimeStatus | undefined, instance: Partial<InstanceUpdate> | undefined): InstanceUpdate {
  const base: InstanceUpdate = { runtimeStatus: status ?? "Running", executionId: rec.executionId, name: rec.name };
  if (rec.input !== undefined) base.input = rec.input;
  return { ...base, ...instance };
}

/** A lease commit for `item`: consumes all its messages and keeps the row as it is (status Running) unless told otherwise. */
export function commitFor(item: OrchestrationWorkItem, opts: CommitOptions = {}): OrchestrationCommit {
  const { status, instance, consumed, ...rest } = opts;
  return {
    fence: { kind: "lease", item, consumedMessageIds: consumed ?? item.messages.map((m) => m.id) },
    replaceHistory: false,
    newHistory: [],
    activityTasks: [],
    messages: [],
    ...rest,
    instance: updateFrom(item.instance, status, instance),
  };
}

/** An optimistic commit on `rec` as read (its execution and history length are the expectation). */
export function optimisticFor(rec: InstanceRecord, opts: Omit<CommitOptions, "consumed"> = {}): OrchestrationCommit {
  const { status, instance, ...rest } = opts;
  return {
    fence: { kind: "optimistic", instanceId: rec.instanceId, executionId: rec.executionId, historyLength: rec.historyLength },
    replaceHistory: false,
    newHistory: [],
    activityTasks: [],
    messages: [],
    ...rest,
    instance: updateFrom(rec, status, instance),
  };
}

export async function commitOne(p: StorageProvider, commit: OrchestrationCommit, now: number): Promise<CommitResult> {
  const results = await p.completeOrchestrationWorkItems([commit], now);
  assert.equal(results.length, 1);
  return results[0]!;
}

export async function commitOk(p: StorageProvider, commit: OrchestrationCommit, now: number): Promise<CommitResult & { ok: true }> {
  const r = await commitOne(p, commit, now);
  assert.ok(r.ok, `commit of '${commitInstanceId(commit)}' should succeed: ${r.ok ? "" : r.error.message}`);
  return r;
}

export function assertLockLost(r: CommitResult | undefined, what = "commit"): void {
  assert.ok(r, `${what}: a result`);
  assert.equal(r.ok, false, `${what} should be refused`);
  if (r.ok) return;
  assert.ok(r.error instanceof LockLostError, `${what}: error is a LockLostError (got ${String(r.error)})`);
  assert.equal(r.error.code, "LOCK_LOST", `${what}: error code`);
}

export const hasCode =
  (code: string, cls: abstract new (...args: never[]) => Error) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  };

/** The standard first-step history of an execution. */
export function firstStepHistory(started: ExecutionStartedEvent, now: number, more: HistoryEvent[] = []): HistoryEvent[] {
  return [orchestratorStarted(now), started, ...more, orchestratorCompleted(now)];
}

/**
 * Creates an instance and runs one step that leaves it in `status` (with the history of a first
 * step, plus ExecutionCompleted for terminal statuses). Returns the create request.
 */
export async function runTo(p: StorageProvider, instanceId: string, status: OrchestrationRuntimeStatus, opts: CreateOptions & { output?: string } = {}): Promise<CreateInstanceRequest> {
  const req = await create(p, instanceId, opts);
  if (status === "Pending") return req;
  const now = req.visibleAt ?? req.now;
  const item = await lockOne(p, instanceId, now);
  const more: HistoryEvent[] = [];
  if (isTerminalStatus(status) || status === "ContinuedAsNew") {
    const completed: CompletedStatus = status === "Canceled" ? "Terminated" : (status as CompletedStatus);
    more.push(executionCompleted(completed, now, opts.output));
  }
  const c = commitFor(item, { status, newHistory: firstStepHistory(req.startedEvent, now, more) });
  if (opts.output !== undefined) c.instance.output = opts.output;
  await commitOk(p, c, now);
  return req;
}

export interface ActivityLockOptions {
  max?: number;
  leaseMs?: number;
  workerId?: string;
  functions?: readonly string[];
}

export async function lockActivities(p: StorageProvider, now: number, o: ActivityLockOptions = {}): Promise<ActivityWorkItem[]> {
  const req: ActivityLockRequest = { workerId: o.workerId ?? WORKER, now, leaseMs: o.leaseMs ?? LEASE, max: o.max ?? 1000 };
  if (o.functions) req.functions = o.functions;
  return p.lockActivityWorkItems(req);
}

/** Runs one step of `instanceId` that schedules activities `names` (task ids 1..n); returns the requests. */
export async function scheduleActivities(p: StorageProvider, instanceId: string, names: string[], now = T0, metadata?: MessageMetadata): Promise<ActivityTaskRequest[]> {
  const item = await lockOne(p, instanceId, now);
  const tasks: ActivityTaskRequest[] = names.map((name, i) => {
    const t: ActivityTaskRequest = { instanceId, executionId: item.instance.executionId, taskScheduledId: i + 1, name, input: JSON.stringify(`${name}-in`) };
    if (metadata) t.metadata = metadata;
    return t;
  });
  const started = item.messages.map((m) => m.message.event).filter((e) => e.type === "ExecutionStarted");
  const history = [orchestratorStarted(now), ...started, ...tasks.map((t) => taskScheduled(t.taskScheduledId, t.name, now, t.input)), orchestratorCompleted(now)];
  await commitOk(p, commitFor(item, { newHistory: history, activityTasks: tasks }), now);
  return tasks;
}

/** The update that writes `rec` back unchanged. */
export function withRecord(rec: InstanceRecord): InstanceUpdate {
  const u: InstanceUpdate = { runtimeStatus: rec.runtimeStatus, executionId: rec.executionId, name: rec.name };
  if (rec.input !== undefined) u.input = rec.input;
  if (rec.output !== undefined) u.output = rec.output;
  if (rec.customStatus !== undefined) u.customStatus = rec.customStatus;
  if (rec.failureDetails !== undefined) u.failureDetails = rec.failureDetails;
  if (rec.entityState !== undefined) u.entityState = rec.entityState;
  return u;
}

/** Leaves an activity task, a future timer and an event queued for a (possibly terminal) instance. */
export async function scheduleLeftovers(p: StorageProvider, instanceId: string): Promise<void> {
  const rec = await p.getInstance(instanceId);
  assert.ok(rec);
  await p.sendMessages([toEvent(instanceId, eventRaised("leftover", T0)), toEvent(instanceId, timerFired(7, T0 + 70_000), { executionId: rec.executionId, visibleAt: T0 + 70_000 })], T0);
  // A task left by a worker: schedule it through a step, then put the instance back as it was.
  const item = await lockOne(p, instanceId, T0);
  await commitOk(
    p,
    commitFor(item, {
      consumed: [],
      instance: { ...withRecord(rec), lastUpdatedAt: rec.lastUpdatedAt },
      activityTasks: [{ instanceId, executionId: rec.executionId, taskScheduledId: 99, name: "leftover-task" }],
    }),
    rec.lastUpdatedAt,
  );
}

/** Every instance the provider holds, read through paging. */
export async function allInstances(p: StorageProvider, query: InstanceQuery = {}): Promise<InstanceRecord[]> {
  const out: InstanceRecord[] = [];
  let token: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await p.queryInstances(token === undefined ? query : { ...query, continuationToken: token });
    out.push(...page.instances);
    token = page.continuationToken;
    if (token === undefined) return out;
  }
  assert.fail("paging did not terminate");
}

export const ids = (records: readonly { instanceId: string }[]): string[] => records.map((r) => r.instanceId);

/** Sort order of queryInstances: createdAt, then instance ID. */
export function byCreatedThenId(a: InstanceRecord, b: InstanceRecord): number {
  return a.createdAt - b.createdAt || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0);
}

/** The row createInstance (or a child start) makes. */
export function newOrchestrationRow(instanceId: string, executionId: string, at: number, more: { name?: string; input?: string; parentInstanceId?: string } = {}): InstanceRecord {
  const r: InstanceRecord = { instanceId, kind: "orchestration", name: more.name ?? "Orch", executionId, runtimeStatus: "Pending", createdAt: at, lastUpdatedAt: at, historyLength: 0 };
  if (more.input !== undefined) r.input = more.input;
  if (more.parentInstanceId !== undefined) r.parentInstanceId = more.parentInstanceId;
  return r;
}

// ---- notifications ----

/** Records notifications and waits for one to arrive (at once for in-process providers). */
export interface Recorder<E> {
  events: E[];
  stop: () => void;
  until: (match: (e: E) => boolean, what: string) => Promise<void>;
}

function recorder<E>(subscribe: (push: (e: E) => void) => () => void): Recorder<E> {
  const events: E[] = [];
  const waiters: { match: (e: E) => boolean; resolve: () => void }[] = [];
  const stop = subscribe((e) => {
    events.push(e);
    for (const w of [...waiters]) if (w.match(e)) w.resolve();
  });
  const until = (match: (e: E) => boolean, what: string): Promise<void> => {
    if (events.some(match)) return Promise.resolve();
    // Providers whose notifications travel through the database (LISTEN/NOTIFY) deliver later; the
    // timer only fires when the notification never comes, and then the test fails.
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} notification; got ${JSON.stringify(events)}`)), 5_000);
      waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  };
  return { events, stop, until };
}

export type WorkRecorder = Recorder<[WorkKind, number]> & { untilWork: (kind: WorkKind, visibleAt: number) => Promise<void> };

export function recordWork(p: StorageProvider & { onWork: NonNullable<StorageProvider["onWork"]> }): WorkRecorder {
  const r = recorder<[WorkKind, number]>((push) => p.onWork((kind, at) => push([kind, at])));
  return { ...r, untilWork: (kind, at) => r.until(([k, a]) => k === kind && a === at, `onWork(${kind}, ${at})`) };
}

export type ChangeRecorder = Recorder<[string, OrchestrationRuntimeStatus]> & { untilChange: (instanceId: string, status: OrchestrationRuntimeStatus) => Promise<void> };

/**
 * Records onInstanceChange, and with each notification starts a read of the instance through
 * `reader` (another handle when there is one), to check the change was committed when announced.
 */
export function recordChanges(
  p: StorageProvider & { onInstanceChange: NonNullable<StorageProvider["onInstanceChange"]> },
  reader: StorageProvider,
): ChangeRecorder & { reads: Promise<[OrchestrationRuntimeStatus, OrchestrationRuntimeStatus | undefined]>[] } {
  const reads: Promise<[OrchestrationRuntimeStatus, OrchestrationRuntimeStatus | undefined]>[] = [];
  const r = recorder<[string, OrchestrationRuntimeStatus]>((push) =>
    p.onInstanceChange((id, status) => {
      reads.push(reader.getInstance(id).then((rec) => [status, rec?.runtimeStatus]));
      push([id, status]);
    }),
  );
  return { ...r, reads, untilChange: (id, status) => r.until(([i, s]) => i === id && s === status, `onInstanceChange(${id}, ${status})`) };
}

// ---- entities ----

/** An entity request as the runtime sends it (providers never look inside). */
export function entityOperation(target: string, op: string, t: number, input?: unknown): EntityOperationSignaledEvent {
  const e: EntityOperationSignaledEvent = { type: "EntityOperationSignaled", eventId: -1, timestamp: iso(t), requestId: `${op}-${t}`, targetInstanceId: target, operation: op };
  if (input !== undefined) e.input = JSON.stringify(input);
  return e;
}

/** A signal to an entity (a message of kind `entity`). */
export const signal = (target: string, op: string, t: number, input?: unknown, extras?: MessageExtras): OutgoingMessage => toEntity(target, entityOperation(target, op, t, input), extras);

/** The record an entity keeps in `entityState` (opaque to providers: any JSON text). */
export const entityRecord = (state: unknown): string => JSON.stringify({ exists: true, state: JSON.stringify(state), queue: [], released: [] });

/** The row a message to an unknown entity creates: kind entity, Running, named after the entity, no execution, no history. */
export function newEntityRow(instanceId: string, name: string, at: number): InstanceRecord {
  return { instanceId, kind: "entity", name, executionId: "", runtimeStatus: "Running", createdAt: at, lastUpdatedAt: at, historyLength: 0 };
}

/**
 * Starts `a` and `b` together, `a` first in even rounds and `b` first in odd ones: a store whose
 * methods run to completion once started (memory, SQLite) is then checked in both orders.
 */
export async function race<A, B>(round: number, a: () => Promise<A>, b: () => Promise<B>): Promise<[PromiseSettledResult<A>, PromiseSettledResult<B>]> {
  if (round % 2 === 0) {
    const [ra, rb] = await Promise.allSettled([a(), b()]);
    return [ra, rb];
  }
  const [rb, ra] = await Promise.allSettled([b(), a()]);
  return [ra, rb];
}

export function fulfilled<T>(r: PromiseSettledResult<T>, what: string): T {
  if (r.status === "rejected") assert.fail(`${what} threw: ${String(r.reason)}`);
  return r.value;
}

// ---- the instances.version migration ----

/**
 * Instances whose version lives only in their ExecutionStarted event, as a store written before the
 * `instances.version` column holds them: in history (running, finished, continued as new) or only in
 * the inbox (pending).
 */
export async function writeVersionedInstances(p: StorageProvider): Promise<void> {
  await create(p, "pending", { version: "2.0", now: T0 });
  await runTo(p, "running", "Running", { version: "1.0", now: T0 + 1 });
  await runTo(p, "done", "Completed", { version: "1.5", now: T0 + 2 });
  await runTo(p, "none", "Completed", { now: T0 + 3 });
  await create(p, "empty", { version: "", now: T0 + 4 });
  await p.sendMessages([signal("@counter@k", "x", T0 + 5)], T0 + 5);
}

/** What the migration must have read back into the column from those events. */
export async function assertVersionsBackfilled(p: StorageProvider): Promise<void> {
  const versions = Object.fromEntries((await allInstances(p)).map((r) => [r.instanceId, r.version ?? null]));
  assert.deepEqual(versions, { pending: "2.0", running: "1.0", done: "1.5", none: null, empty: null, "@counter@k": null });
  assert.deepEqual(ids(await allInstances(p, { version: "1.5" })), ["done"]);
}
