/**
 * The executor cache is bounded twice: by count and by the bytes of payloads its executors hold.
 * The least recently used go first; one executor over the whole budget is not kept.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OrchestrationExecutor } from "../../src/core/executor.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../../src/core/history.js";
import { type CachedExecution, ExecutorCache, payloadBytes } from "../../src/worker/executor-cache.js";

function entry(bytes: number, historyLength = 1): CachedExecution {
  return {
    executor: {} as OrchestrationExecutor,
    executionId: "e1",
    started: { type: "ExecutionStarted", eventId: -1, timestamp: "", name: "o", instanceId: "i", executionId: "e1" } as ExecutionStartedEvent,
    historyLength,
    customStatus: undefined,
    bytes,
  };
}

describe("executor cache", () => {
  it("evicts the least recently used when the payload bytes pass the budget, and keeps the count bound", () => {
    const cache = new ExecutorCache(3, 1000);
    cache.put("a", entry(400));
    cache.put("b", entry(400));
    assert.equal(cache.bytes, 800);
    // "a" is used (taken and put back), so "b" is now the oldest.
    cache.put("a", cache.take("a", "e1", 1)!);
    cache.put("c", entry(300));
    assert.deepEqual([cache.historyLengthOf("a", "e1"), cache.historyLengthOf("b", "e1"), cache.historyLengthOf("c", "e1")], [1, undefined, 1]);
    assert.equal(cache.bytes, 700);
    cache.put("d", entry(10));
    cache.put("e", entry(10));
    assert.equal(cache.size, 3, "the count bound");
    assert.equal(cache.historyLengthOf("a", "e1"), undefined);
    assert.equal(cache.bytes, 320);
  });

  it("does not keep one executor over the whole budget, and counts what it gives out and takes back", () => {
    const cache = new ExecutorCache(10, 1000);
    cache.put("big", entry(1001));
    assert.equal(cache.size, 0);
    cache.put("x", entry(600));
    assert.equal(cache.takeAny("x")?.bytes, 600);
    assert.equal(cache.bytes, 0);
    cache.put("x", entry(700, 2));
    assert.equal(cache.take("x", "e1", 1), undefined, "another history length is a miss, and the entry goes");
    assert.equal(cache.bytes, 0);
    cache.put("y", entry(5));
    cache.delete("y");
    assert.deepEqual([cache.size, cache.bytes], [0, 0]);
  });

  it("counts the payload text of events: inputs and results", () => {
    const events = [
      { type: "ExecutionStarted", input: "x".repeat(100) },
      { type: "TaskScheduled", input: "y".repeat(10) },
      { type: "TaskCompleted", result: "z".repeat(1000) },
      { type: "TimerFired" },
    ] as unknown as HistoryEvent[];
    assert.equal(payloadBytes(events), 1110);
  });
});
