import type { HistoryEvent } from "../core/history.js";
import type { EntityId } from "../core/entity-id.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { CleanEntityStorageResult } from "./durable-client.js";
import type { HttpEndpoint } from "./http-helpers.js";
import type { StatusPayload } from "./wire.js";

/** A query of instances, already validated by the client core. */
export interface InstanceListQuery {
  runtimeStatus?: OrchestrationRuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  /** The orchestrator function's name, case-insensitive. */
  name?: string;
  /** The orchestration version, exactly. */
  version?: string;
  pageSize: number;
  continuationToken?: string;
  showInput: boolean;
}

/** The filters of a count of orchestration instances per status. */
export interface InstanceCountQuery {
  runtimeStatus?: OrchestrationRuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  /** The orchestrator function's name, case-insensitive. */
  name?: string;
  /** The orchestration version, exactly. */
  version?: string;
}

export interface EntityListQuery {
  entityName?: string;
  lastOperationTimeFrom?: Date;
  lastOperationTimeTo?: Date;
  pageSize: number;
  continuationToken?: string;
  fetchState: boolean;
}

/** One row of an entity list, as the management API returns it. */
export interface EntityRow {
  entityId: { name: string; key: string };
  /** `yyyy-MM-ddTHH:mm:ssZ`. */
  lastOperationTime: string;
  state?: unknown;
}

export type ControlOperation = "terminate" | "suspend" | "resume" | "rewind";

/** Waits for news of one instance: in process the commit wakes it, over HTTP it simply waits. */
export interface InstanceWatch {
  /** True when a change wakes `next` (in process); false when `next` only waits (over HTTP). */
  readonly pushes: boolean;
  /** Resolves when the instance changed since the previous call (or the watch began), else after `timeoutMs`. */
  next(timeoutMs: number): Promise<void>;
  close(): void;
}

/**
 * How a client reaches a host: over a storage provider in this process, or over the HTTP management
 * API. The client core (client-core.ts) holds validation, waiting, paging and the shapes callers see;
 * a transport only moves requests and wire payloads, and reports problems with the typed errors of
 * core/errors.ts (the same code whichever transport raised it).
 */
export interface ClientTransport {
  /** Where the host's management API is, for the management URLs. */
  endpoint(): HttpEndpoint;
  /** Starts an orchestration (InstanceAlreadyExistsError, FunctionNotFoundError); returns its ID. Version undefined: the host's. */
  startNew(name: string, instanceId: string | undefined, input: string | undefined, version?: string): Promise<string>;
  /** The status payload, or undefined for an unknown instance. */
  getStatus(instanceId: string, options: { showHistory: boolean; showHistoryOutput: boolean; showInput: boolean }): Promise<StatusPayload | undefined>;
  /** A page of an orchestration's stored history (the current execution), from position `from`; undefined: no such instance. */
  historyPage(instanceId: string, from: number, limit: number): Promise<HistoryEvent[] | undefined>;
  listInstances(query: InstanceListQuery): Promise<{ rows: StatusPayload[]; continuationToken?: string }>;
  /** Orchestration instances per runtime status (statuses with none may be absent). */
  countInstances(query: InstanceCountQuery): Promise<Partial<Record<OrchestrationRuntimeStatus, number>>>;
  /** InstanceNotFoundError for an unknown instance; an event for a finished one is discarded. */
  raiseEvent(instanceId: string, eventName: string, input: string | undefined): Promise<void>;
  /**
   * terminate/suspend/resume: a finished instance is left alone; suspend of a suspended and resume of
   * a running instance are InvalidInstanceStateError. rewind: a Failed instance is rewound, a parked
   * one retried at once; others are InvalidInstanceStateError.
   */
  control(instanceId: string, operation: ControlOperation, reason: string): Promise<void>;
  /** Starts the orchestrator again with the instance's input; returns the (new) instance ID. */
  restart(instanceId: string, newInstanceId: boolean): Promise<string>;
  purge(instanceId: string): Promise<number>;
  purgeBy(filter: { createdTimeFrom: Date; createdTimeTo?: Date; runtimeStatus?: OrchestrationRuntimeStatus[] }): Promise<number>;
  signalEntity(entityId: EntityId, operationName: string, input: string | undefined, signalTime: Date | undefined): Promise<void>;
  readEntityState(entityId: EntityId): Promise<{ entityExists: boolean; entityState?: unknown }>;
  listEntities(query: EntityListQuery): Promise<{ rows: EntityRow[]; continuationToken?: string }>;
  cleanEntityStorage(): Promise<CleanEntityStorageResult>;
  watch(instanceId: string): InstanceWatch;
}
