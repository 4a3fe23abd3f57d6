/**
 * A tiny worker stand-in for the core tests: runs episodes against an orchestrator and writes history
 * the way src/worker/orchestration-step.ts does (recorded events, one scheduling event per action,
 * ExecutionCompleted on completion, OrchestratorCompleted). Every step runs twice — on a fresh
 * executor replaying the whole history, and on one long-lived (cached) executor fed only the new
 * events — and asserts both decide the same thing.
 */
import assert from "node:assert/strict";
import type { OrchestratorAction } from "../../src/core/actions.js";
import type { OrchestrationContext, OrchestratorFunction } from "../../src/core/context.js";
import { type ExecutionResult, OrchestrationExecutor } from "../../src/core/executor.js";
import type { HistoryEvent } from "../../src/core/history.js";
import type { Task } from "../../src/core/tasks.js";
import { at, newOrchestratorCompleted, newOrchestratorStarted } from "./factories.js";

/** Identity helper so orchestrator generators get their parameter type from context. */
export function orch(fn: (context: OrchestrationContext) => Generator<Task, unknown, unknown>): OrchestratorFunction {
  return fn;
}

/** Runs one execution of `fn` over `past` + `newEvents` on a fresh executor. */
export function run(fn: OrchestratorFunction, past: readonly HistoryEvent[], newEvents: readonly HistoryEvent[]): ExecutionResult {
  return new OrchestrationExecutor(fn).execute(past, newEvents);
}

/** The scheduling history event that records an action (same shape the worker writes). */
export function schedulingEvent(a: OrchestratorAction, timestamp: string): HistoryEvent {
  const input = a.kind !== "CreateTimer" && a.input !== undefined ? { input: a.input } : {};
  switch (a.kind) {
    case "ScheduleTask":
      return { type: "TaskScheduled", eventId: a.id, timestamp, name: a.name, ...input };
    case "CreateTimer":
      return { type: "TimerCreated", eventId: a.id, timestamp, fireAt: a.fireAt };
    case "CreateSubOrchestration":
      return { type: "SubOrchestrationInstanceCreated", eventId: a.id, timestamp, name: a.name, instanceId: a.instanceId, ...input };
    case "SendEvent":
      return { type: "EventSent", eventId: a.id, timestamp, instanceId: a.instanceId, name: a.name, ...input };
  }
}

/** The history one step appends, as buildCommit writes it (nothing when the step only saw duplicates). */
export function stepHistory(result: ExecutionResult, timestamp: string): HistoryEvent[] {
  const h: HistoryEvent[] = [...result.recordedEvents, ...result.actions.map((a) => schedulingEvent(a, timestamp))];
  const c = result.completion;
  if (c && c.status !== "ContinuedAsNew") {
    const done: HistoryEvent = { type: "ExecutionCompleted", eventId: -1, timestamp, orchestrationStatus: c.status };
    if (c.result !== undefined) done.result = c.result;
    if (c.failureDetails) done.failureDetails = c.failureDetails;
    h.push(done);
  }
  h.push(newOrchestratorCompleted(timestamp));
  return h.some((e) => e.type !== "OrchestratorStarted" && e.type !== "OrchestratorCompleted") ? h : [];
}

/** Compares what two executions decided, ignoring error stacks (they differ by call path). */
export function assertSameDecision(actual: ExecutionResult, expected: ExecutionResult, label: string): void {
  const strip = (r: ExecutionResult): unknown => ({
    actions: r.actions,
    recordedEvents: r.recordedEvents,
    customStatus: r.customStatus,
    suspended: r.suspended,
    completion: r.completion && {
      ...r.completion,
      failureDetails: r.completion.failureDetails && { errorType: r.completion.failureDetails.errorType, message: r.completion.failureDetails.message },
    },
  });
  assert.deepEqual(strip(actual), strip(expected), label);
}

export class Simulation {
  readonly history: HistoryEvent[] = [];
  private readonly cached: OrchestrationExecutor;
  private steps = 0;

  constructor(private readonly fn: OrchestratorFunction) {
    this.cached = new OrchestrationExecutor(fn);
  }

  /** One episode at T0 + ms: OrchestratorStarted then `events`. Returns the from-scratch replay's result. */
  step(ms: number, ...events: HistoryEvent[]): ExecutionResult {
    const newEvents = [newOrchestratorStarted(at(ms)), ...events];
    const fresh = new OrchestrationExecutor(this.fn).execute(this.history, newEvents);
    const incremental = this.cached.execute([], newEvents);
    assertSameDecision(incremental, fresh, `step ${this.steps}: cached executor and full replay agree`);
    this.steps++;
    this.history.push(...stepHistory(fresh, at(ms)));
    return fresh;
  }
}
