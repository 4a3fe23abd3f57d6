import { AssertionError } from "node:assert";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { createApp, type DurableApp } from "../app.js";
import type { DurableClientCore } from "../client/client-core.js";
import type { DurableOrchestrationStatus } from "../client/status.js";
import type { OrchestrationContext } from "../core/context.js";
import { EntityId } from "../core/entity-id.js";
import { InstanceNotFoundError, InvalidArgumentError } from "../core/errors.js";
import type { OrchestrationRuntimeStatus } from "../core/status.js";
import { createHost, type Host, type HostOptions } from "../host/host.js";
import type { ActivityContext } from "../runtime/registry.js";
import { type Logger, silentLogger } from "../runtime/logger.js";
import { ManualClock } from "./clock.js";
import { type AssertHistoryOptions, assertHistoryMatches, type ExpectedEvent, type HistoryEventView, viewHistory } from "./history.js";
import { type MockBehavior, MockRegistry, type RecordedCall, SEED_OPERATION } from "./mocks.js";

export interface TestHostOptions {
  /** The app under test (e.g. `createApp()` filled by your module). The test host never changes it: mocks live in the host. */
  app?: DurableApp;
  /** Or: registers the functions on a fresh app. */
  register?: (app: DurableApp) => void;
  /** Where the manual clock starts. Default 2026-01-01T00:00:00Z, so runs are repeatable. */
  startTime?: Date | number;
  /** Where the runtime logs. Default: nowhere. */
  logger?: Logger;
  /** More host options (`version`, `retry`, ...); store, port, hostname, clock, app and logger are the test host's. */
  hostOptions?: Omit<HostOptions, "store" | "port" | "hostname" | "clock" | "app" | "logger">;
  /** runUntilIdle gives up after this many orchestration steps and activity calls (an orchestration that never stops waiting). Default 100,000. */
  maxSteps?: number;
  /**
   * Serve HTTP on a free loopback port (the management API and the app's HTTP functions), for
   * tests of HTTP starters and the async HTTP API pattern through `host.fetch`. Default false.
   */
  http?: boolean;
}

/** What `waitForStatus` waits for: a runtime status, any of several, or a predicate on the status. */
export type StatusCondition = OrchestrationRuntimeStatus | readonly OrchestrationRuntimeStatus[] | ((status: DurableOrchestrationStatus) => boolean);

export interface WaitForStatusOptions {
  /**
   * Let the clock move, timer by timer, up to this many ms while waiting. Default 0: only work that
   * is ready now runs, and timers in the future stay in the future.
   */
  advanceTimeUpTo?: number;
}

/**
 * A Perdure host for tests: the in-memory store, no HTTP listener (unless `http: true`), and a
 * manual clock, so a timer of 72 hours fires as soon as the test says so. Every method that changes
 * something runs the work it causes until nothing is ready (timers in the future stay), so a test
 * reads as a sequence of facts.
 */
export class TestHost implements AsyncDisposable {
  readonly clock: ManualClock;
  /** The underlying host (its provider, worker, ...), for what this class does not cover. */
  readonly host: Host;
  private readonly mocks: MockRegistry;
  private readonly maxSteps: number;
  private readonly httpEnabled: boolean;
  private state: "new" | "starting" | "started" | "disposed" = "new";
  private starting: Promise<void> | undefined;

  constructor(options: TestHostOptions = {}) {
    if (options.app && options.register) throw new InvalidArgumentError("createTestHost: pass either `app` or `register`, not both.");
    const app = options.app ?? createApp();
    if (options.register) options.register(app);
    this.mocks = new MockRegistry(app.registry);
    // The host runs the app's registry as the mocks see it; the app itself stays as it is.
    const hostApp = Object.create(app, { registry: { value: this.mocks.registry } }) as DurableApp;
    this.clock = new ManualClock(options.startTime);
    this.maxSteps = options.maxSteps ?? 100_000;
    this.httpEnabled = options.http === true;
    this.host = createHost({
      drainTimeoutMs: 2_000,
      ...options.hostOptions,
      store: "memory:",
      port: options.http === true ? 0 : false,
      hostname: "127.0.0.1",
      clock: this.clock,
      app: hostApp,
      logger: options.logger ?? silentLogger,
    });
  }

  /** The durable client (startNew, getStatus, raiseEvent, signalEntity, readEntityState, ...). */
  get client(): DurableClientCore {
    return this.host.client;
  }

  /** The base URL of the host's HTTP listener (with `http: true`, once the host has started: after the first call that runs work, or `host.fetch`). */
  get url(): string {
    const url = this.host.url;
    if (url === undefined) {
      throw new InvalidArgumentError(this.httpEnabled ? "The test host serves HTTP once it has started: call host.fetch (or another method that runs work) first." : "This test host serves no HTTP: create it with createTestHost({ http: true, ... }).");
    }
    return url;
  }

