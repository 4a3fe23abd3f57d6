/**
 * `perdure/testing`: test orchestrations in milliseconds, with no store to set up and no timer to
 * wait for, on any test runner (nothing here assumes node:test, Vitest or Jest globals).
 *
 * - `createTestHost(...)`: a real host on the memory store with a manual clock, mocks by name, call
 *   records, entity seeding and history assertions.
 * - `runOrchestrator(handler, ...)`: one orchestrator on the real replay engine with scripted results,
 *   no host at all.
 * - `replayHistories(app, histories)`: exported histories replayed against the current code (also
 *   exported from `perdure`; `perdure replay` is its CLI).
 *
 * docs/testing.md shows both.
 */
export { createTestHost, TestHost, type StatusCondition, type TestHostOptions, type WaitForStatusOptions } from "./testing/test-host.js";
export { runOrchestrator, OrchestrationFailure, type RunOrchestratorOptions, type RunOrchestratorResult, type ScheduledAction, type ScriptedCallContext, type ScriptedEvent } from "./testing/runner.js";
export { mockSequence, type MockBehavior, type MockFailure, type RecordedCall } from "./testing/mocks.js";
export { assertHistoryMatches, type AssertHistoryOptions, type ExpectedEvent, type HistoryEventView } from "./testing/history.js";
export { ManualClock } from "./testing/clock.js";
export { replayHistories, HISTORY_EXPORT_FORMAT, type ExportedHistory, type ReplayDivergence, type ReplayOk, type ReplayResult } from "./runtime/replay-check.js";
