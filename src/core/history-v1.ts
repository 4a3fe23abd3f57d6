import { normalizeFailure } from "./failure.js";
import type { EntityRequestEvent, EntityResponseEvent, HistoryEvent } from "./history.js";

/** The JSON an entity request carried inside an EventSent/EventRaised of history format 1. */
interface V1Request {
  id?: unknown;
  op?: unknown;
  input?: unknown;
  signal?: unknown;
  parent?: { instanceId?: unknown; executionId?: unknown };
  owner?: { instanceId?: unknown; executionId?: unknown };
  entities?: unknown;
  position?: unknown;
}

interface V1Answer {
  result?: unknown;
  error?: unknown;
  locked?: unknown;
}

const V1_NAMES = new Set(["op", "lock", "release", "cleanup"]);

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Reads an entity request written in format 1 (an EventRaised named op/lock/release/cleanup, with
 * the request as JSON in `input`) as the typed event of format 2; undefined when it is not one.
 * `targetInstanceId` is the entity the request was addressed to.
 */
export function entityRequestFromV1(name: string, input: string | undefined, targetInstanceId: string, eventId: number, timestamp: string): EntityRequestEvent | { type: "EntityCleanup"; eventId: number; timestamp: string } | undefined {
  if (!V1_NAMES.has(name)) return undefined;
  if (name === "cleanup") return { type: "EntityCleanup", eventId, timestamp };
  const m = parse<V1Request>(input);
  const id = str(m?.id);
  if (!m || id === undefined) return undefined;
  const base = { eventId, timestamp, requestId: id, targetInstanceId };
  if (name === "op") {
    const operation = str(m.op);
    if (operation === undefined) return undefined;
    const input = str(m.input);
    const parentInstanceId = str(m.parent?.instanceId);
    const parentExecutionId = str(m.parent?.executionId);
    if (m.signal !== true && parentInstanceId !== undefined && parentExecutionId !== undefined) {
      return { type: "EntityOperationCalled", ...base, operation, ...(input !== undefined ? { input } : {}), parentInstanceId, parentExecutionId };
    }
    return { type: "EntityOperationSignaled", ...base, operation, ...(input !== undefined ? { input } : {}) };
  }
  const parentInstanceId = str(m.owner?.instanceId);
  const parentExecutionId = str(m.owner?.executionId);
  if (parentInstanceId === undefined || parentExecutionId === undefined) return undefined;
  if (name === "release") return { type: "EntityUnlockSent", ...base, parentInstanceId, parentExecutionId };
  const entities: unknown = m.entities;
  const lockSet = Array.isArray(entities) && entities.every((e): e is string => typeof e === "string") ? entities : undefined;
  const position = typeof m.position === "number" ? m.position : undefined;
  if (!lockSet || position === undefined) return undefined;
  return { type: "EntityLockRequested", ...base, lockSet, position, parentInstanceId, parentExecutionId };
}

/**
 * Reads the events of an execution that started under history format 1 as format 2, one event at a
 * time in history order: entity requests recorded as EventSent become typed requests, and the
 * EventRaised that answered them (named after the request ID) become typed answers. Failure details
 * get the durable-functions field names. Events of format 2 pass through unchanged, so an execution
 * that started before an upgrade and goes on after it reads as one history.
 */
export class HistoryV1Reader {
  private readonly requests = new Map<string, "call" | "lock">();

  read(e: HistoryEvent): HistoryEvent {
    switch (e.type) {
      case "EventSent": {
        if (!e.instanceId.startsWith("@")) return e;
        const typed = entityRequestFromV1(e.name, e.input, e.instanceId, e.eventId, e.timestamp);
        if (!typed || typed.type === "EntityCleanup") return e;
        if (typed.type === "EntityOperationCalled") this.requests.set(typed.requestId, "call");
        if (typed.type === "EntityLockRequested") this.requests.set(typed.requestId, "lock");
        return typed;
      }
      case "EntityOperationCalled":
        this.requests.set(e.requestId, "call");
        return e;
      case "EntityLockRequested":
        this.requests.set(e.requestId, "lock");
        return e;
      case "EventRaised":
        return this.answer(e.name, e.input, e.timestamp) ?? e;
      case "TaskFailed":
      case "SubOrchestrationInstanceFailed":
        return { ...e, failureDetails: normalizeFailure(e.failureDetails) };
      case "ExecutionCompleted":
        return e.failureDetails ? { ...e, failureDetails: normalizeFailure(e.failureDetails) } : e;
      case "EntityOperationFailed":
        return { ...e, failureDetails: normalizeFailure(e.failureDetails) };
      default:
        return e;
    }
  }

  private answer(name: string, input: string | undefined, timestamp: string): EntityResponseEvent | undefined {
    const kind = this.requests.get(name);
    if (kind === undefined) return undefined;
    if (kind === "lock") return { type: "EntityLockGranted", eventId: -1, timestamp, requestId: name };
    const a = parse<V1Answer>(input) ?? {};
    if (a.error !== undefined && a.error !== null) return { type: "EntityOperationFailed", eventId: -1, timestamp, requestId: name, failureDetails: normalizeFailure(a.error) };
    const result = str(a.result);
    return { type: "EntityOperationCompleted", eventId: -1, timestamp, requestId: name, ...(result !== undefined ? { result } : {}) };
  }
}

/** A stored history as format 2, whatever format its execution started in. */
export function readHistory(events: readonly HistoryEvent[]): HistoryEvent[] {
  const started = events.find((e) => e.type === "ExecutionStarted");
  if (!started || started.type !== "ExecutionStarted" || started.historyFormatVersion >= 2) return [...events];
  const reader = new HistoryV1Reader();
  return events.map((e) => reader.read(e));
}
