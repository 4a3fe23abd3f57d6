import type { TraceContext } from "../core/history.js";
import type { StepCommit } from "../core/step-commit.js";

/**
 * Carries a step's trace context with what the step sends: its activity tasks and messages go out
 * with the step span's context (their spans become its children, on whichever host runs them), a
 * sub-orchestration's start with it too, and the next execution of a continueAsNew with the
 * orchestration's own context (each generation stays in the trace that started the first).
 */
export function traceCommit(commit: StepCommit, step: TraceContext | undefined, orchestration: TraceContext | undefined): void {
  if (!step) return;
  const metadata = step.tracestate ? { traceparent: step.traceparent, tracestate: step.tracestate } : { traceparent: step.traceparent };
  for (const t of commit.activityTasks) t.metadata = { ...t.metadata, ...metadata };
  for (const m of commit.messages) {
    const e = m.message.event;
    if (e.type === "ExecutionStarted") {
      const carried = m.kind === "startChild" ? step : orchestration;
      if (carried) e.traceContext = carried;
    } else m.message.metadata = { ...m.message.metadata, ...metadata };
  }
}
