/** The dashboard's timeline model, from stored history events: rows, retries, markers, paging. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HistoryEvent } from "../../src/core/history.js";
import { formatDuration, TimelineBuilder } from "../../src/dashboard/timeline.js";

const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const failure = { errorType: "Error", errorMessage: "no", isNonRetriable: false };
const scheduled = (eventId: number, ms: number, name: string, input?: string): HistoryEvent => ({ type: "TaskScheduled", eventId, timestamp: at(ms), name, ...(input !== undefined ? { input } : {}) });
const failed = (taskScheduledId: number, ms: number): HistoryEvent => ({ type: "TaskFailed", eventId: -1, timestamp: at(ms), taskScheduledId, reason: "no", failureDetails: failure });

/** An activity retried twice (two failures, two delays), a sub-orchestration, an entity call and an event. */
function history(): HistoryEvent[] {
  return [
    { type: "ExecutionStarted", eventId: -1, timestamp: at(0), name: "o", instanceId: "i", executionId: "e", generation: 0, historyFormatVersion: 2, input: "1" },
    { type: "TaskScheduled", eventId: 0, timestamp: at(1), name: "flaky", input: "7" },
    { type: "TaskScheduled", eventId: 1, timestamp: at(1), name: "flaky", input: "8" },
    { type: "TaskFailed", eventId: -1, timestamp: at(11), taskScheduledId: 0, reason: "no", failureDetails: failure },
    { type: "TimerCreated", eventId: 2, timestamp: at(12), fireAt: at(42) },
    { type: "TaskCompleted", eventId: -1, timestamp: at(15), taskScheduledId: 1, result: "80" },
    { type: "TimerFired", eventId: -1, timestamp: at(43), timerId: 2, fireAt: at(42) },
    { type: "TaskScheduled", eventId: 3, timestamp: at(44), name: "flaky", input: "7" },
    { type: "TaskFailed", eventId: -1, timestamp: at(50), taskScheduledId: 3, reason: "no", failureDetails: failure },
    { type: "TimerCreated", eventId: 4, timestamp: at(51), fireAt: at(111) },
    { type: "TimerFired", eventId: -1, timestamp: at(112), timerId: 4, fireAt: at(111) },
    { type: "TaskScheduled", eventId: 5, timestamp: at(113), name: "flaky", input: "7" },
    { type: "TaskCompleted", eventId: -1, timestamp: at(120), taskScheduledId: 5, result: "70" },
    { type: "SubOrchestrationInstanceCreated", eventId: 6, timestamp: at(121), name: "child", instanceId: "i-child", input: "21" },
    { type: "EntityOperationCalled", eventId: 7, timestamp: at(122), requestId: "r1", targetInstanceId: "@counter@a", operation: "add", parentInstanceId: "i", parentExecutionId: "e", input: "1" },
    { type: "EventRaised", eventId: -1, timestamp: at(125), name: "Approve", input: "true" },
    { type: "EntityOperationCompleted", eventId: -1, timestamp: at(130), requestId: "r1", result: "1" },
    { type: "SubOrchestrationInstanceFailed", eventId: -1, timestamp: at(140), taskScheduledId: 6, reason: "x", failureDetails: failure },
    { type: "ExecutionSuspended", eventId: -1, timestamp: at(141) },
  ];
}

