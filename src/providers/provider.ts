import type { FailureDetails } from "../core/failure.js";
import type { ExecutionStartedEvent, HistoryEvent, TaskCompletedEvent, TaskFailedEvent } from "../core/history.js";
import type { OrchestrationMessage, OutgoingMessage } from "../core/messages.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";

/**
 * The storage contract. Everything above this file talks to storage only through it, so memory,
 * SQLite and PostgreSQL are interchangeable. It is shaped around work items: a worker locks the next
 * instance that has visible messages (or the next activity task), processes it, and completes it in
 * ONE transaction that is refused when the lease token no longer matches. Time always comes in as
 * `now` (ms since epoch) so tests can drive a manual clock; nothing here reads the clock itself.
 *
 * Several processes may call one provider's storage at once (PostgreSQL scale-out): every method must
 * be safe under that, and leases are the only coordination.
 */
export interface StorageProvider {
  /** Creates or migrates the schema. Idempotent. */
  initialize(): Promise<void>;
  close(): Promise<void>;

  // ---- client side ----
  /**
   * Creates an instance (status Pending) and enqueues its ExecutionStarted message. An existing
   * instance in a terminal state is replaced (its history, messages and tasks deleted); one that is
   * Pending/Running/Suspended/ContinuedAsNew raises InstanceAlreadyExistsError and nothing changes.
   */
  createInstance(request: CreateInstanceRequest): Promise<void>;
  /**
   * Enqueues messages for existing instances (raise event, terminate, suspend, resume, rewind).
   * Unknown instance → InstanceNotFoundError, nothing written. Entities (IDs `@name@key`) exist as
   * soon as they get a message: a message to an unknown entity creates its row (status Running).
   */
  sendMessages(messages: readonly OutgoingMessage[], now: number): Promise<void>;

  // ---- orchestration work ----
  /** Leases up to `max` unlocked instances that have a visible message, with those messages. */
  lockOrchestrationWorkItems(request: LockRequest): Promise<OrchestrationWorkItem[]>;
  /** Commits each item's step atomically; items are independent (one lost lease does not refuse another). */
  completeOrchestrationWorkItems(commits: readonly OrchestrationCommit[], now: number): Promise<CommitResult[]>;
  /** Releases the lease without consuming messages; they become visible again after `retryAfterMs`. */
  abandonOrchestrationWorkItem(item: OrchestrationWorkItem, retryAfterMs: number, now: number): Promise<void>;
  /** Extends leases still held; returns false for those that were lost. */
  renewOrchestrationWorkItems(items: readonly OrchestrationWorkItem[], leaseMs: number, now: number): Promise<boolean[]>;
  /** The current execution's history, oldest first. */
  getHistory(instanceId: string): Promise<HistoryEvent[]>;

  // ---- activity work ----
  lockActivityWorkItems(request: LockRequest): Promise<ActivityWorkItem[]>;
  /** Deletes each task and enqueues its TaskCompleted/TaskFailed to the orchestration, atomically per item. */
  completeActivityWorkItems(results: readonly ActivityResult[], now: number): Promise<CommitResult[]>;
  abandonActivityWorkItem(item: ActivityWorkItem, retryAfterMs: number, now: number): Promise<void>;
  renewActivityWorkItems(items: readonly ActivityWorkItem[], leaseMs: number, now: number): Promise<boolean[]>;

  // ---- queries and maintenance ----
  getInstance(instanceId: string): Promise<InstanceRecord | undefined>;
  queryInstances(query: InstanceQuery): Promise<InstancePage>;
  /** Deletes the instance with its history, messages and tasks. Returns 0 or 1. */
  purgeInstance(instanceId: string): Promise<number>;
  /** Deletes matching instances in a terminal state; returns how many. */
  purgeInstances(filter: PurgeFilter): Promise<number>;
  /** Earliest time after `now` at which a message or task becomes visible, for timer wake-ups. */
  nextVisibleAt(now: number): Promise<number | undefined>;

  /** Optional push notification of new work written by this process (or, for PostgreSQL, any process). */
  onWork?(listener: (kind: WorkKind, visibleAt: number) => void): () => void;
}

