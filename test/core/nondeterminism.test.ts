import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OrchestratorFunction } from "../../src/core/context.js";
import { NonDeterminismError } from "../../src/core/errors.js";
import { OrchestrationExecutor } from "../../src/core/executor.js";
import type { HistoryEvent } from "../../src/core/history.js";
import {
  at,
  batch,
  episode,
  newEventSent,
  newExecutionStarted,
  newSubOrchestrationCreated,
  newTaskCompleted,
  newTaskScheduled,
  newTimerCreated,
} from "./factories.js";
import { orch, run } from "./harness.js";

const T = at(60_000);
const timerAt = () => new Date(Date.parse(T));
const start = () => newExecutionStarted("Orch");

interface Row {
  name: string;
  fn: OrchestratorFunction;
  past: HistoryEvent[];
  newEvents?: HistoryEvent[];
  /** What the history says was scheduled. */
  recorded: string;
  /** What the code produces now (or the wording for "nothing"). */
  produced: string;
  seq: number;
}

const rows: Row[] = [
  {
    name: "wrong activity name",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("Bill");
    }),
    past: episode(0, start(), newTaskScheduled(0, "Ship")),
    recorded: "an activity task named 'Ship'",
    produced: "instead scheduled an activity task named 'Bill'",
    seq: 0,
  },
  {
    name: "timer recorded, activity produced",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("A");
    }),
    past: episode(0, start(), newTimerCreated(0, T)),
    recorded: `a timer firing at ${T}`,
    produced: "instead produced a ScheduleTask action (an activity task named 'A')",
    seq: 0,
  },
  {
    name: "activity recorded, timer produced",
    fn: orch(function* (ctx) {
      yield ctx.df.createTimer(timerAt());
    }),
    past: episode(0, start(), newTaskScheduled(0, "A")),
    recorded: "an activity task named 'A'",
    produced: `instead produced a CreateTimer action (a timer firing at ${T})`,
    seq: 0,
  },
  {
    name: "activity recorded, sub-orchestration produced (same name)",
    fn: orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("Work");
    }),
    past: episode(0, start(), newTaskScheduled(0, "Work")),
    recorded: "an activity task named 'Work'",
    produced: "instead produced a CreateSubOrchestration action (a sub-orchestration named 'Work' (instance ID 'inst-1:0'))",
    seq: 0,
  },
  {
    name: "sub-orchestration recorded, activity produced",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("Work");
    }),
    past: episode(0, start(), newSubOrchestrationCreated(0, "Work", "inst-1:0")),
    recorded: "a sub-orchestration named 'Work' (instance ID 'inst-1:0')",
    produced: "instead produced a ScheduleTask action (an activity task named 'Work')",
    seq: 0,
  },
  {
    name: "sub-orchestration recorded, timer produced",
    fn: orch(function* (ctx) {
      yield ctx.df.createTimer(timerAt());
    }),
    past: episode(0, start(), newSubOrchestrationCreated(0, "Child", "c")),
    recorded: "a sub-orchestration named 'Child' (instance ID 'c')",
    produced: "instead produced a CreateTimer action",
    seq: 0,
  },
  {
    name: "sent event recorded, activity produced",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("Ping");
    }),
    past: episode(0, start(), newEventSent(0, "other", "Ping")),
    recorded: "an event named 'Ping' sent to instance 'other'",
    produced: "instead produced a ScheduleTask action (an activity task named 'Ping')",
    seq: 0,
  },
  {
    name: "missing action: history has a TaskScheduled the code no longer produces",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      return "done early";
    }),
    past: [...episode(0, start(), newTaskScheduled(0, "A")), ...episode(10, newTaskCompleted(0), newTaskScheduled(1, "B"))],
    recorded: "scheduled an activity task named 'B' with sequence ID 1",
    produced: "but the current replay execution hasn't (yet?) scheduled this task",
    seq: 1,
  },
  {
    name: "extra action in a recorded episode (two scheduled where history recorded one)",
    fn: orch(function* (ctx) {
      yield ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("Extra")]);
    }),
    past: episode(0, start(), newTaskScheduled(0, "A")),
    recorded: "but a previous execution of this orchestration did not schedule anything with this sequence number",
    produced: "The current replay execution scheduled an activity task named 'Extra' with sequence ID 1",
    seq: 1,
  },
  {
    name: "reordered calls",
    fn: orch(function* (ctx) {
      yield ctx.df.Task.all([ctx.df.callActivity("Second"), ctx.df.callActivity("First")]);
    }),
    past: episode(0, start(), newTaskScheduled(0, "First"), newTaskScheduled(1, "Second")),
    recorded: "an activity task named 'First'",
    produced: "instead scheduled an activity task named 'Second'",
    seq: 0,
  },
  {
    name: "changed sub-orchestration name",
    fn: orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("NewChild");
    }),
    past: episode(0, start(), newSubOrchestrationCreated(0, "OldChild", "inst-1:0")),
    recorded: "a sub-orchestration named 'OldChild' (instance ID 'inst-1:0')",
    produced: "instead scheduled a sub-orchestration named 'NewChild' (instance ID 'inst-1:0')",
    seq: 0,
  },
  {
    name: "changed sendEvent name",
    fn: orch(function* (ctx) {
      ctx.df.sendEvent("other", "Pong");
      yield ctx.df.waitForExternalEvent("Reply");
    }),
    past: episode(0, start(), newEventSent(0, "other", "Ping")),
    recorded: "an event named 'Ping' sent to instance 'other'",
    produced: "instead scheduled an event named 'Pong' sent to instance 'other'",
    seq: 0,
  },
  {
    name: "wrong name deep in the history (sequence number 2)",
    fn: orch(function* (ctx) {
      yield ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("B")]);
      yield ctx.df.callActivity("D");
    }),
    past: [...episode(0, start(), newTaskScheduled(0, "A"), newTaskScheduled(1, "B")), ...episode(10, newTaskCompleted(0), newTaskCompleted(1), newTaskScheduled(2, "C"))],
    recorded: "an activity task named 'C'",
    produced: "instead scheduled an activity task named 'D'",
    seq: 2,
  },
  {
    name: "mismatch found on a from-scratch replay that also has new events",
    fn: orch(function* (ctx) {
      yield ctx.df.callActivity("Renamed");
      yield ctx.df.callActivity("Next");
    }),
    past: episode(0, start(), newTaskScheduled(0, "Original")),
    newEvents: batch(10, newTaskCompleted(0)),
    recorded: "an activity task named 'Original'",
    produced: "instead scheduled an activity task named 'Renamed'",
    seq: 0,
  },
];

