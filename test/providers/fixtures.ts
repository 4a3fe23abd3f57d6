/**
 * Builders and small helpers for the provider conformance suite. Everything here goes through the
 * StorageProvider interface only, so the suite runs unchanged against any backend. Time is always
 * a fixed number passed in as `now`: nothing reads the clock.
 */
import assert from "node:assert/strict";
import { LockLostError } from "../../src/core/errors.js";
import type { FailureDetails } from "../../src/core/failure.js";
import {
  HISTORY_FORMAT_VERSION,
  type CompletedStatus,
  type EventRaisedEvent,
  type ExecutionCompletedEvent,
  type ExecutionStartedEvent,
  type HistoryEvent,
  type ParentInstanceInfo,
  type TaskCompletedEvent,
  type TaskFailedEvent,
  type TaskScheduledEvent,
  type TimerFiredEvent,
} from "../../src/core/history.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../../src/core/status.js";
import type {
  ActivityWorkItem,
  CommitResult,
  CreateInstanceRequest,
  InstanceRecord,
  OrchestrationCommit,
  OrchestrationWorkItem,
  StorageProvider,
  WorkKind,
} from "../../src/providers/provider.js";

/** A fixed instant (2023-11-14T22:13:20Z); tests add offsets to it. */
export const T0 = 1_700_000_000_000;
export const LEASE = 30_000;
/** Far enough in the future that every message, timer and lease is visible or expired. */
export const FAR = T0 + 365 * 24 * 3600_000;

export const iso = (t: number): string => new Date(t).toISOString();

// ---- history events ----

export function startedEvent(
  instanceId: string,
  executionId: string,
  opts: { name?: string; input?: string; parent?: ParentInstanceInfo; at?: number; generation?: number } = {},
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
  return { type: "TaskFailed", eventId: -1, timestamp: iso(t), taskScheduledId, reason: failureDetails.message, failureDetails };
}

export function timerFired(timerId: number, fireAt: number): TimerFiredEvent {
  return { type: "TimerFired", eventId: -1, timestamp: iso(fireAt), timerId, fireAt: iso(fireAt) };
}

export function eventRaised(name: string, t: number, input?: string): EventRaisedEvent {
  const e: EventRaisedEvent = { type: "EventRaised", eventId: -1, timestamp: iso(t), name };
  if (input !== undefined) e.input = input;
  return e;
}

export function executionCompleted(status: CompletedStatus, t: number, result?: string, failureDetails?: FailureDetails): ExecutionCompletedEvent {
  const e: ExecutionCompletedEvent = { type: "ExecutionCompleted", eventId: -1, timestamp: iso(t), orchestrationStatus: status };
  if (result !== undefined) e.result = result;
  if (failureDetails !== undefined) e.failureDetails = failureDetails;
  return e;
}

/** A failure with every optional field set, nested: checks that storage keeps the structure. */
export const RICH_FAILURE: FailureDetails = {
  errorType: "TypeError",
  message: "boom: 'quotes' \"double\" ünïcödé 😀",
  stack: "TypeError: boom\n    at activity (file.ts:1:2)\n    at run (worker.ts:3:4)",
  code: "SOME_CODE",
  nonRetriable: true,
  innerFailure: { errorType: "RangeError", message: "inner", innerFailure: { errorType: "Error", message: "innermost" } },
};

// ---- provider operations ----

export interface CreateOptions {
  name?: string;
  executionId?: string;
  input?: string;
  now?: number;
  visibleAt?: number;
  parent?: ParentInstanceInfo;
}

export async function create(p: StorageProvider, instanceId: string, opts: CreateOptions = {}): Promise<CreateInstanceRequest> {
  const executionId = opts.executionId ?? `${instanceId}-exec-1`;
  const now = opts.now ?? T0;
  const ev: { name?: string; input?: string; parent?: ParentInstanceInfo; at: number } = { at: now };
  if (opts.name !== undefined) ev.name = opts.name;
  if (opts.input !== undefined) ev.input = opts.input;
  if (opts.parent !== undefined) ev.parent = opts.parent;
  const req: CreateInstanceRequest = { instanceId, name: opts.name ?? "Orch", executionId, startedEvent: startedEvent(instanceId, executionId, ev), now };
  if (opts.input !== undefined) req.input = opts.input;
  if (opts.visibleAt !== undefined) req.visibleAt = opts.visibleAt;
  await p.createInstance(req);
  return req;
}

export async function lockAll(p: StorageProvider, now: number, max = 1000, leaseMs = LEASE): Promise<OrchestrationWorkItem[]> {
  return p.lockOrchestrationWorkItems({ now, leaseMs, max });
}

/**
 * Locks `instanceId` (which must be ready at `now`) and releases every other instance the same call
 * happened to lock, leaving their messages visible.
 */
export async function lockOne(p: StorageProvider, instanceId: string, now: number, leaseMs = LEASE): Promise<OrchestrationWorkItem> {
  const items = await lockAll(p, now, 1000, leaseMs);
  let mine: OrchestrationWorkItem | undefined;
  for (const item of items) {
    if (item.instanceId === instanceId) mine = item;
    else await p.abandonOrchestrationWorkItem(item, 0, now);
  }
  assert.ok(mine, `instance '${instanceId}' should be ready at ${now}; locked: [${items.map((i) => i.instanceId).join(", ")}]`);
  return mine;
}

/**
 * The messages queued for `instanceId` that are visible at `now`, read by locking and then
 * abandoning the instance (retry 0). Returns undefined when the instance is not ready. Side effect:
 * every instance ready at `now` is locked and released, and its visible messages are pushed to
 * `now` (abandon's visibility) and any lease expired by `now` is broken, so peek at the test's current
 * time, or at FAR only as the last look at the store.
 */
