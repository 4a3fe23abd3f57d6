import type { OrchestrationExecutor } from "../core/executor.js";
import type { ExecutionStartedEvent, HistoryEvent } from "../core/history.js";

/** Default budget of the cached executors' payloads: 256 MiB of JSON text. */
export const DEFAULT_EXECUTOR_CACHE_BYTES = 256 * 1024 * 1024;

export interface CachedExecution {
  executor: OrchestrationExecutor;
  executionId: string;
  started: ExecutionStartedEvent;
  /** History length the executor has seen; a mismatch means another process advanced the instance. */
  historyLength: number;
  /** The instance's custom status after the last commit (it carries over until the code sets another). */
  customStatus: string | undefined;
  /**
   * The payloads (JSON text) the executor was given: its input, results and event data. What the
   * orchestrator keeps of them lives as long as the executor, so they are what the byte budget counts.
   */
  bytes: number;
}

/** The payload text (input, result) of events, in bytes as JSON text of one byte per character. */
export function payloadBytes(events: readonly HistoryEvent[]): number {
  let n = 0;
  for (const e of events) {
    const { input, result } = e as { input?: unknown; result?: unknown };
    if (typeof input === "string") n += input.length;
    if (typeof result === "string") n += result.length;
  }
  return n;
}

/**
 * Live executors of running orchestrations, at most `capacity` of them holding at most `byteBudget`
 * bytes of payloads, least recently used evicted first (an evicted one replays when it next runs).
 * `take` removes the entry: whoever runs a step owns the executor until it puts it back, so two
 * steps of one instance in this process can never drive one generator at once.
 */
export class ExecutorCache {
  private readonly map = new Map<string, CachedExecution>();
  private held = 0;
  hits = 0;
  misses = 0;
  constructor(
    private readonly capacity: number,
    private readonly byteBudget = DEFAULT_EXECUTOR_CACHE_BYTES,
  ) {}

  /** Payload bytes of the executors held now. */
  get bytes(): number {
    return this.held;
  }

  private remove(instanceId: string): CachedExecution | undefined {
    const c = this.map.get(instanceId);
    if (c) {
      this.map.delete(instanceId);
      this.held -= c.bytes;
    }
    return c;
  }

  take(instanceId: string, executionId: string, historyLength: number): CachedExecution | undefined {
    const c = this.remove(instanceId);
    if (c && c.executionId === executionId && c.historyLength === historyLength) {
      this.hits++;
      return c;
    }
    this.misses++;
    return undefined;
  }

  /** The history length held for this execution, without taking it (so storage can skip sending it). */
  historyLengthOf(instanceId: string, executionId: string): number | undefined {
    const c = this.map.get(instanceId);
    return c && c.executionId === executionId ? c.historyLength : undefined;
  }

  /** Takes the entry of an instance whatever its history length (the caller fences on it). */
  takeAny(instanceId: string): CachedExecution | undefined {
    const c = this.remove(instanceId);
    if (c) this.hits++;
    return c;
  }

  put(instanceId: string, entry: CachedExecution): void {
    this.remove(instanceId);
    // One executor over the whole budget is not kept: it replays when it next runs.
    if (this.capacity <= 0 || this.byteBudget <= 0 || entry.bytes > this.byteBudget) return;
    this.map.set(instanceId, entry);
    this.held += entry.bytes;
    for (const oldest of this.map.keys()) {
      if (this.map.size <= this.capacity && this.held <= this.byteBudget) break;
      this.remove(oldest);
    }
  }

  delete(instanceId: string): void {
    this.remove(instanceId);
  }

  get size(): number {
    return this.map.size;
  }
}
