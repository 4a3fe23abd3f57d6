import { AssertionError } from "node:assert";
import { isDeepStrictEqual } from "node:util";
import { readHistory } from "../core/history-v1.js";
import type { HistoryEvent, HistoryEventType } from "../core/history.js";
import { parsePayload } from "../core/payload.js";

type Viewed<E> = E extends HistoryEvent ? Omit<E, "input" | "result"> & { input?: unknown; result?: unknown } : never;
/** A stored history event with its payloads (`input`, `result`) parsed; `type` narrows the union. */
export type HistoryEventView = Viewed<HistoryEvent>;

/**
 * What `assertHistory` expects of one event: its type, or some of its fields (payloads as values,
 * `fireAt` as ISO text or a Date); fields not given are not compared.
 */
export type ExpectedEvent = HistoryEventType | ({ type: HistoryEventType } & Record<string, unknown>);

/** Events that mark each step's start and end: left out of assertHistory's comparison by default. */
const MARKERS = new Set<string>(["OrchestratorStarted", "OrchestratorCompleted"]);

export function viewHistory(events: readonly HistoryEvent[]): HistoryEventView[] {
  return readHistory(events).map((e) => {
    const v: Record<string, unknown> = { ...e };
    if ("input" in e && e.input !== undefined) v.input = parsePayload(e.input);
    if ("result" in e && e.result !== undefined) v.result = parsePayload(e.result);
    return v as HistoryEventView;
  });
}

function matches(actual: HistoryEventView, expected: ExpectedEvent): boolean {
  if (typeof expected === "string") return actual.type === expected;
  const a = actual as unknown as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) => {
    const want = v instanceof Date ? v.toISOString() : v;
    return isDeepStrictEqual(a[k], want);
  });
}

function describe(e: HistoryEventView | ExpectedEvent): string {
  if (typeof e === "string") return e;
  const { type, eventId, timestamp, ...rest } = e as Record<string, unknown>;
  void eventId;
  void timestamp;
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v instanceof Date ? v.toISOString() : v)}`);
  return fields.length > 0 ? `${String(type)} { ${fields.join(", ")} }` : String(type);
}

export interface AssertHistoryOptions {
  /** Compare OrchestratorStarted/OrchestratorCompleted too (default false: they are left out). */
  includeMarkers?: boolean;
}

/**
 * Asserts that `history` is exactly `expected`, event by event (markers left out unless asked):
 * throws node:assert's AssertionError with both lists when not, so it reads well in any runner.
 */
export function assertHistoryMatches(instanceId: string, history: readonly HistoryEventView[], expected: readonly ExpectedEvent[], options: AssertHistoryOptions = {}): void {
  const actual = options.includeMarkers ? history : history.filter((e) => !MARKERS.has(e.type));
  const n = Math.min(actual.length, expected.length);
  const index = actual.slice(0, n).findIndex((e, i) => !matches(e, expected[i]!));
  if (index === -1 && actual.length === expected.length) return;
  const at = index === -1 ? n : index;
  const why =
    index === -1
      ? actual.length > expected.length
        ? `it has ${actual.length - expected.length} more event(s) than expected, from #${at}: ${describe(actual[at]!)}`
        : `it ends after ${actual.length} event(s); expected #${at}: ${describe(expected[at]!)}`
      : `event #${at} is ${describe(actual[at]!)}; expected ${describe(expected[at]!)}`;
  throw new AssertionError({
    message: `History of '${instanceId}' does not match: ${why}.\n  actual:   ${actual.map(describe).join("\n            ")}\n  expected: ${expected.map(describe).join("\n            ")}`,
    actual: actual.map(describe),
    expected: expected.map(describe),
    operator: "assertHistory",
  });
}
