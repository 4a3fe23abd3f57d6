import { HttpResponse } from "../runtime/http-messages.js";
import type { HistoryEvent } from "../core/history.js";
import { EntityId } from "../core/entity-id.js";
import { InstanceNotFoundError, InvalidArgumentError, WaitTimeoutError } from "../core/errors.js";
import { validateEventName, validateInstanceId } from "../core/instance-id.js";
import { functionNameOf, type OperationName, type OperationsOf, type RegisteredOrchestration, type StateOf } from "../core/registered-types.js";
import { checkVersion } from "../core/version.js";
import { serializePayload } from "../core/payload.js";
import { ALL_RUNTIME_STATUSES, isTerminalStatus, type OrchestrationRuntimeStatus } from "../core/status.js";
import type {
  CleanEntityStorageResult,
  DurableClient,
  EntityMetadata,
  EntityPage,
  EntityQuery,
  EntityStateResponse,
  OrchestrationFilter,
  PageRequest,
  PurgeFilterOptions,
  PurgeHistoryResult,
  RestartOptions,
  SignalEntityOptions,
  StartNewOptions,
  TypedSignalArgs,
  TypedStartOptions,
  StatusPage,
  WaitOptions,
  WaitOrCheckStatusOptions,
} from "./durable-client.js";
import { createCheckStatus, httpManagementPayload } from "./http-helpers.js";
import type { HttpManagementPayload } from "./management-urls.js";
import { type DurableOrchestrationStatus, type GetStatusOptions, payloadFromStatus, statusFromPayload } from "./status.js";
import type { ClientTransport, ControlOperation } from "./transport.js";
import { defaultTelemetry, endSpan, SpanKind, type Telemetry } from "../runtime/telemetry.js";

/** Default and largest page sizes, as the management API. */
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
/** A wait looks at storage at least this often even when nothing wakes it (commits in other processes). */
const DEFAULT_WAIT_INTERVAL_MS = 500;

const json = (status: number, body: unknown): HttpResponse => new HttpResponse({ status, jsonBody: body, headers: { "content-type": "application/json; charset=utf-8" } });

function dateOf(d: unknown, what: string): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new InvalidArgumentError(`${what} must be a valid Date.`);
  return d;
}

function pageSizeOf(n: number | undefined): number {
  if (n === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`Page size must be a positive integer (got ${String(n)}).`);
  return Math.min(n, MAX_PAGE_SIZE);
}

/** An orchestrator name filter: a non-empty string, or absent. */
function nameOf(name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== "string" || name === "") throw new InvalidArgumentError("name must be a non-empty string (an orchestrator function's name).");
  return name;
}

function versionOf(version: unknown): string | undefined {
  if (version === undefined) return undefined;
  if (typeof version !== "string" || version === "") throw new InvalidArgumentError("version must be a non-empty string (an orchestration version, as context.df.version reads it).");
  return version;
}

function statusesOf(list: readonly unknown[] | undefined): OrchestrationRuntimeStatus[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw new InvalidArgumentError(`runtimeStatus must be an array of statuses (${ALL_RUNTIME_STATUSES.join(", ")}).`);
  for (const s of list) {
    if (!(ALL_RUNTIME_STATUSES as readonly unknown[]).includes(s)) throw new InvalidArgumentError(`Unknown runtime status '${String(s)}'. Use one of: ${ALL_RUNTIME_STATUSES.join(", ")}.`);
  }
  return list as OrchestrationRuntimeStatus[];
}

function reasonText(reason: unknown): string {
  if (typeof reason === "string") return reason;
  return reason === undefined || reason === null ? "" : (JSON.stringify(reason) ?? "");
}

/**
 * The DurableClient, once for both transports: argument checks, waiting, paging and the objects
 * callers get live here; the transport (in process, or HTTP) only carries requests. So the in-process
 * and the remote client validate alike, raise the same typed errors, and return the same objects.
 */
