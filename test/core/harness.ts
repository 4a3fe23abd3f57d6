/**
 * A tiny worker stand-in for the core tests: runs episodes against an orchestrator and writes history
 * with core's step transition (src/core/orchestration-step.ts), as a worker does. Every step runs twice — on a fresh
 * executor replaying the whole history, and on one long-lived (cached) executor fed only the new
 * events — and asserts both decide the same thing.
 */
import assert from "node:assert/strict";
import type { OrchestrationContext, OrchestratorFunction } from "../../src/core/context.js";
import { type ExecutionResult, OrchestrationExecutor } from "../../src/core/executor.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../../src/core/history.js";
import { orchestrationStep } from "../../src/core/orchestration-step.js";
import type { Task } from "../../src/core/tasks.js";
import { at, newOrchestratorStarted } from "./factories.js";

/** Identity helper so orchestrator generators get their parameter type from context. */
export function orch(fn: (context: OrchestrationContext) => Generator<Task, unknown, unknown>): OrchestratorFunction {
  return fn;
}

/** Runs one execution of `fn` over `past` + `newEvents` on a fresh executor. */
export function run(fn: OrchestratorFunction, past: readonly HistoryEvent[], newEvents: readonly HistoryEvent[]): ExecutionResult {
  return new OrchestrationExecutor(fn).execute(past, newEvents);
}

/**
 * The history one step appends, written by core's own step transition (nothing when the step only
 * saw duplicates). `prior` is the history before the step, where the execution's start is found.
 */
export function stepHistory(result: ExecutionResult, timestamp: string, prior: readonly HistoryEvent[] = []): HistoryEvent[] {
  const started = [...prior, ...result.recordedEvents].find((e): e is ExecutionStartedEvent => e.type === "ExecutionStarted");
  assert.ok(started, "the execution's ExecutionStarted is in the history or the step");
  let n = 0;
  const step = orchestrationStep({ instanceId: started.instanceId, started, now: Date.parse(timestamp), newId: () => `execution-${n++}`, previousCustomStatus: undefined }, result);
  return step.replaceHistory ? [] : step.newHistory;
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
      failureDetails: r.completion.failureDetails && { errorType: r.completion.failureDetails.errorType, errorMessage: r.completion.failureDetails.errorMessage },
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
    this.history.push(...stepHistory(fresh, at(ms), this.history));
    return fresh;
  }
}
