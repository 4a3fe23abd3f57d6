import { isoTime } from "../core/iso-time.js";
import { randomUUID } from "node:crypto";
import { EntityId } from "../core/entity-id.js";
import { isEmptyEntity, readEntityRecord } from "../core/entities/entity-record.js";
import { FunctionNotFoundError, InstanceNotFoundError, InvalidInstanceStateError } from "../core/errors.js";
import type { HistoryEvent } from "../core/history.js";
import { controlMessage, entityRequestMessage, eventMessage, executionStarted, type OutgoingMessage } from "../core/messages.js";
import { checkPayloadSize, DEFAULT_MAX_PAYLOAD_BYTES, parsePayload } from "../core/payload.js";
import { planControl } from "../core/control.js";
import { rewindBlocker } from "../core/rewind.js";
import { isTerminalStatus, type OrchestrationRuntimeStatus } from "../core/status.js";
import type { InstanceQuery, InstanceRecord, OrchestrationWorkItem, StartHandoff, StorageProvider } from "../providers/provider.js";
import type { Clock } from "../runtime/clock.js";
import { carryActive, type Telemetry } from "../runtime/telemetry.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { DurableClientCore } from "./client-core.js";
import type { CleanEntityStorageResult } from "./durable-client.js";
import type { HttpEndpoint } from "./http-helpers.js";
import { DEFAULT_TASK_HUB } from "./management-urls.js";
import type { ClientTransport, ControlOperation, EntityListQuery, EntityRow, InstanceCountQuery, InstanceListQuery, InstanceWatch } from "./transport.js";
import { dfTime, statusPayloadOf, type StatusPayload } from "./wire.js";

const newInstanceId = (): string => randomUUID().replace(/-/g, "");

/**
 * The client transport over a storage provider in this process (the host's own client, and what its
 * HTTP management API calls). It decides what the operator's requests mean for an instance in its
 * current state; storage is only read and written through the provider interface.
 */
export class LocalTransport implements ClientTransport {
  constructor(
    private readonly provider: StorageProvider,
    private readonly clock: Clock,
    /** When given, starts and signals are refused for functions this app does not define. */
    private readonly registry?: FunctionRegistry,
    private readonly endpointOf: () => HttpEndpoint = () => ({ origin: undefined, key: undefined, taskHub: DEFAULT_TASK_HUB }),
    /** The host's app version, stamped on instances started without one. */
    private readonly defaultVersion?: string,
    /** The largest input or event data stored (the host's maxPayloadBytes). */
    private readonly maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
    /** A worker of this process that takes a start's first step straight from the start. */
    private readonly startHandoff?: StartHandoff,
  ) {}

  endpoint(): HttpEndpoint {
    return this.endpointOf();
  }