  /**
   * An HTTP request to the host (`http: true`): a path (`/api/orchestrators/report`) or a URL it
   * gave (a `Location`, a `statusQueryGetUri`). The work the request causes runs until idle before
   * the response is returned, as with the other methods.
   */
  async fetch(pathOrUrl: string, init?: RequestInit): Promise<Response> {
    if (!this.httpEnabled) throw new InvalidArgumentError("host.fetch: this test host serves no HTTP: create it with createTestHost({ http: true, ... }).");
    await this.ensureStarted();
    const response = await fetch(new URL(pathOrUrl, this.url), init);
    // The body is read to its end through a copy first (a handler may still be running work until it
    // has answered); the response returned is the original, body, headers and URL as fetch gave them.
    await response.clone().arrayBuffer();
    await this.runUntilIdle();
    return response;
  }

  /** The test clock's time. */
  now(): Date {
    return new Date(this.clock.now());
  }

  /** Replaces (or adds) activity `name`: a value, a function `(input, context) => result`, or `{ error }`. */
  mockActivity(name: string, behavior: MockBehavior<ActivityContext>): this {
    this.mocks.mockActivity(name, behavior, this.state !== "new");
    return this;
  }

  /** Replaces (or adds) orchestrator `name` as a sub-orchestration that answers at once: a value, a function `(input, context) => result` (synchronous), or `{ error }`. */
  mockSubOrchestration(name: string, behavior: MockBehavior<OrchestrationContext>): this {
    this.mocks.mockSubOrchestration(name, behavior, this.state !== "new");
    return this;
  }

  /** The calls of activity `name` (mocked or real) or of mocked sub-orchestration `name`, in the order they started. */
  calls(name: string): RecordedCall[] {
    return this.mocks.calls(name);
  }

