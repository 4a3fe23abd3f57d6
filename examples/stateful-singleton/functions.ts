/**
 * Pattern 6, stateful singleton: an eternal counter orchestration under a fixed instance ID. Each
 * execution waits for one operation event — "add" (payload: a number, default 1), "reset", "get"
 * (payload `{ replyTo: instanceId }`: the value is sent back to that orchestration as a "counterValue"
 * event) or "end" — applies it and calls `continueAsNew` with the new state, so the history never grows.
 * The current value is visible in the custom status. Events that arrive while an operation is being
 * applied are carried over to the next execution, so a burst of operations is never lost. "end" stops
 * the counter; its output is the final value.
 */
import * as df from "../../src/index.js";
import type { DurableApp, Task } from "../../src/index.js";

export const ORCHESTRATOR = "counter";
/** The counter's fixed instance ID: one counter, started once, addressed by name. */
export const COUNTER_ID = "counter-singleton";
/** An orchestration that asks the counter for its value with "get" and returns the answer. */
export const READER = "readCounter";
export const REPLY_EVENT = "counterValue";

export interface CounterState {
  value: number;
  /** Operations applied so far, over all executions. */
  operations: number;
}

export function register(app: DurableApp): void {
  app.orchestration(ORCHESTRATOR, function* (context) {
    const input = context.df.getInput<Partial<CounterState> | number | undefined>();
    const state: CounterState = typeof input === "number" ? { value: input, operations: 0 } : { value: input?.value ?? 0, operations: input?.operations ?? 0 };
    context.df.setCustomStatus(state);

    const add = context.df.waitForExternalEvent("add");
    const reset = context.df.waitForExternalEvent("reset");
    const get = context.df.waitForExternalEvent("get");
    const end = context.df.waitForExternalEvent("end");
    const operation = (yield context.df.Task.any([add, reset, get, end])) as Task;

    if (operation === end) return state.value;
    if (operation === add) state.value += typeof add.result === "number" ? add.result : 1;
    else if (operation === reset) state.value = 0;
    else if (operation === get) {
      const replyTo = (get.result as { replyTo?: unknown } | undefined)?.replyTo;
      if (typeof replyTo === "string" && replyTo !== "") context.df.sendEvent(replyTo, REPLY_EVENT, state.value);
    }
    state.operations++;
    context.df.setCustomStatus(state);
    // A fresh execution with the new state; unconsumed events are handed over to it.
    context.df.continueAsNew(state);
    return undefined;
  });

  app.orchestration(READER, function* (context) {
    const counterId = context.df.getInput<string | undefined>() ?? COUNTER_ID;
    context.df.sendEvent(counterId, "get", { replyTo: context.df.instanceId });
    return yield context.df.waitForExternalEvent(REPLY_EVENT);
  });
}

register(df.app);