describe("the dashboard's timeline", () => {
  it("makes a row per awaited thing, with its start, end and outcome", () => {
    const b = new TimelineBuilder();
    b.add(history());
    const t = b.snapshot();
    assert.equal(t.eventCount, 19);
    assert.equal(t.first, Date.parse(at(0)));
    assert.equal(t.last, Date.parse(at(141)));
    const rows = t.rows.map((r) => [r.kind, r.label, r.state, r.attempt, r.end === undefined ? undefined : r.end - r.start]);
    assert.deepEqual(rows, [
      ["activity", "flaky", "failed", 1, 10],
      ["activity", "flaky", "completed", 1, 14],
      ["timer", "retry delay (flaky)", "completed", 1, 31],
      ["activity", "flaky", "failed", 2, 6],
      ["timer", "retry delay (flaky)", "completed", 1, 61],
      ["activity", "flaky", "completed", 3, 7],
      ["suborchestration", "child", "failed", 1, 19],
      ["entity", "add → @counter@a", "completed", 1, 8],
      ["event", "event Approve", "instant", 1, 0],
      ["lifecycle", "suspended", "instant", 1, 0],
    ]);
    assert.deepEqual(t.rows.map((r) => r.retried === true), [true, false, false, true, false, false, false, false, false, false]);
    assert.deepEqual(t.children, [{ instanceId: "i-child", name: "child" }]);
    assert.equal(t.rows[6]!.target, "i-child");
    assert.equal(t.rows[0]!.inputPreview, "7");
    assert.deepEqual(t.rows[5]!.events.map((e) => e.type), ["TaskScheduled", "TaskCompleted"]);
  });

  it("does not take the same function with another input for a retry", () => {
    const b = new TimelineBuilder();
    b.add([scheduled(0, 0, "f", "1"), failed(0, 1), scheduled(1, 2, "f", "2")]);
    assert.deepEqual(b.snapshot().rows.map((r) => [r.attempt, r.state, r.retried ?? false]), [
      [1, "failed", false],
      [1, "running", false],
    ]);
  });

  it("pairs each retry with its own delay when several fail together", () => {
    const b = new TimelineBuilder();
    b.add([
      scheduled(0, 0, "f", "1"),
      scheduled(1, 0, "f", "1"),
      scheduled(2, 0, "g"),
      failed(0, 5),
      failed(1, 5),
      failed(2, 5),
      { type: "TimerCreated", eventId: 3, timestamp: at(6), fireAt: at(16) },
      { type: "TimerCreated", eventId: 4, timestamp: at(6), fireAt: at(16) },
      { type: "TimerCreated", eventId: 5, timestamp: at(6), fireAt: at(16) },
      { type: "TimerFired", eventId: -1, timestamp: at(17), timerId: 3, fireAt: at(16) },
      { type: "TimerFired", eventId: -1, timestamp: at(17), timerId: 4, fireAt: at(16) },
      { type: "TimerFired", eventId: -1, timestamp: at(17), timerId: 5, fireAt: at(16) },
      scheduled(6, 18, "f", "1"),
      scheduled(7, 18, "f", "1"),
      scheduled(8, 18, "g"),
    ]);
    const rows = b.snapshot().rows;
    assert.deepEqual(rows.map((r) => [r.key, r.attempt, r.retried ?? false, r.retryDelayFor ?? ""]), [
      [0, 1, true, ""],
      [1, 1, true, ""],
      [2, 1, true, ""],
      [3, 1, false, "f attempt 2"],
      [4, 1, false, "f attempt 2"],
      [5, 1, false, "g attempt 2"],
      [6, 2, false, ""],
      [7, 2, false, ""],
      [8, 2, false, ""],
    ]);
  });

  it("does not take a call after a failure for a retry when no delay came between", () => {
    const b = new TimelineBuilder();
    b.add([scheduled(0, 0, "f", "1"), failed(0, 1), scheduled(1, 2, "f", "1")]);
    assert.deepEqual(b.snapshot().rows.map((r) => r.attempt), [1, 1]);
  });

  it("builds the same timeline from pages of any size", () => {
    const events = history();
    const whole = new TimelineBuilder();
    whole.add(events);
    for (const size of [1, 2, 5, 7]) {
      const paged = new TimelineBuilder();
      for (let i = 0; i < events.length; i += size) paged.add(events.slice(i, i + size));
      assert.deepEqual(paged.snapshot(), whole.snapshot(), `pages of ${size}`);
    }
  });

  it("keeps an unfinished task open, with a timer's due time", () => {
    const b = new TimelineBuilder();
    b.add([
      { type: "TaskScheduled", eventId: 0, timestamp: at(0), name: "slow" },
      { type: "TimerCreated", eventId: 1, timestamp: at(0), fireAt: at(60_000) },
    ]);
    const [task, timer] = b.snapshot().rows;
    assert.equal(task!.state, "running");
    assert.equal(task!.end, undefined);
    assert.equal(timer!.due, Date.parse(at(60_000)));
  });

  it("writes durations for people", () => {
    assert.deepEqual([0, 12, 1500, 12_340, 61_000, 3_720_000, 90_000_000, -1].map(formatDuration), ["0 ms", "12 ms", "1.50 s", "12.3 s", "1 min 1 s", "1 h 2 min", "1 d 1 h", ""]);
  });
});
