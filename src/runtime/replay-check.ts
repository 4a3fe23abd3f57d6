import { describeAction, actionOfEvent, type OrchestratorAction } from "../core/actions.js";
import type { OrchestrationContext, OrchestratorFunction } from "../core/context.js";
import { InvalidArgumentError, isDurableError } from "../core/errors.js";
import { OrchestrationExecutor, type ExecutionResult } from "../core/executor.js";
import { type HistoryEvent, isSchedulingEvent } from "../core/history.js";
import { appFrame } from "./package-root.js";
import type { FunctionRegistry } from "./registry.js";

/** The `format` of a history file written by `perdure instances export`. */
export const HISTORY_EXPORT_FORMAT = "perdure.history/1";

/** One instance's stored history (its current execution), as `perdure instances export` writes it. */
export interface ExportedHistory {
  format?: string;
  instanceId: string;
  /** The orchestrator's name; the history's ExecutionStarted event wins when it has one. */
  name?: string;
  history: readonly HistoryEvent[];
}

export interface ReplayOk {
  instanceId: string;
  name: string;
  ok: true;
}

/** The first place where the current code no longer does what the history recorded. */
export interface ReplayDivergence {
  instanceId: string;
  name: string;
  ok: false;
  /** `NONDETERMINISM`, `FUNCTION_NOT_FOUND` (no such orchestrator in the app) or `HISTORY_UNREADABLE`. */
  code: string;
  /** The position (0-based) in `history` of the event at which replay stopped. */
  eventIndex: number;
  /** What the history recorded there, in words. */
  recorded: string;
  /** What the code does now at that point, in words. */
  now: string;
  /** The runtime's own message (the one a host would park the instance with). */
  message: string;
  /** `file:line:column` in the app's code of the call that makes the code's side, when known. */
  source?: string;
}

export type ReplayResult = ReplayOk | ReplayDivergence;

/**
 * Replays stored histories against the orchestrators of `app` (an app from `df.app`/`createApp()`, or
 * its registry) and tells, per instance, whether the current code still follows each history, or
 * where it first departs from it: the check to run in CI before deploying new orchestrator code, on
 * histories exported from production with `perdure instances export`. The same replay and the same
 * nondeterminism checks as a host's; no activity, timer or store is involved.
 */
export function replayHistories(app: { readonly registry: FunctionRegistry } | FunctionRegistry, histories: readonly ExportedHistory[]): ReplayResult[] {
  const registry = "registry" in app ? app.registry : app;
  const list: unknown = histories;
  if (!Array.isArray(list)) throw new InvalidArgumentError("replayHistories takes an array of histories ({ instanceId, history: [...] }).");
  return histories.map((h, i) => replayOne(registry, checkHistory(h, i)));
}

function checkHistory(h: ExportedHistory, i: number): ExportedHistory {
  if (typeof h !== "object" || h === null) throw new InvalidArgumentError(`History ${i} is not an object ({ instanceId, history: [...] }).`);
  if (typeof h.instanceId !== "string" || h.instanceId === "") throw new InvalidArgumentError(`History ${i} has no instanceId.`);
  if (!Array.isArray(h.history)) throw new InvalidArgumentError(`History ${i} ('${h.instanceId}') has no history array.`);
  h.history.forEach((e, j) => {
    if (typeof e !== "object" || e === null || typeof (e as { type?: unknown }).type !== "string") {
      throw new InvalidArgumentError(`History ${i} ('${h.instanceId}'): event ${j} is not a history event (an object with a "type").`);
    }
  });
  return h;
}

function replayOne(registry: FunctionRegistry, h: ExportedHistory): ReplayResult {
  const history = h.history;
  const startIndex = history.findIndex((e) => e.type === "ExecutionStarted");
  const started = history[startIndex];
  const name = started?.type === "ExecutionStarted" ? started.name : (h.name ?? "");
  const ok: ReplayOk = { instanceId: h.instanceId, name, ok: true };
  if (!started) return ok; // never started: nothing to replay
  const fn = registry.getOrchestration(name);
  if (!fn) {
    const known = registry.orchestrationNames();
    return {
      instanceId: h.instanceId,
      name,
      ok: false,
      code: "FUNCTION_NOT_FOUND",
      eventIndex: startIndex,
      recorded: `the orchestrator '${name}' started`,
      now: `the app has no orchestrator named '${name}' (it has ${known.map((k) => `'${k}'`).join(", ") || "none"})`,
      message: `The orchestrator '${name}' is not registered in the app: a host running this code parks the instance (FUNCTION_NOT_FOUND).`,
    };
  }
  const full = run(fn.handler, history);
  if (!full.result.replayFailure) return ok;
  // The first event replay stops at: failing is monotonic in the length of the history replayed.
  let lo = 1;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (run(fn.handler, history.slice(0, mid)).result.replayFailure) hi = mid;
    else lo = mid + 1;
  }
  const eventIndex = lo - 1;
  const failing = run(fn.handler, history.slice(0, lo)).result.replayFailure ?? full.result.replayFailure;
  const before = run(fn.handler, history.slice(0, eventIndex));
  const event = history[eventIndex]!;
  const code = isDurableError(failing) ? failing.code : "NONDETERMINISM";
  const divergence: ReplayDivergence = { instanceId: h.instanceId, name, ok: false, code, eventIndex, recorded: "", now: "", message: failing.message };
  if (code === "HISTORY_UNREADABLE" || !(isSchedulingEvent(event) || event.type === "OrchestratorCompleted")) {
    divergence.recorded = `an event of type ${JSON.stringify(event.type)}`;
    divergence.now = code === "HISTORY_UNREADABLE" ? "this version of Perdure cannot read it" : failing.message;
    return divergence;
  }
  const action = isSchedulingEvent(event) ? before.result.actions.find((a) => a.id === event.eventId) : before.result.actions[0];
  divergence.recorded = isSchedulingEvent(event) ? `${describeAction(actionOfEvent(event))} (sequence ${event.eventId})` : `nothing more in this step (${next(history, eventIndex)})`;
  if (action) {
    divergence.now = `${describeAction(action)} (sequence ${action.id})`;
    const source = before.sources.get(action.id);
    if (source) divergence.source = source;
  } else {
    divergence.now = codeIdle(before);
    // Where it waits: the last call it made, unless it ended or scheduled something else.
    if (before.lastCall?.source && !before.result.completion && before.result.actions.length === 0) divergence.source = before.lastCall.source;
  }
  return divergence;
}

