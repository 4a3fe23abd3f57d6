import { randomUUID } from "node:crypto";
import { FunctionNotFoundError, InstanceNotFoundError, InvalidArgumentError, InvalidInstanceStateError, WaitTimeoutError } from "../core/errors.js";
import { EntityId } from "../core/entity-id.js";
import { ENTITY_CLEANUP_EVENT, ENTITY_OPERATION_EVENT, ENTITY_RELEASE_EVENT, type OperationMessage, type ReleaseMessage } from "../core/entity-messages.js";
import { isEmptyEntity, readEntityRecord } from "../core/entity-record.js";
import { rewindBlocker } from "../core/rewind.js";
import { HISTORY_FORMAT_VERSION, type ExecutionStartedEvent, type HistoryEvent } from "../core/history.js";
import { parsePayload } from "../core/payload.js";
import { serializePayload } from "../core/payload.js";
import { ALL_RUNTIME_STATUSES, isTerminalStatus } from "../core/status.js";
import type { InstanceRecord, OutgoingMessage, StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import type {
  DurableClient,
  OrchestrationFilter,
  PageRequest,
  PurgeFilterOptions,
  PurgeHistoryResult,
  RestartOptions,
  StartNewOptions,
  StatusPage,
  WaitOptions,
  WaitOrCheckStatusOptions,
  CleanEntityStorageResult,
  EntityMetadata,
  EntityPage,
  EntityQuery,
  EntityStateResponse,
  SignalEntityOptions,
} from "./durable-client.js";
import { createCheckStatus, type HttpEndpoint, httpManagementPayload, waitOrCheckStatus } from "./http-helpers.js";
import { DEFAULT_TASK_HUB, type HttpManagementPayload } from "./management-urls.js";
import { validateEventName, validateInstanceId } from "../core/instance-id.js";
import { type DurableOrchestrationStatus, type GetStatusOptions, toHistoryView, toStatus } from "./status.js";

/** The client over a provider in this process. */
export class LocalDurableClient implements DurableClient {
  constructor(
    private readonly provider: StorageProvider,
    private readonly clock: Clock,
    /** When given, startNew refuses orchestrator names this app does not define. */
    private readonly registry?: FunctionRegistry,
    /** Where the host's management API is, for the URL helpers. */
    private readonly endpoint: () => HttpEndpoint = () => ({ origin: undefined, key: undefined, taskHub: DEFAULT_TASK_HUB }),
  ) {}

  createHttpManagementPayload(instanceId: string, request?: Request): HttpManagementPayload {
    return httpManagementPayload(this.endpoint(), instanceId, request);
  }

  createCheckStatusResponse(request: Request | undefined, instanceId: string): Response {
    return createCheckStatus(this.endpoint(), request, instanceId);
  }

  waitForCompletionOrCreateCheckStatusResponse(request: Request | undefined, instanceId: string, options?: WaitOrCheckStatusOptions): Promise<Response> {
    return waitOrCheckStatus(this, this.endpoint(), request, instanceId, options);
  }

  async startNew(orchestratorFunctionName: string, options: StartNewOptions = {}): Promise<string> {
    if (typeof orchestratorFunctionName !== "string" || orchestratorFunctionName === "") throw new InvalidArgumentError("orchestratorFunctionName must be a valid string.");
    let name = orchestratorFunctionName;
    if (this.registry) {
      const fn = this.registry.getOrchestration(orchestratorFunctionName);
      if (!fn) throw new FunctionNotFoundError("orchestrator", orchestratorFunctionName, this.registry.orchestrationNames());
      name = fn.name;
    }
    const instanceId = options.instanceId === undefined ? randomUUID().replace(/-/g, "") : validateInstanceId(options.instanceId);
    const input = serializePayload(options.input, "The orchestration input");
    const now = this.clock.now();
    const executionId = randomUUID().replace(/-/g, "");
    const startedEvent: ExecutionStartedEvent = {
      type: "ExecutionStarted",
      eventId: -1,
      timestamp: new Date(now).toISOString(),
      name,
      instanceId,
      executionId,
      generation: 0,
      historyFormatVersion: HISTORY_FORMAT_VERSION,
    };
    if (input !== undefined) startedEvent.input = input;
    await this.provider.createInstance(input === undefined ? { instanceId, name, executionId, startedEvent, now } : { instanceId, name, executionId, input, startedEvent, now });
    return instanceId;
  }

  private async require(instanceId: string): Promise<InstanceRecord> {
    validateInstanceId(instanceId);
    const r = await this.provider.getInstance(instanceId);
    if (!r) throw new InstanceNotFoundError(instanceId);
    return r;
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<DurableOrchestrationStatus> {
    const r = await this.require(instanceId);
    const showInput = options.showInput ?? true;
    const status = toStatus(r, showInput);
    if (options.showHistory) status.history = toHistoryView(await this.provider.getHistory(instanceId), showInput, options.showHistoryOutput ?? false);
    return status;
  }

  async getStatusAll(): Promise<DurableOrchestrationStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(filter: OrchestrationFilter): Promise<DurableOrchestrationStatus[]> {
    const all: DurableOrchestrationStatus[] = [];
    let token: string | undefined;
    do {
      const page: StatusPage = await this.listInstances(token === undefined ? { ...filter, pageSize: 1000 } : { ...filter, pageSize: 1000, continuationToken: token });
      all.push(...page.instances);
      token = page.continuationToken;
    } while (token);
    return all;
  }

  async listInstances(request: PageRequest): Promise<StatusPage> {
    const statuses = request.runtimeStatus;
    if (statuses) {
      for (const s of statuses) {
        if (!ALL_RUNTIME_STATUSES.includes(s)) throw new InvalidArgumentError(`Unknown runtime status '${String(s)}'. Use one of: ${ALL_RUNTIME_STATUSES.join(", ")}.`);
      }
    }
    const query: Parameters<StorageProvider["queryInstances"]>[0] = { kind: "orchestration" };
    if (statuses) query.runtimeStatus = statuses;
    if (request.createdTimeFrom) query.createdFrom = dateMs(request.createdTimeFrom, "createdTimeFrom");
    if (request.createdTimeTo) query.createdTo = dateMs(request.createdTimeTo, "createdTimeTo");
    if (request.instanceIdPrefix !== undefined) query.instanceIdPrefix = request.instanceIdPrefix;
    if (request.pageSize !== undefined) query.pageSize = request.pageSize;
    if (request.continuationToken !== undefined) query.continuationToken = request.continuationToken;
    const page = await this.provider.queryInstances(query);
    const showInput = request.showInput ?? true;
    const out: StatusPage = { instances: page.instances.map((r) => toStatus(r, showInput)) };
    if (page.continuationToken) out.continuationToken = page.continuationToken;
    return out;
  }

  private async send(instanceId: string, event: HistoryEvent): Promise<void> {
    await this.provider.sendMessages([{ instanceId, message: { event } }], this.clock.now());
  }

  private ts(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Events for a finished instance are discarded (durable-functions treats that 410 as success). */
  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    validateEventName(eventName);
    const r = await this.require(instanceId);
    if (isTerminalStatus(r.runtimeStatus)) return;
    const input = serializePayload(eventData, `The data of event '${eventName}'`);
    await this.send(instanceId, { type: "EventRaised", eventId: -1, timestamp: this.ts(), name: eventName, ...(input === undefined ? {} : { input }) });
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    const r = await this.require(instanceId);
    if (isTerminalStatus(r.runtimeStatus)) return;
    const input = serializePayload(reason ?? "", "The terminate reason");
    await this.send(instanceId, { type: "ExecutionTerminated", eventId: -1, timestamp: this.ts(), ...(input === undefined ? {} : { input }) });
  }

  async suspend(instanceId: string, reason: string): Promise<void> {
    const r = await this.require(instanceId);
    if (isTerminalStatus(r.runtimeStatus)) return;
    if (r.runtimeStatus === "Suspended") {
      throw new InvalidInstanceStateError(`Cannot suspend the orchestration instance ${instanceId} because instance is in the ${r.runtimeStatus} state.`);
    }
    await this.send(instanceId, { type: "ExecutionSuspended", eventId: -1, timestamp: this.ts(), ...(reason ? { reason } : {}) });
  }

  async resume(instanceId: string, reason: string): Promise<void> {
    const r = await this.require(instanceId);
    if (isTerminalStatus(r.runtimeStatus)) return;
    if (r.runtimeStatus !== "Suspended") {
      throw new InvalidInstanceStateError(`Cannot resume the orchestration instance ${instanceId} because instance is in the ${r.runtimeStatus} state.`);
    }
    await this.send(instanceId, { type: "ExecutionResumed", eventId: -1, timestamp: this.ts(), ...(reason ? { reason } : {}) });
  }

  async rewind(instanceId: string, reason: string): Promise<void> {
    const r = await this.require(instanceId);
    if (r.runtimeStatus !== "Failed") {
      throw new InvalidInstanceStateError(`The rewind operation is only supported on failed orchestration instances; '${instanceId}' is ${r.runtimeStatus}.`);
    }
    const blocker = rewindBlocker(await this.provider.getHistory(instanceId));
    if (blocker) throw new InvalidInstanceStateError(blocker);
    await this.send(instanceId, { type: "ExecutionRewound", eventId: -1, timestamp: this.ts(), ...(reason ? { reason } : {}) });
  }

  /**
   * Starts the same orchestrator again with the input of the instance's current execution (after a
   * continueAsNew that is the latest input: earlier executions' histories are gone).
   */
  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    const r = await this.require(instanceId);
    const newId = options.restartWithNewInstanceId === false ? instanceId : randomUUID().replace(/-/g, "");
    const input = r.input === undefined ? undefined : (JSON.parse(r.input) as unknown);
    await this.startNew(r.name, input === undefined ? { instanceId: newId } : { instanceId: newId, input });
    return newId;
  }

  async purgeInstanceHistory(instanceId: string): Promise<PurgeHistoryResult> {
    validateInstanceId(instanceId);
    return { instancesDeleted: await this.provider.purgeInstance(instanceId) };
  }

  async purgeInstanceHistoryBy(filter: PurgeFilterOptions): Promise<PurgeHistoryResult> {
    if (!filter || !(filter.createdTimeFrom instanceof Date)) throw new InvalidArgumentError("Please provide value for 'createdTimeFrom' parameter.");
    const f: Parameters<StorageProvider["purgeInstances"]>[0] = { createdFrom: dateMs(filter.createdTimeFrom, "createdTimeFrom") };
    if (filter.createdTimeTo) f.createdTo = dateMs(filter.createdTimeTo, "createdTimeTo");
    if (filter.runtimeStatus) f.runtimeStatus = filter.runtimeStatus;
    return { instancesDeleted: await this.provider.purgeInstances(f) };
  }

  async signalEntity(entityId: EntityId, operationName: string, operationInput?: unknown, options: SignalEntityOptions = {}): Promise<void> {
    const id = EntityId.from(entityId);
    // As over HTTP: a signal for an entity this app does not define would only ever fail there.
    if (this.registry && !this.registry.getEntity(id.name)) throw new FunctionNotFoundError("entity", id.name, this.registry.entityNames());
    if (typeof operationName !== "string" || operationName === "") throw new InvalidArgumentError("An entity operation name must be a non-empty string.");
    const now = this.clock.now();
    const message: OperationMessage = { id: randomUUID(), op: operationName, signal: true };
    const input = serializePayload(operationInput, `The input of entity operation '${operationName}'`);
    if (input !== undefined) message.input = input;
    const event: HistoryEvent = { type: "EventRaised", eventId: -1, timestamp: new Date(now).toISOString(), name: ENTITY_OPERATION_EVENT, input: JSON.stringify(message) };
    const visibleAt = options.signalTime === undefined ? undefined : dateMs(options.signalTime, "signalTime");
    await this.provider.sendMessages([visibleAt === undefined ? { instanceId: id.toString(), message: { event } } : { instanceId: id.toString(), message: { event }, visibleAt }], now);
  }

  async readEntityState<T = unknown>(entityId: EntityId): Promise<EntityStateResponse<T>> {
    const id = EntityId.from(entityId);
    const record = readEntityRecord((await this.provider.getInstance(id.toString()))?.entityState);
    if (!record.exists) return { entityExists: false };
    return { entityExists: true, entityState: parsePayload(record.state) as T };
  }

  async listEntities(query: EntityQuery = {}): Promise<EntityPage> {
    const q: Parameters<StorageProvider["queryInstances"]>[0] = { kind: "entity", pageSize: query.pageSize ?? 100 };
    if (query.entityName !== undefined) q.instanceIdPrefix = `@${new EntityId(query.entityName, "x").name}@`;
    if (query.lastOperationTimeFrom) q.lastUpdatedFrom = dateMs(query.lastOperationTimeFrom, "lastOperationTimeFrom");
    if (query.lastOperationTimeTo) q.lastUpdatedTo = dateMs(query.lastOperationTimeTo, "lastOperationTimeTo");
    let token = query.continuationToken;
    // Rows of entities without state are skipped; keep reading until something is found or the end.
    for (;;) {
      const page = await this.provider.queryInstances(token === undefined ? q : { ...q, continuationToken: token });
      const entities: EntityMetadata[] = [];
      for (const r of page.instances) {
        const record = readEntityRecord(r.entityState);
        if (!record.exists) continue;
        const meta: EntityMetadata = { entityId: EntityId.fromInstanceId(r.instanceId), lastOperationTime: new Date(r.lastUpdatedAt) };
        if (query.fetchState) meta.state = parsePayload(record.state);
        entities.push(meta);
      }
      token = page.continuationToken;
      if (entities.length > 0 || !token) return token ? { entities, continuationToken: token } : { entities };
    }
  }

  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    const emptyIds: string[] = [];
    let orphaned = 0;
    let token: string | undefined;
    const now = this.clock.now();
    do {
      const page = await this.provider.queryInstances(token === undefined ? { kind: "entity", pageSize: 500 } : { kind: "entity", pageSize: 500, continuationToken: token });
      for (const r of page.instances) {
        const record = readEntityRecord(r.entityState);
        const messages: OutgoingMessage[] = [];
        const ts = new Date(now).toISOString();
        if (record.lock) {
          const owner = await this.provider.getInstance(record.lock.owner.instanceId);
          if (!owner || owner.executionId !== record.lock.owner.executionId || isTerminalStatus(owner.runtimeStatus)) {
            orphaned++;
            const release: ReleaseMessage = { id: record.lock.id, owner: record.lock.owner };
            messages.push({ instanceId: r.instanceId, message: { event: { type: "EventRaised", eventId: -1, timestamp: ts, name: ENTITY_RELEASE_EVENT, input: JSON.stringify(release) } } });
          }
        } else if (isEmptyEntity(record, now)) {
          // The entity removes itself in its own transaction, so a signal arriving now is never lost.
          emptyIds.push(r.instanceId);
          messages.push({ instanceId: r.instanceId, message: { event: { type: "EventRaised", eventId: -1, timestamp: ts, name: ENTITY_CLEANUP_EVENT, input: "{}" } } });
        }
        if (messages.length) await this.provider.sendMessages(messages, now);
      }
      token = page.continuationToken;
    } while (token);
    // Count only what is really gone: an entity that got a message meanwhile (or has a scheduled one) stays.
    const deadline = Date.now() + 3_000;
    let pending = emptyIds;
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const still: string[] = [];
      for (const id of pending) if (await this.provider.getInstance(id)) still.push(id);
      pending = still;
    }
    return { numberOfEmptyEntitiesRemoved: emptyIds.length - pending.length, numberOfOrphanedLocksRemoved: orphaned };
  }

  async waitForCompletion(instanceId: string, options: WaitOptions = {}): Promise<DurableOrchestrationStatus> {
    const timeout = options.timeoutInMilliseconds ?? 60_000;
    let interval = Math.min(options.pollIntervalInMilliseconds ?? 50, 5);
    const maxInterval = options.pollIntervalInMilliseconds ?? 50;
    const deadline = Date.now() + timeout;
    for (;;) {
      const status = await this.getStatus(instanceId, { showInput: false });
      if (isTerminalStatus(status.runtimeStatus)) return status;
      if (Date.now() >= deadline) throw new WaitTimeoutError(instanceId, timeout);
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
      interval = Math.min(maxInterval, interval * 2);
    }
  }
}

function dateMs(d: Date, what: string): number {
  const t = d instanceof Date ? d.getTime() : NaN;
  if (Number.isNaN(t)) throw new InvalidArgumentError(`${what} must be a valid Date.`);
  return t;
}