export class DurableClientCore implements DurableClient {
  constructor(
    protected readonly transport: ClientTransport,
    private readonly telemetry: Telemetry = defaultTelemetry,
  ) {}

  /**
   * A client call as a span: what it starts or sends carries the span's context, so the steps and
   * operations it causes join the caller's trace.
   */
  private traced<T>(operation: string, instanceId: string | undefined, fn: () => Promise<T>): Promise<T> {
    const t = this.telemetry;
    const parent = t.active();
    const span = t.start(`perdure.client ${operation}`, parent, SpanKind.PRODUCER, instanceId === undefined ? { "perdure.operation": operation } : { "perdure.operation": operation, "perdure.instance_id": instanceId });
    return t.within(span, parent, fn).then(
      (v) => {
        endSpan(span);
        return v;
      },
      (err: unknown) => {
        endSpan(span, err);
        throw err;
      },
    );
  }

  // ---- orchestrations ----

  startNew<TInput, TOutput>(orchestration: RegisteredOrchestration<TInput, TOutput>, ...options: TypedStartOptions<TInput>): Promise<string>;
  startNew(orchestratorFunctionName: string, options?: StartNewOptions): Promise<string>;
  async startNew(nameOrHandle: string | RegisteredOrchestration, options: StartNewOptions = {}): Promise<string> {
    const orchestratorFunctionName = functionNameOf(nameOrHandle);
    if (typeof orchestratorFunctionName !== "string" || orchestratorFunctionName === "") throw new InvalidArgumentError("orchestratorFunctionName must be a valid string.");
    const instanceId = options.instanceId === undefined ? undefined : validateInstanceId(options.instanceId);
    const input = serializePayload(options.input, "The orchestration input");
    const version = checkVersion(options.version, "The version of the new instance");
    return this.traced(`startNew ${orchestratorFunctionName}`, instanceId, () => this.transport.startNew(orchestratorFunctionName, instanceId, input, version));
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<DurableOrchestrationStatus> {
    validateInstanceId(instanceId);
    const payload = await this.transport.getStatus(instanceId, {
      showHistory: options.showHistory === true,
      showHistoryOutput: options.showHistoryOutput === true,
      showInput: options.showInput ?? true,
    });
    if (!payload) throw new InstanceNotFoundError(instanceId);
    return statusFromPayload(payload);
  }

  async getStatusAll(): Promise<DurableOrchestrationStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(filter: OrchestrationFilter): Promise<DurableOrchestrationStatus[]> {
    const all: DurableOrchestrationStatus[] = [];
    let token: string | undefined;
    do {
      const page: StatusPage = await this.listInstances(token === undefined ? { ...filter, pageSize: MAX_PAGE_SIZE } : { ...filter, pageSize: MAX_PAGE_SIZE, continuationToken: token });
      all.push(...page.instances);
      token = page.continuationToken;
    } while (token);
    return all;
  }

  async listInstances(request: PageRequest): Promise<StatusPage> {
    const runtimeStatus = statusesOf(request.runtimeStatus);
    // An empty status list matches nothing (the HTTP API would read it as "no filter").
    if (runtimeStatus && runtimeStatus.length === 0) return { instances: [] };
    const token = request.continuationToken;
    if (token !== undefined && (typeof token !== "string" || !/^[\x21-\x7e]*$/.test(token))) {
      throw new InvalidArgumentError("The continuation token is not valid. Pass back the token from a previous page unchanged, or omit it to start from the first page.");
    }
    const page = await this.transport.listInstances({
      ...(runtimeStatus ? { runtimeStatus } : {}),
      ...(request.createdTimeFrom !== undefined ? { createdTimeFrom: dateOf(request.createdTimeFrom, "createdTimeFrom") } : {}),
      ...(request.createdTimeTo !== undefined ? { createdTimeTo: dateOf(request.createdTimeTo, "createdTimeTo") } : {}),
      ...(request.instanceIdPrefix ? { instanceIdPrefix: request.instanceIdPrefix } : {}),
      ...(nameOf(request.name) !== undefined ? { name: request.name! } : {}),
      ...(versionOf(request.version) !== undefined ? { version: request.version! } : {}),
      ...(token ? { continuationToken: token } : {}),
      pageSize: pageSizeOf(request.pageSize),
      showInput: request.showInput ?? true,
    });
    const out: StatusPage = { instances: page.rows.map(statusFromPayload) };
    if (page.continuationToken) out.continuationToken = page.continuationToken;
    return out;
  }

  /**
   * A page of an orchestration's stored history (its current execution), as Perdure stores it: the
   * events from position `from` (0-based), at most `limit` (default 500, at most 5,000). `nextFrom`
   * is where the next page starts; absent on the last page. Perdure's own: long histories in pages,
   * for a timeline.
   */
  async getHistoryPage(instanceId: string, options: { from?: number; limit?: number } = {}): Promise<{ events: HistoryEvent[]; nextFrom?: number }> {
    validateInstanceId(instanceId);
    const from = options.from ?? 0;
    const limit = options.limit ?? 500;
    if (!Number.isSafeInteger(from) || from < 0) throw new InvalidArgumentError("from must be a whole number from 0 (a position in the history).");
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 5_000) throw new InvalidArgumentError("limit must be a whole number from 1 to 5000.");
    // One more than asked tells whether another page follows.
    const events = await this.transport.historyPage(instanceId, from, limit + 1);
    if (!events) throw new InstanceNotFoundError(instanceId);
    return events.length > limit ? { events: events.slice(0, limit), nextFrom: from + limit } : { events };
  }

