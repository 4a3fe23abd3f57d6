import type { OrchestrationExecutor } from "../core/executor.js";
import type { ExecutionStartedEvent } from "../core/history.js";

export interface CachedExecution {
  executor: OrchestrationExecutor;
  executionId: string;
  started: ExecutionStartedEvent;
  /** History length the executor has seen; a mismatch means another process advanced the instance. */
  historyLength: number;
  /** The instance's custom status after the last commit (it carries over until the code sets another). */
  customStatus: string | undefined;
}

/**
 * Live executors of running orchestrations, least recently used evicted first. `take` removes the
 * entry: whoever runs a step owns the executor until it puts it back, so two steps of one instance
 * in this process can never drive one generator at once.
 */
export class ExecutorCache {
  private readonly map = new Map<string, CachedExecution>();
  hits = 0;
  misses = 0;
  constructor(private readonly capacity: number) {}

  take(instanceId: string, executionId: string, historyLength: number): CachedExecution | undefined {
    const c = this.map.get(instanceId);
    if (c) this.map.delete(instanceId);
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
    const c = this.map.get(instanceId);
    if (!c) return undefined;
    this.map.delete(instanceId);
    this.hits++;
    return c;
  }

  put(instanceId: string, entry: CachedExecution): void {
    if (this.capacity <= 0) return;
    this.map.delete(instanceId);
    this.map.set(instanceId, entry);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  delete(instanceId: string): void {
    this.map.delete(instanceId);
  }

  get size(): number {
    return this.map.size;
  }
}
