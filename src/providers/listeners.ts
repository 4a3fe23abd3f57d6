import type { OrchestrationRuntimeStatus } from "../core/status.js";
import type { WorkKind } from "./provider.js";

type WorkListener = (kind: WorkKind, visibleAt: number) => void;
type ChangeListener = (instanceId: string, status: OrchestrationRuntimeStatus) => void;

/** A listener's failure must not make a committed write look failed. */
export function notifySafely<A extends unknown[]>(listener: (...args: A) => void, ...args: A): void {
  try {
    listener(...args);
  } catch {
    // Notifications are hints; polling is the floor.
  }
}

/** The in-process listeners of a provider (onWork, onInstanceChange), told after each commit. */
export class ProviderListeners {
  private readonly work = new Set<WorkListener>();
  private readonly changes = new Set<ChangeListener>();

  onWork(listener: WorkListener): () => void {
    this.work.add(listener);
    return () => this.work.delete(listener);
  }

  onInstanceChange(listener: ChangeListener): () => void {
    this.changes.add(listener);
    return () => this.changes.delete(listener);
  }

  /** After a commit: the earliest new work per kind, then the status changes. */
  publish(work: readonly (readonly [WorkKind, number])[], changes: readonly (readonly [string, OrchestrationRuntimeStatus])[]): void {
    if (work.length > 0 && this.work.size > 0) {
      const earliest = new Map<WorkKind, number>();
      for (const [k, at] of work) earliest.set(k, Math.min(at, earliest.get(k) ?? Infinity));
      for (const [k, at] of earliest) for (const l of this.work) notifySafely(l, k, at);
    }
    if (changes.length > 0 && this.changes.size > 0) for (const [id, status] of changes) for (const l of this.changes) notifySafely(l, id, status);
  }

  clear(): void {
    this.work.clear();
    this.changes.clear();
  }
}