export async function peekMessages(p: StorageProvider, instanceId: string, now: number): Promise<OrchestrationWorkItem["messages"] | undefined> {
  const items = await lockAll(p, now);
  let found: OrchestrationWorkItem["messages"] | undefined;
  for (const item of items) {
    if (item.instanceId === instanceId) found = item.messages;
    await p.abandonOrchestrationWorkItem(item, 0, now);
  }
  return found;
}

/** The events visible for `instanceId` at `now` (empty when none). */
export async function peekEvents(p: StorageProvider, instanceId: string, now: number): Promise<HistoryEvent[]> {
  return ((await peekMessages(p, instanceId, now)) ?? []).map((m) => m.message.event);
}

export interface CommitOptions extends Partial<Omit<OrchestrationCommit, "item" | "instance">> {
  status?: OrchestrationRuntimeStatus;
  instance?: Partial<OrchestrationCommit["instance"]>;
}

/** A commit for `item`: consumes all its messages and keeps the row as it is (status Running) unless told otherwise. */
export function commitFor(item: OrchestrationWorkItem, opts: CommitOptions = {}): OrchestrationCommit {
  const { status, instance, ...rest } = opts;
  const base: OrchestrationCommit["instance"] = { runtimeStatus: status ?? "Running", executionId: item.instance.executionId, name: item.instance.name };
  if (item.instance.input !== undefined) base.input = item.instance.input;
  return {
    item,
    replaceHistory: false,
    newHistory: [],
    consumedMessageIds: item.messages.map((m) => m.id),
    activityTasks: [],
    messages: [],
    ...rest,
    instance: { ...base, ...instance },
  };
}

export async function commitOne(p: StorageProvider, commit: OrchestrationCommit, now: number): Promise<CommitResult> {
  const results = await p.completeOrchestrationWorkItems([commit], now);
  assert.equal(results.length, 1);
  return results[0]!;
}

export async function commitOk(p: StorageProvider, commit: OrchestrationCommit, now: number): Promise<void> {
  const r = await commitOne(p, commit, now);
  assert.ok(r.ok, `commit of '${commit.item.instanceId}' should succeed: ${r.ok ? "" : r.error.message}`);
}

export function assertLockLost(r: CommitResult | undefined, what = "commit"): void {
  assert.ok(r, `${what}: a result`);
  assert.equal(r.ok, false, `${what} should be refused`);
  if (r.ok) return;
  assert.ok(r.error instanceof LockLostError, `${what}: error is a LockLostError (got ${String(r.error)})`);
  assert.equal(r.error.code, "LOCK_LOST", `${what}: error code`);
}

/** The standard first-step history of an execution. */
export function firstStepHistory(started: ExecutionStartedEvent, now: number, more: HistoryEvent[] = []): HistoryEvent[] {
  return [orchestratorStarted(now), started, ...more, orchestratorCompleted(now)];
}

/**
 * Creates an instance and runs one step that leaves it in `status` (with a history of the
 * first step, plus ExecutionCompleted for terminal statuses). Returns the create request.
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

export async function lockActivities(p: StorageProvider, now: number, max = 1000, leaseMs = LEASE): Promise<ActivityWorkItem[]> {
  return p.lockActivityWorkItems({ now, leaseMs, max });
}

/** Every instance the provider holds, read through paging. */
export async function allInstances(p: StorageProvider, query: Parameters<StorageProvider["queryInstances"]>[0] = {}): Promise<InstanceRecord[]> {
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

// ---- onWork ----

export interface WorkRecorder {
  events: [WorkKind, number][];
  stop: () => void;
  /** Resolves once a matching notification arrived (at once for in-process providers). */
  until: (kind: WorkKind, visibleAt: number) => Promise<void>;
}

export function recordWork(p: StorageProvider & { onWork: NonNullable<StorageProvider["onWork"]> }): WorkRecorder {
  const events: [WorkKind, number][] = [];
  const waiters: { match: (k: WorkKind, at: number) => boolean; resolve: () => void }[] = [];
  const stop = p.onWork((kind, at) => {
    events.push([kind, at]);
    for (const w of [...waiters]) if (w.match(kind, at)) w.resolve();
  });
  const until = (kind: WorkKind, visibleAt: number): Promise<void> => {
    const match = (k: WorkKind, at: number): boolean => k === kind && at === visibleAt;
    if (events.some(([k, at]) => match(k, at))) return Promise.resolve();
    // Providers whose notifications travel through the database (LISTEN/NOTIFY) deliver later;
    // the timer only fires when the notification never comes, and then the test fails.
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no onWork(${kind}, ${visibleAt}) notification; got ${JSON.stringify(events)}`)), 5_000);
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

// ---- entities ----

/**
 * A message for an entity, as the runtime sends them: an EventRaised named `op` whose input is the
 * operation envelope. Providers never look inside; the shape only has to be realistic.
 */
export function entityOperation(op: string, t: number, input?: unknown): EventRaisedEvent {
  const envelope: { id: string; op: string; signal: boolean; input?: string } = { id: `${op}-${t}`, op, signal: true };
  if (input !== undefined) envelope.input = JSON.stringify(input);
  return eventRaised("op", t, JSON.stringify(envelope));
}

/** The record an entity keeps in `entityState` (opaque to providers: any JSON text). */
export const entityRecord = (state: unknown): string => JSON.stringify({ exists: true, state: JSON.stringify(state), queue: [], released: [] });

/** The row a message to an unknown entity creates: Running, named after the entity, no execution and no history. */
export function newEntityRow(instanceId: string, name: string, at: number): InstanceRecord {
  return { instanceId, name, executionId: "", runtimeStatus: "Running", createdAt: at, lastUpdatedAt: at, historyLength: 0 };
}