describe("nondeterminism detection", () => {
  for (const row of rows) {
    test(row.name, () => {
      // The executor reports the failure in its result (and stays broken) instead of throwing.
      const executor = new OrchestrationExecutor(row.fn);
      const result = executor.execute(row.past, row.newEvents ?? []);
      const thrown = result.replayFailure;
      assert.ok(thrown instanceof NonDeterminismError, `expected NonDeterminismError, got ${String(thrown)}`);
      assert.deepEqual([result.actions, result.completion], [[], undefined], "nothing else in a failed result counts");
      assert.ok(executor.isBroken);
      assert.equal(executor.execute([], []).replayFailure, thrown, "a broken executor keeps saying why");
      assert.equal(thrown.code, "NONDETERMINISM");
      const m = thrown.message;
      assert.ok(m.startsWith("Non-Deterministic workflow detected: "), m);
      assert.ok(m.includes(row.recorded), `message names the recorded side (${row.recorded}): ${m}`);
      assert.ok(m.includes(row.produced), `message names the produced side (${row.produced}): ${m}`);
      assert.ok(m.includes(`sequence ID ${row.seq}`), `message names sequence ID ${row.seq}: ${m}`);
    });
  }
});

describe("tolerated differences", () => {
  const ok: Array<{ name: string; fn: OrchestratorFunction; past: HistoryEvent[] }> = [
    {
      name: "activity name differs only in case",
      fn: orch(function* (ctx) {
        yield ctx.df.callActivity("SAYHELLO");
      }),
      past: episode(0, start(), newTaskScheduled(0, "SayHello")),
    },
    {
      name: "sub-orchestration name differs only in case",
      fn: orch(function* (ctx) {
        yield ctx.df.callSubOrchestrator("child");
      }),
      past: episode(0, start(), newSubOrchestrationCreated(0, "Child", "inst-1:0")),
    },
    {
      name: "sent event name differs only in case",
      fn: orch(function* (ctx) {
        ctx.df.sendEvent("other", "PING");
        yield ctx.df.waitForExternalEvent("x");
      }),
      past: episode(0, start(), newEventSent(0, "other", "Ping")),
    },
    {
      name: "inputs and timer fire times are not compared (only sequence, kind and name)",
      fn: orch(function* (ctx) {
        yield ctx.df.Task.all([ctx.df.callActivity("A", "new input"), ctx.df.createTimer(new Date(Date.parse(at(999))))]);
      }),
      past: episode(0, start(), newTaskScheduled(0, "A", "old input"), newTimerCreated(1, T)),
    },
  ];
  for (const row of ok) {
    test(row.name, () => {
      const r = run(row.fn, row.past, []);
      assert.deepEqual(r.actions, []);
      assert.equal(r.completion, undefined);
    });
  }
});
