import type { OrchestratorAction } from "../core/actions.js";
import type { OrchestratorFunction } from "../core/context.js";
import { InvalidArgumentError, NonDeterminismError } from "../core/errors.js";
import { OrchestrationExecutor } from "../core/executor.js";
import { failureFromError, type FailureDetails } from "../core/failure.js";
import { type ExecutionStartedEvent, HISTORY_FORMAT_VERSION, type HistoryEvent } from "../core/history.js";
import { orchestrationStep } from "../core/orchestration-step.js";
import { parsePayload, serializePayload } from "../core/payload.js";
import { DEFAULT_START_TIME, timeOf } from "./clock.js";
import { type HistoryEventView, viewHistory } from "./history.js";
import { answer, type MockBehavior } from "./mocks.js";

/** What a scripted result function is told about the call it answers. */
export interface ScriptedCallContext {
  /** The activity, sub-orchestration or entity operation name as the orchestrator called it. */
  name: string;
  /** 1 for the first call of this name, 2 for the second (a retry, say), ... */
  call: number;
  /** The simulated time of the call. */
  now: Date;
}

/** An external event the runner delivers: at the start, or `afterMs` after it. */
export interface ScriptedEvent {
  name: string;
  data?: unknown;
  afterMs?: number;
}

export interface RunOrchestratorOptions {
  input?: unknown;
  /** Results of activities and sub-orchestrations by name (case-insensitive): a value, `(input, ctx) => result` (async allowed) or `{ error }`. */
  results?: Record<string, MockBehavior<ScriptedCallContext>>;
  /** Results of entity calls: `{ [entityName]: { [operation]: behaviour } }`. Signals need none; lock requests are granted at once. */
  entities?: Record<string, Record<string, MockBehavior<ScriptedCallContext>>>;
  /** External events: `{ name: data }` delivered at the start, or a list with `afterMs`. */
  events?: Record<string, unknown> | readonly ScriptedEvent[];
  instanceId?: string;
  /** The simulated start time. Default 2026-01-01T00:00:00Z. */
  startTime?: Date | number;
  /** Gives up after this many steps (an orchestration that never ends). Default 10,000. */
  maxSteps?: number;
}

/** What the orchestration scheduled, in order, payloads parsed. */
export type ScheduledAction =
  | { kind: "activity"; name: string; input: unknown }
  | { kind: "subOrchestration"; name: string; input: unknown; instanceId: string }
  | { kind: "timer"; fireAt: Date }
  | { kind: "sendEvent"; instanceId: string; name: string; input: unknown }
  | { kind: "callEntity" | "signalEntity"; entityId: string; operation: string; input: unknown }
  | { kind: "lockEntities"; entityIds: string[] }
  | { kind: "unlockEntity"; entityId: string };

/** The orchestration's end as an Error: `failureDetails` is what a host would store. */
export class OrchestrationFailure extends Error {
  readonly failureDetails: FailureDetails;
  constructor(details: FailureDetails) {
    super(details.errorMessage);
    this.name = details.errorType || "Error";
    this.failureDetails = details;
  }
}

export interface RunOrchestratorResult {
  /** Running: the orchestration waits for something the script does not provide (an event, a result). */
  status: "Completed" | "Failed" | "ContinuedAsNew" | "Running";
  /** Completed: the return value; ContinuedAsNew: the new input. */
  output?: unknown;
  /** Failed: what the orchestration threw. */
  error?: OrchestrationFailure;
  actions: ScheduledAction[];
  customStatus: unknown;
  /** The history a host would have stored, payloads parsed. */
  history: HistoryEventView[];
  /** The simulated time at the end. */
  now: Date;
}

interface Delivery {
  at: number;
  seq: number;
  event: HistoryEvent;
}

/**
 * Runs one orchestrator function on the real replay engine with scripted results, no host and no
 * store: each activity, sub-orchestration and entity call is answered from `results` / `entities`,
 * timers fire when nothing else is left before them (simulated time), events arrive as `events`
 * says. At the end the recorded history is replayed from scratch, so nondeterministic code fails here
 * (NonDeterminismError) as it would on a host.
 */