  /**
   * How many orchestration instances match, per runtime status (every status, 0 included), counted
   * by the store: the filters of `listInstances` plus the orchestrator's name. Perdure's own.
   */
  async countInstances(filter: Omit<OrchestrationFilter, "showInput"> & { name?: string } = {}): Promise<Record<OrchestrationRuntimeStatus, number>> {
    const runtimeStatus = statusesOf(filter.runtimeStatus);
    const counts = Object.fromEntries(ALL_RUNTIME_STATUSES.map((s) => [s, 0])) as Record<OrchestrationRuntimeStatus, number>;
    if (runtimeStatus && runtimeStatus.length === 0) return counts;
    nameOf(filter.name);
    versionOf(filter.version);
    const found = await this.transport.countInstances({
      ...(runtimeStatus ? { runtimeStatus } : {}),
      ...(filter.createdTimeFrom !== undefined ? { createdTimeFrom: dateOf(filter.createdTimeFrom, "createdTimeFrom") } : {}),
      ...(filter.createdTimeTo !== undefined ? { createdTimeTo: dateOf(filter.createdTimeTo, "createdTimeTo") } : {}),
      ...(filter.instanceIdPrefix ? { instanceIdPrefix: filter.instanceIdPrefix } : {}),
      ...(filter.name !== undefined ? { name: filter.name } : {}),
      ...(filter.version !== undefined ? { version: filter.version } : {}),
    });
    for (const s of ALL_RUNTIME_STATUSES) counts[s] = found[s] ?? 0;
    return counts;
  }

