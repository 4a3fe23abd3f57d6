import type { OrchestrationExecutor } from "../core/executor.js";
import type { ExecutionStartedEvent } from "../core/history.js";

export interface CachedExecution {
  executor: OrchestrationExecutor;
  executionId: string;
  started: ExecutionStartedEvent;
  /** History length the executor has seen; a mismatch means another process advanced the instance. */
  historyLength: number;
}

/** Live executors of running orchestrations, least recently used evicted first. */
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