  private ts(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** The instance's record for a control operation; its input only when asked (a restart needs it). */
  private async orchestration(instanceId: string, options: { input: boolean } = { input: false }): Promise<InstanceRecord> {
    const r = await this.provider.getInstance(instanceId, options);
    if (!r || r.kind !== "orchestration") throw new InstanceNotFoundError(instanceId);
    return r;
  }

  private async send(message: OutgoingMessage): Promise<void> {
    // The caller's trace goes with the message: the step or operation it causes continues it.
    const trace = carryActive();
    if (trace) message.message.metadata = { ...message.message.metadata, ...trace };
    await this.provider.sendMessages([message], this.clock.now());
  }

  async startNew(name: string, instanceId: string | undefined, input: string | undefined, version?: string): Promise<string> {
    checkPayloadSize(input, this.maxPayloadBytes, "The orchestration input");
    let functionName = name;
    if (this.registry) {
      const fn = this.registry.getOrchestration(name);
      if (!fn) throw new FunctionNotFoundError("orchestrator", name, this.registry.orchestrationNames());
      functionName = fn.name;
    }
    const id = instanceId ?? newInstanceId();
    const now = this.clock.now();
    const startedEvent = executionStarted({ name: functionName, instanceId: id, executionId: newInstanceId(), input, version: version ?? this.defaultVersion, timestamp: isoTime(now) });
    const trace = carryActive();
    if (trace) startedEvent.traceContext = trace;
    const claim = this.startHandoff?.(functionName, startedEvent.version);
    let item: OrchestrationWorkItem | undefined;
    try {
      item = await this.provider.createInstance(claim ? { startedEvent, now, lease: { workerId: claim.workerId, leaseMs: claim.leaseMs } } : { startedEvent, now });
    } finally {
      if (item) claim?.accept(item);
      else claim?.release();
    }
    return id;
  }

  async getStatus(instanceId: string, o: { showHistory: boolean; showHistoryOutput: boolean; showInput: boolean }): Promise<StatusPayload | undefined> {
    const r = await this.provider.getInstance(instanceId, { input: o.showInput });
    if (!r || r.kind !== "orchestration") return undefined;
    const history = o.showHistory ? await this.provider.getHistory(instanceId) : undefined;
    return statusPayloadOf(r, history, o);
  }

  async historyPage(instanceId: string, from: number, limit: number): Promise<HistoryEvent[] | undefined> {
    const r = await this.provider.getInstance(instanceId, { input: false });
    if (!r || r.kind !== "orchestration") return undefined;
    return this.provider.getHistory(instanceId, { fromSeq: from, limit });
  }

  async countInstances(q: InstanceCountQuery): Promise<Partial<Record<OrchestrationRuntimeStatus, number>>> {
    return this.provider.countInstances({
      kind: "orchestration",
      ...(q.runtimeStatus ? { runtimeStatus: q.runtimeStatus } : {}),
      ...(q.createdTimeFrom ? { createdFrom: q.createdTimeFrom.getTime() } : {}),
      ...(q.createdTimeTo ? { createdTo: q.createdTimeTo.getTime() } : {}),
      ...(q.instanceIdPrefix !== undefined ? { instanceIdPrefix: q.instanceIdPrefix } : {}),
      ...(q.name !== undefined ? { name: q.name } : {}),
      ...(q.version !== undefined ? { version: q.version } : {}),
    });
  }

  async listInstances(q: InstanceListQuery): Promise<{ rows: StatusPayload[]; continuationToken?: string }> {
    const query: InstanceQuery = { kind: "orchestration", pageSize: q.pageSize, input: q.showInput };
    if (q.runtimeStatus) query.runtimeStatus = q.runtimeStatus;
    if (q.createdTimeFrom) query.createdFrom = q.createdTimeFrom.getTime();
    if (q.createdTimeTo) query.createdTo = q.createdTimeTo.getTime();
    if (q.instanceIdPrefix !== undefined) query.instanceIdPrefix = q.instanceIdPrefix;
    if (q.name !== undefined) query.name = q.name;
    if (q.version !== undefined) query.version = q.version;
    if (q.continuationToken !== undefined) query.continuationToken = q.continuationToken;
    const page = await this.provider.queryInstances(query);
    const rows = page.instances.map((r) => statusPayloadOf(r, undefined, { showInput: q.showInput, showHistory: false, showHistoryOutput: false }));
    return page.continuationToken ? { rows, continuationToken: page.continuationToken } : { rows };
  }

  async raiseEvent(instanceId: string, eventName: string, input: string | undefined): Promise<void> {
    checkPayloadSize(input, this.maxPayloadBytes, `The data of event '${eventName}'`);
    const r = await this.orchestration(instanceId);
    if (planControl("raiseEvent", r).kind === "finished") return;
    await this.send(eventMessage(instanceId, eventName, input, this.ts()));
  }

  async control(instanceId: string, op: ControlOperation, reason: string): Promise<void> {
    const r = await this.orchestration(instanceId);
    const blocker = op === "rewind" && r.runtimeStatus === "Failed" ? rewindBlocker(await this.provider.getHistory(instanceId)) : undefined;
    const decision = planControl(op, r, blocker);
    if (decision.kind === "refuse") throw decision.error;
    if (decision.kind === "finished") {
      // A finished instance ignores what is sent to it, except a rewind, which the caller must hear about.
      if (op === "rewind") throw new InvalidInstanceStateError(`The rewind operation is only supported on failed orchestration instances (and parked ones); '${instanceId}' is ${r.runtimeStatus}.`);
      return;
    }
    const ts = this.ts();
    const why = reason ? { reason } : {};
    switch (op) {
      case "terminate":
        return this.send(controlMessage(instanceId, { type: "ExecutionTerminated", eventId: -1, timestamp: ts, input: JSON.stringify(reason) }));
      case "suspend":
        return this.send(controlMessage(instanceId, { type: "ExecutionSuspended", eventId: -1, timestamp: ts, ...why }));
      case "resume":
        return this.send(controlMessage(instanceId, { type: "ExecutionResumed", eventId: -1, timestamp: ts, ...why }));
      case "rewind":
        return this.send(controlMessage(instanceId, { type: "ExecutionRewound", eventId: -1, timestamp: ts, ...why }));
    }
  }

  /**
   * Starts the same orchestrator again with the input of the instance's current execution (after a
   * continueAsNew that is the latest input: earlier executions' histories are gone).
   */
  async restart(instanceId: string, newInstanceIdWanted: boolean): Promise<string> {
    const r = await this.orchestration(instanceId, { input: true });
    return this.startNew(r.name, newInstanceIdWanted ? newInstanceId() : instanceId, r.input);
  }

  async purge(instanceId: string): Promise<number> {
    return this.provider.purgeInstance(instanceId);
  }

  async purgeBy(f: { createdTimeFrom: Date; createdTimeTo?: Date; runtimeStatus?: OrchestrationRuntimeStatus[] }): Promise<number> {
    return this.provider.purgeInstances({
      createdFrom: f.createdTimeFrom.getTime(),
      ...(f.createdTimeTo ? { createdTo: f.createdTimeTo.getTime() } : {}),
      ...(f.runtimeStatus ? { runtimeStatus: f.runtimeStatus } : {}),
    });
  }

  async signalEntity(id: EntityId, operation: string, input: string | undefined, signalTime: Date | undefined): Promise<void> {
    // As over HTTP: a signal for an entity this app does not define would only ever wait for a host that has it.
    if (this.registry && !this.registry.getEntity(id.name)) throw new FunctionNotFoundError("entity", id.name, this.registry.entityNames());
    checkPayloadSize(input, this.maxPayloadBytes, `The input of entity operation '${operation}'`);
    const request: HistoryEvent = { type: "EntityOperationSignaled", eventId: -1, timestamp: this.ts(), requestId: randomUUID(), targetInstanceId: id.toString(), operation };
    if (input !== undefined) request.input = input;
    if (signalTime) request.scheduledTime = signalTime.toISOString();
    await this.send(entityRequestMessage(request, signalTime?.getTime()));
  }

  async readEntityState(id: EntityId): Promise<{ entityExists: boolean; entityState?: unknown }> {
    const r = await this.provider.getInstance(id.toString());
    const record = readEntityRecord(r?.entityState, id.toString());
    return record.exists ? { entityExists: true, entityState: parsePayload(record.state) } : { entityExists: false };
  }

  async listEntities(q: EntityListQuery): Promise<{ rows: EntityRow[]; continuationToken?: string }> {
    const query: InstanceQuery = { kind: "entity", pageSize: q.pageSize };
    if (q.entityName !== undefined) query.name = q.entityName;
    if (q.lastOperationTimeFrom) query.lastUpdatedFrom = q.lastOperationTimeFrom.getTime();
    if (q.lastOperationTimeTo) query.lastUpdatedTo = q.lastOperationTimeTo.getTime();
    let token = q.continuationToken;
    // Rows of entities without state are skipped; keep reading until something is found or the end.
    for (;;) {
      const page = await this.provider.queryInstances(token === undefined ? query : { ...query, continuationToken: token });
      const rows: EntityRow[] = [];
      for (const r of page.instances) {
        const record = readEntityRecord(r.entityState, r.instanceId);
        if (!record.exists) continue;
        const id = EntityId.fromInstanceId(r.instanceId);
        const row: EntityRow = { entityId: { name: id.name, key: id.key }, lastOperationTime: dfTime(r.lastUpdatedAt) };
        if (q.fetchState) row.state = parsePayload(record.state) ?? null;
        rows.push(row);
      }
      token = page.continuationToken;
      if (rows.length > 0 || !token) return token ? { rows, continuationToken: token } : { rows };
    }
  }

  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    const emptyIds: string[] = [];
    let orphaned = 0;
    let token: string | undefined;
    const now = this.clock.now();
    const ts = new Date(now).toISOString();
    do {
      const page = await this.provider.queryInstances(token === undefined ? { kind: "entity", pageSize: 500 } : { kind: "entity", pageSize: 500, continuationToken: token });
      for (const r of page.instances) {
        const record = readEntityRecord(r.entityState, r.instanceId);
        const messages: OutgoingMessage[] = [];
        if (record.lock) {
          const owner = await this.provider.getInstance(record.lock.parentInstanceId);
          if (!owner || owner.executionId !== record.lock.parentExecutionId || isTerminalStatus(owner.runtimeStatus)) {
            orphaned++;
            messages.push(entityRequestMessage({ type: "EntityUnlockSent", eventId: -1, timestamp: ts, targetInstanceId: r.instanceId, ...record.lock }));
          }
        } else if (isEmptyEntity(record, now)) {
          // The entity removes itself in its own transaction, so a signal arriving now is never lost.
          emptyIds.push(r.instanceId);
          messages.push({ kind: "entity", instanceId: r.instanceId, message: { event: { type: "EntityCleanup", eventId: -1, timestamp: ts } } });
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

  /** Woken by the provider when a commit changes the instance's status (in this process). */
  watch(instanceId: string): InstanceWatch {
    let changed = false;
    let wake: (() => void) | undefined;
    const unsubscribe = this.provider.onInstanceChange?.((id) => {
      if (id !== instanceId) return;
      changed = true;
      wake?.();
    });
    return {
      // A provider without change notifications cannot wake the wait: then it polls like HTTP.
      pushes: unsubscribe !== undefined,
      next: (timeoutMs) =>
        new Promise<void>((resolve) => {
          if (changed) {
            changed = false;
            resolve();
            return;
          }
          const timer = setTimeout(done, timeoutMs);
          function done(): void {
            clearTimeout(timer);
            wake = undefined;
            changed = false;
            resolve();
          }
          wake = done;
        }),
      close: () => {
        unsubscribe?.();
        wake?.();
      },
    };
  }
}

/** The client over a provider in this process. */
export class LocalDurableClient extends DurableClientCore {
  constructor(provider: StorageProvider, clock: Clock, registry?: FunctionRegistry, endpoint?: () => HttpEndpoint, telemetry?: Telemetry, version?: string, maxPayloadBytes?: number, startHandoff?: StartHandoff) {
    super(new LocalTransport(provider, clock, registry, endpoint, version, maxPayloadBytes, startHandoff), telemetry);
  }
}