export type WorkKind = "orchestration" | "activity";

export interface InstanceRecord {
  instanceId: string;
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
  createdAt: number;
  lastUpdatedAt: number;
  /** Number of history events of the current execution (cache validation for workers). */
  historyLength: number;
  /** Entities only: the entity's stored record (state, lock, queued requests), JSON text. */
  entityState?: string;
}

export interface CreateInstanceRequest {
  instanceId: string;
  name: string;
  executionId: string;
  input?: string;
  startedEvent: ExecutionStartedEvent;
  now: number;
  /** Start later: the ExecutionStarted message becomes visible at this time. */
  visibleAt?: number;
}

export type { OrchestrationMessage, OutgoingMessage } from "../core/messages.js";

export interface LockRequest {
  now: number;
  leaseMs: number;
  max: number;
}

export interface QueuedMessage {
  /** Provider-specific identity, used to delete consumed messages. */
  id: number;
  message: OrchestrationMessage;
}

export interface OrchestrationWorkItem {
  instanceId: string;
  lockToken: string;
  lockedUntil: number;
  instance: InstanceRecord;
  messages: QueuedMessage[];
}

export interface InstanceUpdate {
  runtimeStatus: OrchestrationRuntimeStatus;
  executionId: string;
  name: string;
  /** Undefined clears the field. */
  input?: string;
  output?: string;
  customStatus?: string;
  failureDetails?: FailureDetails;
  /** Entities only: the new entity record. */
  entityState?: string;
  /** Keep this last-update time instead of the commit's `now` (a step that changed nothing visible). */
  lastUpdatedAt?: number;
}

export interface ActivityTaskRequest {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input?: string;
}

export interface OrchestrationCommit {
  item: OrchestrationWorkItem;
  /** Drop the stored history first (continueAsNew: a fresh history; rewind: a rewritten one). */
  replaceHistory: boolean;
  /** Events to append (or, with replaceHistory, the whole new history). */
  newHistory: HistoryEvent[];
  /** Ids of the messages this step consumed. */
  consumedMessageIds: number[];
  instance: InstanceUpdate;
  activityTasks: ActivityTaskRequest[];
  /**
   * Messages to this or other instances: timers (to self, with visibleAt), carried-over events,
   * sub-orchestration starts (ExecutionStarted to another instance creates it, or replaces it if it is
   * terminal; if it is still running the parent gets a SubOrchestrationInstanceFailed instead), and
   * completions sent to a parent. Messages for instances that do not exist are dropped, except for
   * entities, which are created by their first message.
   */
  messages: OutgoingMessage[];
  /**
   * Entities: delete the instance row in the same transaction if no message is left for it (an
   * empty entity leaves nothing behind; one that got a message meanwhile is kept).
   */
  deleteIfIdle?: boolean;
}

export type CommitResult = { ok: true } | { ok: false; error: Error };

export interface ActivityWorkItem {
  id: number;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input?: string;
  lockToken: string;
  lockedUntil: number;
  /** How many times this task has been handed to a worker, this time included. */
  dequeueCount: number;
}

export interface ActivityResult {
  item: ActivityWorkItem;
  event: TaskCompletedEvent | TaskFailedEvent;
}

export interface InstanceQuery {
  /** Orchestrations only, entities only, or both (default). */
  kind?: "orchestration" | "entity";
  runtimeStatus?: OrchestrationRuntimeStatus[];
  /** Inclusive bounds on lastUpdatedAt (an entity's last operation time). */
  lastUpdatedFrom?: number;
  lastUpdatedTo?: number;
  createdFrom?: number;
  createdTo?: number;
  instanceIdPrefix?: string;
  /** Default 100. */
  pageSize?: number;
  continuationToken?: string;
}

export interface InstancePage {
  instances: InstanceRecord[];
  /** Absent on the last page. */
  continuationToken?: string;
}

export interface PurgeFilter {
  createdFrom: number;
  createdTo?: number;
  runtimeStatus?: OrchestrationRuntimeStatus[];
}

export const TERMINAL_STATUSES: readonly OrchestrationRuntimeStatus[] = ["Completed", "Failed", "Terminated", "Canceled"];