export async function runOrchestrator(handler: OrchestratorFunction, options: RunOrchestratorOptions = {}): Promise<RunOrchestratorResult> {
  if (typeof handler !== "function") throw new InvalidArgumentError("runOrchestrator: pass the orchestrator generator function.");
  const start = timeOf(options.startTime ?? DEFAULT_START_TIME, "startTime");
  const instanceId = options.instanceId ?? "test-instance";
  const results = new Map(Object.entries(options.results ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const));
  const entities = new Map(Object.entries(options.entities ?? {}).map(([k, v]) => [k.toLowerCase(), new Map(Object.entries(v).map(([op, b]) => [op.toLowerCase(), b] as const))] as const));
  const callCounts = new Map<string, number>();
  const maxSteps = options.maxSteps ?? 10_000;
  const queue: Delivery[] = [];
  let seq = 0;
  const deliver = (at: number, event: HistoryEvent): void => void queue.push({ at, seq: seq++, event });
  const iso = (t: number): string => new Date(t).toISOString();
  const scriptedEvents: readonly ScriptedEvent[] = Array.isArray(options.events) ? (options.events as readonly ScriptedEvent[]) : Object.entries(options.events ?? {}).map(([name, data]) => ({ name, data }));
  for (const e of scriptedEvents) {
    const at = start + (e.afterMs ?? 0);
    const input = serializePayload(e.data, `The data of event '${e.name}'`);
    deliver(at, { type: "EventRaised", eventId: -1, timestamp: iso(at), name: e.name, ...(input !== undefined ? { input } : {}) });
  }

  const rawInput = serializePayload(options.input, "The orchestration input");
  const started: ExecutionStartedEvent = {
    type: "ExecutionStarted",
    eventId: -1,
    timestamp: iso(start),
    name: handler.name || "orchestrator",
    instanceId,
    executionId: "test-execution",
    generation: 0,
    historyFormatVersion: HISTORY_FORMAT_VERSION,
    ...(rawInput !== undefined ? { input: rawInput } : {}),
  };
  const executor = new OrchestrationExecutor(handler);
  const history: HistoryEvent[] = [];
  const actions: ScheduledAction[] = [];
  let customStatus: string | undefined;
  let now = start;
  let batch: HistoryEvent[] = [started];
  let ids = 0;

  const respond = async (a: OrchestratorAction): Promise<void> => {
    const ts = iso(now);
    const call = (kind: string, name: string, behavior: MockBehavior<ScriptedCallContext>, input: string | undefined): Promise<{ ok: true; result: string | undefined } | { ok: false; failure: FailureDetails }> => {
      const n = (callCounts.get(`${kind}:${name.toLowerCase()}`) ?? 0) + 1;
      callCounts.set(`${kind}:${name.toLowerCase()}`, n);
      return (async () => {
        try {
          const value = await answer(behavior, parsePayload(input), { name, call: n, now: new Date(now) });
          return { ok: true as const, result: serializePayload(value, `The scripted result of '${name}'`) };
        } catch (err) {
          return { ok: false as const, failure: failureFromError(err) };
        }
      })();
    };
    const scripted = (kind: string, name: string): MockBehavior<ScriptedCallContext> => {
      const key = name.toLowerCase();
      if (!results.has(key)) {
        const known = [...results.keys()];
        throw new InvalidArgumentError(`runOrchestrator: the orchestration called ${kind} '${name}', which has no scripted result. Add it to options.results${known.length ? ` (scripted: ${known.join(", ")})` : ""}.`);
      }
      return results.get(key);
    };
    switch (a.kind) {
      case "ScheduleTask": {
        actions.push({ kind: "activity", name: a.name, input: parsePayload(a.input) });
        const r = await call("activity", a.name, scripted("activity", a.name), a.input);
        deliver(now, r.ok
          ? { type: "TaskCompleted", eventId: -1, timestamp: ts, taskScheduledId: a.id, ...(r.result !== undefined ? { result: r.result } : {}) }
          : { type: "TaskFailed", eventId: -1, timestamp: ts, taskScheduledId: a.id, reason: `Activity function '${a.name}' failed: ${r.failure.errorMessage}`, failureDetails: r.failure });
        return;
      }
      case "CreateSubOrchestration": {
        actions.push({ kind: "subOrchestration", name: a.name, input: parsePayload(a.input), instanceId: a.instanceId });
        const r = await call("subOrchestration", a.name, scripted("sub-orchestration", a.name), a.input);
        deliver(now, r.ok
          ? { type: "SubOrchestrationInstanceCompleted", eventId: -1, timestamp: ts, taskScheduledId: a.id, ...(r.result !== undefined ? { result: r.result } : {}) }
          : { type: "SubOrchestrationInstanceFailed", eventId: -1, timestamp: ts, taskScheduledId: a.id, reason: `Orchestrator function '${a.name}' failed: ${r.failure.errorMessage}`, failureDetails: r.failure });
        return;
      }
      case "CreateTimer": {
        actions.push({ kind: "timer", fireAt: new Date(a.fireAt) });
        const at = Math.max(now, Date.parse(a.fireAt));
        deliver(at, { type: "TimerFired", eventId: -1, timestamp: iso(at), timerId: a.id, fireAt: a.fireAt });
        return;
      }
      case "SendEvent":
        actions.push({ kind: "sendEvent", instanceId: a.instanceId, name: a.name, input: parsePayload(a.input) });
        return;
      case "SendEntityMessage": {
        const r = a.request;
        switch (r.type) {
          case "EntityOperationSignaled":
            actions.push({ kind: "signalEntity", entityId: r.targetInstanceId, operation: r.operation, input: parsePayload(r.input) });
            return;
          case "EntityOperationCalled": {
            actions.push({ kind: "callEntity", entityId: r.targetInstanceId, operation: r.operation, input: parsePayload(r.input) });
            const entityName = r.targetInstanceId.split("@")[1] ?? "";
            const behavior = entities.get(entityName.toLowerCase())?.get(r.operation.toLowerCase());
            if (behavior === undefined && !entities.get(entityName.toLowerCase())?.has(r.operation.toLowerCase())) {
              throw new InvalidArgumentError(`runOrchestrator: the orchestration called operation '${r.operation}' of entity ${r.targetInstanceId}, which has no scripted result. Add it as options.entities.${entityName}.${r.operation}.`);
            }
            const out = await call("entity", `${entityName}.${r.operation}`, behavior, r.input);
            deliver(now, out.ok
              ? { type: "EntityOperationCompleted", eventId: -1, timestamp: ts, requestId: r.requestId, ...(out.result !== undefined ? { result: out.result } : {}) }
              : { type: "EntityOperationFailed", eventId: -1, timestamp: ts, requestId: r.requestId, failureDetails: out.failure });
            return;
          }
          case "EntityLockRequested":
            actions.push({ kind: "lockEntities", entityIds: [...r.lockSet] });
            deliver(now, { type: "EntityLockGranted", eventId: -1, timestamp: ts, requestId: r.requestId });
            return;
          case "EntityUnlockSent":
            actions.push({ kind: "unlockEntity", entityId: r.targetInstanceId });
            return;
        }
      }
    }
  };

  for (let step = 0; step < maxSteps; step++) {
    const newEvents: HistoryEvent[] = [{ type: "OrchestratorStarted", eventId: -1, timestamp: iso(now) }, ...batch];
    const result = executor.execute([], newEvents);
    if (result.replayFailure) throw result.replayFailure;
    if (result.customStatus !== undefined) customStatus = result.customStatus;
    const commit = orchestrationStep({ instanceId, started, now, newId: () => `test-execution-${++ids}`, previousCustomStatus: customStatus }, result);
    history.push(...(commit.replaceHistory ? [] : commit.newHistory));
    for (const a of result.actions) await respond(a);
    if (result.completion) {
      if (result.completion.status !== "ContinuedAsNew") checkReplay(handler, history);
      const c = result.completion;
      const base = { actions, customStatus: parsePayload(customStatus), history: viewHistory(history), now: new Date(now) };
      if (c.status === "Failed") return { ...base, status: "Failed", error: new OrchestrationFailure(c.failureDetails ?? { errorType: "Error", errorMessage: "failed", isNonRetriable: false }) };
      return { ...base, status: c.status === "ContinuedAsNew" ? "ContinuedAsNew" : "Completed", output: parsePayload(c.result) };
    }
    if (queue.length === 0) {
      checkReplay(handler, history);
      return { status: "Running", actions, customStatus: parsePayload(customStatus), history: viewHistory(history), now: new Date(now) };
    }
    // The next moment something arrives: everything due then is one step, in arrival order.
    queue.sort((x, y) => x.at - y.at || x.seq - y.seq);
    now = Math.max(now, queue[0]!.at);
    batch = [];
    while (queue.length > 0 && queue[0]!.at <= now) batch.push(queue.shift()!.event);
  }
  throw new InvalidArgumentError(`runOrchestrator: the orchestration was still running after ${maxSteps} steps (raise maxSteps, or check for a loop).`);
}

/** Replays the recorded history on a fresh executor: code that decides differently the second time is nondeterministic. */
function checkReplay(handler: OrchestratorFunction, history: readonly HistoryEvent[]): void {
  const replay = new OrchestrationExecutor(handler).execute(history, []);
  if (replay.replayFailure) throw replay.replayFailure;
  if (replay.actions.length > 0) {
    throw new NonDeterminismError(`replaying the recorded history from scratch scheduled ${replay.actions.length} new action(s) (${replay.actions.map((a) => a.kind).join(", ")}); the orchestrator decides differently on replay (Date.now(), Math.random(), I/O?).`);
  }
}
