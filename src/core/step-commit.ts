import type { FailureDetails } from "./failure.js";
import type { HistoryEvent } from "./history.js";
import type { MessageMetadata, OutgoingMessage } from "./messages.js";
import type { OrchestrationRuntimeStatus } from "./status.js";

/** An activity call a step schedules. */
export interface ActivityTaskRequest {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input?: string;
  metadata?: MessageMetadata;
}

/** The instance row after a step. */
export interface InstanceUpdate {
  runtimeStatus: OrchestrationRuntimeStatus;
  executionId: string;
  name: string;
  /** Undefined clears the field. */
  input?: string;
  output?: string;
  customStatus?: string;
  failureDetails?: FailureDetails;
  /** Entities only: the new entity record (JSON text). */
  entityState?: string;
  /** Keep this last-update time instead of the commit's `now` (a step that changed nothing visible). */
  lastUpdatedAt?: number;
}

/**
 * Everything one orchestration or entity step decided, as data: what to append to history, the new
 * instance row, the activity tasks and messages it emits. A provider writes it in one transaction.
 */
export interface StepCommit {
  /** Drop the stored history first (continueAsNew: a fresh history; rewind: a rewritten one). */
  replaceHistory: boolean;
  /** Events to append (or, with replaceHistory, the whole new history). */
  newHistory: HistoryEvent[];
  instance: InstanceUpdate;
  activityTasks: ActivityTaskRequest[];
  messages: OutgoingMessage[];
  /**
   * Entities: delete the instance row in the same transaction if no message is left for it (an
   * empty entity leaves nothing behind; one that got a message meanwhile is kept).
   */
  deleteIfIdle?: boolean | undefined;
}
