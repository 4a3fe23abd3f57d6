/**
 * The history as a timeline: one row per thing the orchestration waited on (an activity, a
 * sub-orchestration, a timer, an entity call or lock) with its start and end, and one marker per
 * instant (an event raised or sent, a signal, a suspension). Retries are recognised as a new attempt
 * of the same function with the same input after a failed one. Built incrementally, a page of events
 * at a time, so a long history is drawn while it loads.
 */
import type { HistoryEvent } from "../core/history.js";

export type RowKind = "activity" | "suborchestration" | "timer" | "entity" | "lock" | "event" | "sent" | "signal" | "lifecycle";
export type RowState = "running" | "completed" | "failed" | "instant";

export interface TimelineRow {
  /** The eventId of the scheduling event (unique within an execution), or a negative position for markers. */
  key: number;
  kind: RowKind;
  label: string;
  start: number;
  /** Absent while it runs. A timer's planned end is `due`. */
  end?: number;
  due?: number;
  state: RowState;
  /** 1 for a first try; 2, 3, ... for retries. */
  attempt: number;
  /** Set on a failed attempt that was tried again. */
  retried?: boolean;
  /** Set on the timer that waited between two attempts. */
  retryDelayFor?: string;
  /** The start of the input (activities and sub-orchestrations), to tell a fan-out's rows apart. */
  inputPreview?: string;
  /** A sub-orchestration's instance id, or the target of an entity call or sent event. */
  target?: string;
  /** The events behind the row (scheduling, then completion): what the detail pane shows. */
  events: HistoryEvent[];
}

export interface Timeline {
  rows: TimelineRow[];
  eventCount: number;
  first?: number;
  last?: number;
  /** Sub-orchestrations started by this execution. */
  children: { instanceId: string; name: string }[];
}

const ms = (iso: string): number => Date.parse(iso);

export class TimelineBuilder {
  private readonly rows: TimelineRow[] = [];
  private readonly open = new Map<number, TimelineRow>();
  private readonly entityOpen = new Map<string, TimelineRow>();
  /**
   * Failed attempts per kind, name and input, oldest first, not yet followed by another attempt:
   * a new attempt of the same after a delay timer is a retry (of the oldest, as the retry timers
   * fire and the retries are scheduled in the order the failures were handled).
   */
  private readonly failedAttempts = new Map<string, TimelineRow[]>();
  private readonly retryKeys = new WeakMap<TimelineRow, string>();
  private readonly timers: TimelineRow[] = [];
  private firstFreeTimer = 0;
  private readonly children: { instanceId: string; name: string }[] = [];
  private count = 0;
  private first: number | undefined;
  private last: number | undefined;
  private markers = 0;

  add(events: readonly HistoryEvent[]): void {
    for (const e of events) this.addOne(e);
  }

  snapshot(): Timeline {
    return {
      rows: this.rows.slice(),
      eventCount: this.count,
      ...(this.first !== undefined ? { first: this.first } : {}),
      ...(this.last !== undefined ? { last: this.last } : {}),
      children: this.children.slice(),
    };
  }