  /** Starts orchestration `name` and runs until idle; returns its instance ID. */
  async start(name: string, input?: unknown, options: { instanceId?: string } = {}): Promise<string> {
    await this.ensureStarted();
    const id = await this.client.startNew(name, { ...(input !== undefined ? { input } : {}), ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}) });
    await this.runUntilIdle();
    return id;
  }

  /** Raises event `name` on instance `instanceId` and runs until idle. */
  async raiseEvent(instanceId: string, name: string, data?: unknown): Promise<void> {
    await this.ensureStarted();
    await this.client.raiseEvent(instanceId, name, data);
    await this.runUntilIdle();
  }

  /**
   * Gives entity `entityId` the state `state`, written by the entity's own step (the stored record
   * is exactly what an operation calling setState(state) leaves), then runs until idle.
   */
  async seedEntity(entityId: EntityId, state: unknown): Promise<void> {
    const id = EntityId.from(entityId);
    if (!this.mocks.registry.getEntity(id.name)) throw new InvalidArgumentError(`seedEntity: no entity named '${id.name}' is registered in the app under test.`);
    if (state === undefined) throw new InvalidArgumentError(`seedEntity(${id.toString()}): the state must not be undefined.`);
    await this.ensureStarted();
    await this.client.signalEntity(id, SEED_OPERATION, state);
    await this.runUntilIdle();
  }

  /**
   * Runs work until none is ready: every orchestration step, activity and entity operation that can
   * run now runs; timers due later stay pending. Throws when work waits for a function the app does
   * not have (neither registered nor mocked).
   */
  async runUntilIdle(): Promise<void> {
    await this.ensureStarted();
    const worker = this.host.worker;
    const provider = this.host.provider;
    const done = (): number => worker.stats.orchestrationSteps + worker.stats.activitiesRun;
    const before = done();
    let quiet = 0;
    let stuck = 0;
    let busy = 0;
    for (;;) {
      if (done() - before > this.maxSteps) {
        throw new Error(`runUntilIdle: more than ${this.maxSteps} steps and activity calls ran without the work running out; an orchestration may loop without waiting (continueAsNew without a timer?).`);
      }
      worker.poke();
      // Turns of the event loop while work runs; a pause once user code has been busy for a while (real I/O, a slow mock).
      if (busy > 100) await sleep(1);
      else await nextTurn();
      if (!worker.isIdle) {
        quiet = stuck = 0;
        busy++;
        continue;
      }
      busy = 0;
      const counts = await provider.workCounts(this.clock.now());
      if (!worker.isIdle) continue;
      if (counts.orchestrations + counts.entities + counts.activities === 0) {
        // Twice in a row: a wake-up in flight has had its turn.
        if (++quiet >= 2) return;
        continue;
      }
      quiet = 0;
      stuck++;
      if (stuck % 3 === 0) await this.throwIfStranded();
      if (stuck > 1_000) throw new Error(`runUntilIdle: work is ready (${JSON.stringify(counts)}) but the worker does not take it.`);
    }
  }

  /**
   * Moves the clock forward by `ms`, timer by timer: each timer due on the way fires at its own time
   * (so `currentUtcDateTime` reads as it would) and the work it causes runs before the next.
   */
  async advanceTime(ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new InvalidArgumentError(`advanceTime: ms must be a number >= 0, got ${String(ms)}.`);
    await this.runUntilIdle();
    const target = this.clock.now() + ms;
    for (;;) {
      const next = await this.host.provider.nextVisibleAt(this.clock.now());
      if (next === undefined || next > target) break;
      this.clock.set(next);
      await this.runUntilIdle();
    }
    this.clock.set(target);
    await this.runUntilIdle();
  }

  /**
   * Runs work until instance `instanceId` meets `condition` (a status, a list, or a predicate) and
   * returns its status; throws an AssertionError naming the current status when it cannot get there
   * without more time passing (see `advanceTimeUpTo`) or an event.
   */
  async waitForStatus(instanceId: string, condition: StatusCondition, options: WaitForStatusOptions = {}): Promise<DurableOrchestrationStatus> {
    const holds = typeof condition === "function" ? condition : (s: DurableOrchestrationStatus): boolean => (typeof condition === "string" ? [condition] : condition).includes(s.runtimeStatus);
    const budget = options.advanceTimeUpTo ?? 0;
    await this.runUntilIdle();
    const limit = this.clock.now() + budget;
    for (;;) {
      const status = await this.statusOf(instanceId);
      if (holds(status)) return status;
      const next = await this.host.provider.nextVisibleAt(this.clock.now());
      if (next === undefined || next > limit) {
        const wanted = typeof condition === "function" ? "the condition to hold" : `status ${typeof condition === "string" ? condition : condition.join(" or ")}`;
        const waiting = next === undefined ? "nothing is scheduled" : `the next timer is due at ${new Date(next).toISOString()}`;
        const moved = budget > 0 ? ` (the clock moved up to ${budget} ms)` : "";
        throw new AssertionError({
          message: `waitForStatus('${instanceId}'): waited for ${wanted}, but the instance is ${describeStatus(status)} with no more work ready${moved}; ${waiting}.`,
          actual: status.runtimeStatus,
          expected: typeof condition === "function" ? "predicate" : condition,
          operator: "waitForStatus",
        });
      }
      this.clock.set(next);
      await this.runUntilIdle();
    }
  }

  /** The current execution's stored history, payloads parsed. */
  async history(instanceId: string): Promise<HistoryEventView[]> {
    const instance = await this.host.provider.getInstance(instanceId);
    if (!instance || instance.kind !== "orchestration") throw new InstanceNotFoundError(instanceId);
    return viewHistory(await this.host.provider.getHistory(instanceId));
  }

  /**
   * Asserts the history of `instanceId` is `expected`, event by event: each an event type, or a
   * partial event (`{ type: "TaskScheduled", name: "Send", input: {...} }`). OrchestratorStarted and
   * OrchestratorCompleted are left out unless `includeMarkers`. Throws node:assert's AssertionError.
   */
  async assertHistory(instanceId: string, expected: readonly ExpectedEvent[], options: AssertHistoryOptions = {}): Promise<void> {
    assertHistoryMatches(instanceId, await this.history(instanceId), expected, options);
  }

  /** Stops the host; safe to call twice. `await using host = createTestHost(...)` calls it. */
  async dispose(): Promise<void> {
    if (this.state === "disposed") return;
    const wasStarting = this.starting;
    this.state = "disposed";
    await wasStarting?.catch(() => undefined);
    await this.host.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  private async statusOf(instanceId: string): Promise<DurableOrchestrationStatus> {
    const instance = await this.host.provider.getInstance(instanceId);
    if (!instance || instance.kind !== "orchestration") throw new InstanceNotFoundError(instanceId);
    return this.client.getStatus(instanceId);
  }

  private async ensureStarted(): Promise<void> {
    if (this.state === "started") return;
    if (this.state === "disposed") throw new InvalidArgumentError("This test host was disposed; create a new one.");
    if (!this.starting) {
      this.state = "starting";
      this.starting = this.host.start().then(() => {
        if (this.state === "starting") this.state = "started";
      });
    }
    await this.starting;
  }

  private async throwIfStranded(): Promise<void> {
    const now = this.clock.now();
    const work = await this.host.provider.findStrandedWork({ functions: this.mocks.registry.functionKeys(), now, visibleBefore: now, limit: 20 });
    const what = [
      ...work.activities.map((a) => `activity '${a.name}' (called by '${a.instanceId}')`),
      ...work.instances.map((i) => `${i.kind === "entity" ? "entity" : "orchestrator"} '${i.name}' (instance '${i.instanceId}')`),
    ];
    if (what.length === 0) return;
    throw new Error(`runUntilIdle: work waits for functions the app under test does not have: ${what.join(", ")}. Register them in the app, or mock them (host.mockActivity / host.mockSubOrchestration) before the first start.`);
  }
}

function describeStatus(s: DurableOrchestrationStatus): string {
  let text = s.runtimeStatus;
  if (s.runtimeStatus === "Failed") text += ` (${s.failureDetails?.errorMessage ?? JSON.stringify(s.output)})`;
  if (s.runtimeStatus === "Completed") text += ` (output ${JSON.stringify(s.output)})`;
  if (s.parked) text += ` (parked: ${s.parked.code}: ${s.parked.message})`;
  return text;
}

/** A test host on the memory store with a manual clock: see `TestHost`. */
export function createTestHost(options: TestHostOptions = {}): TestHost {
  return new TestHost(options);
}