/** What the code does when it schedules nothing at the point where the history has something. */
function codeIdle(r: Run): string {
  const c = r.result.completion;
  if (c?.status === "Failed") return `nothing: the orchestrator failed (${c.failureDetails?.errorMessage ?? "an error"})`;
  if (c) return `nothing: the orchestrator ended (${c.status})`;
  const pending = r.result.actions;
  if (pending.length > 0) return `nothing with this sequence number (it scheduled ${pending.map((a: OrchestratorAction) => `${describeAction(a)} as sequence ${a.id}`).join(", ")})`;
  return r.lastCall ? `nothing: it waits at ${r.lastCall.what}` : "nothing: it waits";
}

/** What the history does after the step that ended at `index`. */
function next(history: readonly HistoryEvent[], index: number): string {
  for (let j = index + 1; j < history.length; j++) {
    const e = history[j]!;
    if (e.type === "OrchestratorStarted" || e.type === "OrchestratorCompleted") continue;
    return `the history goes on with ${describeEvent(e)} at event ${j}`;
  }
  return "the instance was waiting here when the history was exported";
}

function describeEvent(e: HistoryEvent): string {
  switch (e.type) {
    case "EventRaised":
      return `the external event '${e.name}'`;
    case "TimerFired":
      return `timer ${e.timerId} firing`;
    case "TaskCompleted":
    case "TaskFailed":
    case "SubOrchestrationInstanceCompleted":
    case "SubOrchestrationInstanceFailed":
      return `${e.type} of sequence ${e.taskScheduledId}`;
    case "ExecutionCompleted":
      return `the end of the execution (${e.orchestrationStatus})`;
    default:
      return e.type;
  }
}

interface Call {
  what: string;
  source: string | undefined;
  task: unknown;
}

interface Run {
  result: ExecutionResult;
  /** Where in the app's code each scheduled sequence number was asked for. */
  sources: Map<number, string>;
  /** The last call the code made on context.df (where it waits, when it schedules nothing). */
  lastCall: Call | undefined;
}

/** The context.df calls whose call site is worth naming. */
const TRACED = new Set(["callActivity", "callActivityWithRetry", "callSubOrchestrator", "callSubOrchestratorWithRetry", "createTimer", "waitForExternalEvent", "callEntity", "callHttp", "sendEvent", "signalEntity", "lock"]);

/** Replays `history` from scratch through a fresh executor, noting where the code made each call. */
function run(handler: OrchestratorFunction, history: readonly HistoryEvent[]): Run {
  const calls: Call[] = [];
  const traced: OrchestratorFunction = (ctx) => handler(tracing(ctx, calls));
  const result = new OrchestrationExecutor(traced).execute(history, []);
  const sources = new Map<number, string>();
  for (const c of calls) {
    const id = (c.task as { id?: unknown } | undefined)?.id;
    if (typeof id === "number" && id >= 0 && c.source && !sources.has(id)) sources.set(id, c.source);
  }
  return { result, sources, lastCall: calls.at(-1) };
}

/** The context with its `df` calls noted (call site, and the task each returns). */
function tracing(ctx: OrchestrationContext, calls: Call[]): OrchestrationContext {
  const df = ctx.df;
  const dfProxy = new Proxy(df, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof prop !== "string" || !TRACED.has(prop) || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const source = appFrame(new Error().stack);
        const task: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        const first = args[0];
        const arg = typeof first === "string" ? `'${first}'` : first instanceof Date ? first.toISOString() : "";
        calls.push({ what: `${prop}(${arg})${source ? ` (${source})` : ""}`, source, task });
        return task;
      };
    },
  });
  return new Proxy(ctx, {
    get(target, prop) {
      if (prop === "df") return dfProxy;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

