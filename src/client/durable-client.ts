import type { HttpResponse } from "../runtime/http-messages.js";
import type { EntityId } from "../core/entity-id.js";
import type { OperationInput, OperationName, OperationsOf, RegisteredOrchestration, StateOf } from "../core/registered-types.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { HttpManagementPayload } from "./management-urls.js";
import type { DurableOrchestrationStatus, GetStatusOptions } from "./status.js";

export interface StartNewOptions<TInput = unknown> {
  instanceId?: string;
  input?: TInput;
  /** The instance's version (`context.df.version`); default: the host's version. */
  version?: string;
}

/** A typed signal's input (optional when the operation may take undefined) and its options. */
export type TypedSignalArgs<TOperations, K extends keyof TOperations> =
  undefined extends OperationInput<TOperations[K]>
    ? [operationInput?: OperationInput<TOperations[K]>, options?: SignalEntityOptions]
    : [operationInput: OperationInput<TOperations[K]>, options?: SignalEntityOptions];

/** The options of a start by handle: `input` is required when the orchestration's input may not be undefined. */
export type TypedStartOptions<TInput> = undefined extends TInput ? [options?: StartNewOptions<TInput>] : [options: StartNewOptions<TInput> & { input: TInput }];

export interface OrchestrationFilter {
  runtimeStatus?: OrchestrationRuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  /** Perdure's own: only instances of this orchestrator function (case-insensitive). */
  name?: string;
  /** Perdure's own: only instances started with exactly this orchestration version (`context.df.version`). */
  version?: string;
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

export interface WaitOrCheckStatusOptions {
  /** Default 10 s. */
  timeoutInMilliseconds?: number;
  /** Default 1 s; must not exceed the timeout. */
  retryIntervalInMilliseconds?: number;
}

/**
 * A read entity's state. A class, as in durable-functions (`new df.EntityStateResponse(true, 3)` in
 * tests); the clients answer with plain objects of this shape.
 */
export class EntityStateResponse<T = unknown> {
  entityExists: boolean;
  entityState?: T;
  constructor(entityExists: boolean, entityState?: T) {
    this.entityExists = entityExists;
    if (entityState !== undefined) this.entityState = entityState;
  }
}

export interface EntityQuery {
  /** Only entities of this name (case-insensitive). */
  entityName?: string;
  lastOperationTimeFrom?: Date;
  lastOperationTimeTo?: Date;
  /** Default 100, at most 1,000. */
  pageSize?: number;
  continuationToken?: string;
  /** Include each entity's state (default false). */
  fetchState?: boolean;
}

export interface EntityMetadata {
  entityId: EntityId;
  lastOperationTime: Date;
  state?: unknown;
}

export interface EntityPage {
  entities: EntityMetadata[];
  continuationToken?: string;
}

export interface CleanEntityStorageResult {
  numberOfEmptyEntitiesRemoved: number;
  numberOfOrphanedLocksRemoved: number;
}

export interface SignalEntityOptions {
  /** Deliver the operation at this time instead of now. */
  signalTime?: Date;
}

/** The durable-functions DurableClient surface, in process or over HTTP. */
export interface DurableClient {
  /** By name, or by the handle `df.app.orchestration` returned (then the input is typed). */
  startNew<TInput, TOutput>(orchestration: RegisteredOrchestration<TInput, TOutput>, ...options: TypedStartOptions<TInput>): Promise<string>;
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
  /** Starts the orchestrator again with the current execution's input; returns the (new) instance ID. */
  restart(instanceId: string, options?: RestartOptions): Promise<string>;
  purgeInstanceHistory(instanceId: string): Promise<PurgeHistoryResult>;
  purgeInstanceHistoryBy(filter: PurgeFilterOptions): Promise<PurgeHistoryResult>;
  /** Resolves with the final status once the instance is Completed, Failed, Terminated or Canceled. */
  waitForCompletion(instanceId: string, options?: WaitOptions): Promise<DurableOrchestrationStatus>;

  /**
   * The management URLs of an instance. Built from the request's origin when one is given,
   * otherwise from the host's own URL; they carry the key when the host has one.
   */
  createHttpManagementPayload(instanceId: string, request?: Request): HttpManagementPayload;
  /** `202 Accepted` with the management payload, `Location` (status URL) and `Retry-After: 10`. */
  createCheckStatusResponse(request: Request | undefined, instanceId: string): HttpResponse;
  /**
   * Waits up to the timeout: Completed → 200 with the output; Terminated/Canceled → 200 with the
   * status; Failed → 500 with the status; still running → the 202 check-status response.
   */
  waitForCompletionOrCreateCheckStatusResponse(request: Request | undefined, instanceId: string, options?: WaitOrCheckStatusOptions): Promise<HttpResponse>;

  /** Sends a one-way operation to an entity (created by its first operation); checked through a typed ID (`handle.id(key)`). */
  signalEntity<I extends EntityId, K extends OperationName<OperationsOf<I>>>(entityId: I, operationName: K, ...args: TypedSignalArgs<OperationsOf<I>, K>): Promise<void>;
  /** The entity's last committed state: typed through a typed ID, or as the type argument says. */
  readEntityState<T = unknown, I extends EntityId = EntityId>(entityId: I): Promise<EntityStateResponse<StateOf<I, T>>>;
  /** One page of existing entities. */
  listEntities(query?: EntityQuery): Promise<EntityPage>;
  /** Releases locks whose orchestration is gone and removes entities left empty. */
  cleanEntityStorage(): Promise<CleanEntityStorageResult>;
}