  private addOne(e: HistoryEvent): void {
    this.count++;
    const t = ms(e.timestamp);
    if (Number.isFinite(t)) {
      if (this.first === undefined || t < this.first) this.first = t;
      if (this.last === undefined || t > this.last) this.last = t;
    }
    switch (e.type) {
      case "TaskScheduled":
        this.schedule(e, "activity", e.name, t, `activity:${e.name}:${e.input ?? ""}`);
        break;
      case "SubOrchestrationInstanceCreated":
        this.schedule(e, "suborchestration", e.name, t, `sub:${e.name}:${e.input ?? ""}`, e.instanceId);
        this.children.push({ instanceId: e.instanceId, name: e.name });
        break;
      case "TimerCreated": {
        const row = this.schedule(e, "timer", "timer", t);
        row.due = ms(e.fireAt);
        this.timers.push(row);
        break;
      }
      case "TaskCompleted":
      case "SubOrchestrationInstanceCompleted":
      case "TimerFired":
        this.close(e.type === "TimerFired" ? e.timerId : e.taskScheduledId, e, t, "completed");
        break;
      case "TaskFailed":
      case "SubOrchestrationInstanceFailed":
        this.close(e.taskScheduledId, e, t, "failed");
        break;
      case "EntityOperationCalled":
        this.entityOpen.set(e.requestId, this.schedule(e, "entity", `${e.operation} → ${e.targetInstanceId}`, t, undefined, e.targetInstanceId));
        break;
      case "EntityLockRequested":
        this.entityOpen.set(e.requestId, this.schedule(e, "lock", `lock ${e.lockSet.join(", ")}`, t));
        break;
      case "EntityOperationCompleted":
      case "EntityLockGranted":
      case "EntityOperationFailed": {
        const row = this.entityOpen.get(e.requestId);
        if (!row) break;
        this.entityOpen.delete(e.requestId);
        row.end = t;
        row.state = e.type === "EntityOperationFailed" ? "failed" : "completed";
        row.events.push(e);
        break;
      }
      case "EventRaised":
        this.marker(e, "event", `event ${e.name}`, t);
        break;
      case "EventSent":
        this.marker(e, "sent", `sent ${e.name} → ${e.instanceId}`, t, e.instanceId);
        break;
      case "EntityOperationSignaled":
        this.marker(e, "signal", `signal ${e.operation} → ${e.targetInstanceId}`, t, e.targetInstanceId);
        break;
      case "EntityUnlockSent":
        this.marker(e, "signal", `unlock → ${e.targetInstanceId}`, t, e.targetInstanceId);
        break;
      case "ExecutionSuspended":
      case "ExecutionResumed":
      case "ExecutionRewound":
      case "ExecutionTerminated":
        this.marker(e, "lifecycle", e.type.replace("Execution", "").toLowerCase(), t);
        break;
      default:
        break;
    }
  }

  private schedule(e: HistoryEvent, kind: RowKind, label: string, t: number, retryKey?: string, target?: string): TimelineRow {
    const row: TimelineRow = { key: e.eventId, kind, label, start: t, state: "running", attempt: 1, events: [e], ...(target !== undefined ? { target } : {}) };
    if ((e.type === "TaskScheduled" || e.type === "SubOrchestrationInstanceCreated") && e.input !== undefined) {
      row.inputPreview = e.input.length > 40 ? `${e.input.slice(0, 39)}…` : e.input;
    }
    if (retryKey !== undefined) {
      const waiting = this.failedAttempts.get(retryKey);
      const previous = waiting?.[0];
      const delay = previous?.end !== undefined ? this.delayTimer(previous.end, t) : undefined;
      if (previous && delay) {
        waiting.shift();
        if (waiting.length === 0) this.failedAttempts.delete(retryKey);
        row.attempt = previous.attempt + 1;
        previous.retried = true;
        delay.retryDelayFor = `${label} attempt ${row.attempt}`;
        delay.label = `retry delay (${label})`;
      }
      this.retryKeys.set(row, retryKey);
    }
    this.rows.push(row);
    this.open.set(e.eventId, row);
    return row;
  }

  private close(id: number, e: HistoryEvent, t: number, state: "completed" | "failed"): void {
    const row = this.open.get(id);
    if (!row) return;
    this.open.delete(id);
    row.end = t;
    row.state = state;
    row.events.push(e);
    const key = this.retryKeys.get(row);
    if (key !== undefined && state === "failed") {
      const waiting = this.failedAttempts.get(key);
      if (waiting) waiting.push(row);
      else this.failedAttempts.set(key, [row]);
    }
  }

  /**
   * The timer that waited before a retry: the oldest one not yet taken that was created after the
   * failure and fired before the retry. Without one, a second call with the same input is not a retry.
   */
  private delayTimer(failedAt: number, retryAt: number): TimelineRow | undefined {
    // Timers taken at the front are passed over for good, so a long history stays linear.
    while (this.timers[this.firstFreeTimer]?.retryDelayFor !== undefined) this.firstFreeTimer++;
    for (let i = this.firstFreeTimer; i < this.timers.length; i++) {
      const timer = this.timers[i]!;
      if (timer.retryDelayFor !== undefined || timer.start < failedAt) continue;
      if (timer.end !== undefined && timer.end <= retryAt) return timer;
    }
    return undefined;
  }

  private marker(e: HistoryEvent, kind: RowKind, label: string, t: number, target?: string): void {
    this.rows.push({ key: -++this.markers, kind, label, start: t, end: t, state: "instant", attempt: 1, events: [e], ...(target !== undefined ? { target } : {}) });
  }
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}
