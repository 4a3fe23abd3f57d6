import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { DurableOrchestrationStatus, GetStatusOptions } from "./status.js";

export interface StartNewOptions {
  instanceId?: string;
  input?: unknown;
}

export interface OrchestrationFilter {
  runtimeStatus?: OrchestrationRuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  /** Include each instance's input (default true). */
  showInput?: boolean;
}

export interface PageRequest extends OrchestrationFilter {
  /** Default 100, at most 1,000. */
  pageSize?: number;
  continuationToken?: string;
}

export interface StatusPage {
  instances: DurableOrchestrationStatus[];
  /** Absent on the last page. */
  continuationToken?: string;
}

export interface PurgeHistoryResult {
  instancesDeleted: number;
}

export interface PurgeFilterOptions {
  createdTimeFrom: Date;
  createdTimeTo?: Date;
  runtimeStatus?: OrchestrationRuntimeStatus[];
}

export interface WaitOptions {
  /** Default 60 s. */
  timeoutInMilliseconds?: number;
  /** Default 50 ms. */
  pollIntervalInMilliseconds?: number;
}

export interface RestartOptions {
  /** Default true: the restarted run gets a new instance ID. */
  restartWithNewInstanceId?: boolean;
}

/** The durable-functions DurableClient surface (orchestration part), in process or over HTTP. */
export interface DurableClient {
  startNew(orchestratorFunctionName: string, options?: StartNewOptions): Promise<string>;
  /** Throws InstanceNotFoundError for an unknown ID (as durable-functions does on 404). */
  getStatus(instanceId: string, options?: GetStatusOptions): Promise<DurableOrchestrationStatus>;
  getStatusAll(): Promise<DurableOrchestrationStatus[]>;
  /** Every matching instance (follows all pages). */
  getStatusBy(filter: OrchestrationFilter): Promise<DurableOrchestrationStatus[]>;
  /** One page of matching instances, with a continuation token for the next. */
  listInstances(request: PageRequest): Promise<StatusPage>;
  raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void>;
  terminate(instanceId: string, reason: string): Promise<void>;
  suspend(instanceId: string, reason: string): Promise<void>;
  resume(instanceId: string, reason: string): Promise<void>;
  rewind(instanceId: string, reason: string): Promise<void>;
  /** Starts the orchestrator again with the original input; returns the (new) instance ID. */
  restart(instanceId: string, options?: RestartOptions): Promise<string>;
  purgeInstanceHistory(instanceId: string): Promise<PurgeHistoryResult>;
  purgeInstanceHistoryBy(filter: PurgeFilterOptions): Promise<PurgeHistoryResult>;
  /** Resolves with the final status once the instance is Completed, Failed, Terminated or Canceled. */
  waitForCompletion(instanceId: string, options?: WaitOptions): Promise<DurableOrchestrationStatus>;
}