  /** Events for a finished instance are discarded (durable-functions treats that 410 as success). */
  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    validateEventName(eventName);
    validateInstanceId(instanceId);
    const data = serializePayload(eventData, `The data of event '${eventName}'`);
    await this.traced(`raiseEvent ${eventName}`, instanceId, () => this.transport.raiseEvent(instanceId, eventName, data));
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, "terminate", reason);
  }
  async suspend(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, "suspend", reason);
  }
  async resume(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, "resume", reason);
  }
  /** Rewinds a Failed instance; a parked one is retried at once (its retry delay ends). */
  async rewind(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, "rewind", reason);
  }

  private async control(instanceId: string, op: ControlOperation, reason: unknown): Promise<void> {
    validateInstanceId(instanceId);
    const text = reasonText(reason);
    await this.traced(op, instanceId, () => this.transport.control(instanceId, op, text));
  }

  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    validateInstanceId(instanceId);
    return this.traced("restart", instanceId, () => this.transport.restart(instanceId, options.restartWithNewInstanceId !== false));
  }

  async purgeInstanceHistory(instanceId: string): Promise<PurgeHistoryResult> {
    validateInstanceId(instanceId);
    return { instancesDeleted: await this.transport.purge(instanceId) };
  }

  async purgeInstanceHistoryBy(filter: PurgeFilterOptions): Promise<PurgeHistoryResult> {
    if (!filter || !(filter.createdTimeFrom instanceof Date)) throw new InvalidArgumentError("Please provide value for 'createdTimeFrom' parameter.");
    const runtimeStatus = statusesOf(filter.runtimeStatus);
    // An empty status list matches nothing (the HTTP API would read it as "no filter").
    if (runtimeStatus && runtimeStatus.length === 0) return { instancesDeleted: 0 };
    const deleted = await this.transport.purgeBy({
      createdTimeFrom: dateOf(filter.createdTimeFrom, "createdTimeFrom"),
      ...(filter.createdTimeTo !== undefined ? { createdTimeTo: dateOf(filter.createdTimeTo, "createdTimeTo") } : {}),
      ...(runtimeStatus ? { runtimeStatus } : {}),
    });
    return { instancesDeleted: deleted };
  }

  /**
   * Resolves with the final status once the instance is Completed, Failed, Terminated or Canceled.
   * In process the commit that finishes the instance wakes the wait; `pollIntervalInMilliseconds`
   * (default 500) bounds how long a commit made by another process can go unseen.
   */
  async waitForCompletion(instanceId: string, options: WaitOptions = {}): Promise<DurableOrchestrationStatus> {
    const timeout = options.timeoutInMilliseconds ?? 60_000;
    const status = await this.waitForTerminal(instanceId, timeout, options.pollIntervalInMilliseconds ?? DEFAULT_WAIT_INTERVAL_MS, undefined, { showInput: false });
    if (!status) throw new WaitTimeoutError(instanceId, timeout);
    return status;
  }

  /**
   * The instance's status once it is terminal, or undefined when `timeoutMs` passes (or `signal`
   * aborts) first. Woken by the transport's watch; looks again at least every `intervalMs`.
   */
  async waitForTerminal(instanceId: string, timeoutMs: number, intervalMs: number, signal?: AbortSignal, options: GetStatusOptions = {}): Promise<DurableOrchestrationStatus | undefined> {
    validateInstanceId(instanceId);
    if (!(timeoutMs >= 0)) throw new InvalidArgumentError("The timeout must be a number of milliseconds >= 0.");
    if (!(intervalMs > 0)) throw new InvalidArgumentError("The polling interval must be a number of milliseconds > 0.");
    // Watch first, then look: a commit between the look and the wait still wakes it.
    const watch = this.transport.watch(instanceId);
    try {
      const deadline = Date.now() + timeoutMs;
      // Over HTTP nothing wakes the wait early: start with short looks, doubling up to the interval.
      let interval = watch.pushes ? intervalMs : Math.min(intervalMs, 5);
      for (;;) {
        const status = await this.getStatus(instanceId, options);
        if (isTerminalStatus(status.runtimeStatus)) return status;
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return undefined;
        await watch.next(Math.min(interval, left));
        interval = Math.min(intervalMs, interval * 2);
      }
    } finally {
      watch.close();
    }
  }

  createHttpManagementPayload(instanceId: string, request?: Request): HttpManagementPayload {
    return httpManagementPayload(this.transport.endpoint(), instanceId, request);
  }

  createCheckStatusResponse(request: Request | undefined, instanceId: string): HttpResponse {
    return createCheckStatus(this.transport.endpoint(), request, instanceId);
  }

  /**
   * durable-functions' helper: Completed → 200 with the output; Terminated/Canceled → 200 with the
   * status; Failed → 500 with the status; still running at the timeout → the 202 check-status
   * response. `signal` ends the wait early (the HTTP caller went away).
   */
  async waitForCompletionOrCreateCheckStatusResponse(request: Request | undefined, instanceId: string, options: WaitOrCheckStatusOptions = {}, signal?: AbortSignal): Promise<HttpResponse> {
    const timeout = options.timeoutInMilliseconds ?? 10_000;
    const interval = options.retryIntervalInMilliseconds ?? 1_000;
    if (!(timeout >= 0) || !(interval > 0)) throw new InvalidArgumentError("timeoutInMilliseconds must be >= 0 and retryIntervalInMilliseconds > 0.");
    if (interval > timeout) throw new InvalidArgumentError(`Total timeout ${timeout} (ms) should be bigger than retry timeout ${interval} (ms)`);
    const status = await this.waitForTerminal(instanceId, timeout, interval, signal);
    if (!status) return this.createCheckStatusResponse(request, instanceId);
    if (status.runtimeStatus === "Completed") return json(200, status.output ?? null);
    return json(status.runtimeStatus === "Failed" ? 500 : 200, payloadFromStatus(status));
  }

  // ---- entities ----

  signalEntity<I extends EntityId, K extends OperationName<OperationsOf<I>>>(entityId: I, operationName: K, ...args: TypedSignalArgs<OperationsOf<I>, K>): Promise<void>;
  async signalEntity(entityId: EntityId, operationName: string, operationInput?: unknown, options: SignalEntityOptions = {}): Promise<void> {
    const id = EntityId.from(entityId);
    if (typeof operationName !== "string" || operationName === "") throw new InvalidArgumentError("An entity operation name must be a non-empty string.");
    const input = serializePayload(operationInput, `The input of entity operation '${operationName}'`);
    const signalTime = options.signalTime === undefined ? undefined : dateOf(options.signalTime, "signalTime");
    await this.traced(`signalEntity ${operationName}`, id.toString(), () => this.transport.signalEntity(id, operationName, input, signalTime));
  }

  async readEntityState<T = unknown, I extends EntityId = EntityId>(entityId: I): Promise<EntityStateResponse<StateOf<I, T>>> {
    const r = await this.transport.readEntityState(EntityId.from(entityId));
    return r.entityExists ? { entityExists: true, entityState: r.entityState as StateOf<I, T> } : { entityExists: false };
  }

  async listEntities(query: EntityQuery = {}): Promise<EntityPage> {
    const entityName = query.entityName === undefined ? undefined : new EntityId(query.entityName, "x").name.toLowerCase();
    const page = await this.transport.listEntities({
      ...(entityName !== undefined ? { entityName } : {}),
      ...(query.lastOperationTimeFrom !== undefined ? { lastOperationTimeFrom: dateOf(query.lastOperationTimeFrom, "lastOperationTimeFrom") } : {}),
      ...(query.lastOperationTimeTo !== undefined ? { lastOperationTimeTo: dateOf(query.lastOperationTimeTo, "lastOperationTimeTo") } : {}),
      ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
      pageSize: pageSizeOf(query.pageSize),
      fetchState: query.fetchState === true,
    });
    const out: EntityPage = {
      entities: page.rows.map((r) => {
        const meta: EntityMetadata = { entityId: new EntityId(r.entityId.name, r.entityId.key), lastOperationTime: new Date(r.lastOperationTime) };
        if ("state" in r) meta.state = r.state;
        return meta;
      }),
    };
    if (page.continuationToken) out.continuationToken = page.continuationToken;
    return out;
  }

  async cleanEntityStorage(): Promise<CleanEntityStorageResult> {
    return this.transport.cleanEntityStorage();
  }
}
