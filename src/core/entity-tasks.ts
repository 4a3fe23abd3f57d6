import type { EntityId } from "./entity-id.js";
import type { OperationResponse } from "./entity-messages.js";
import { EntityOperationFailedError } from "./errors.js";
import { parsePayload } from "./payload.js";
import { CompoundTask, type ExternalEventTask, type SendEventTask, type Task, type TaskScheduler } from "./tasks.js";

/**
 * A two-way entity call: the request goes out as a sent event, the answer comes back as an event
 * named after the request ID. Resolves to the operation's return value, or fails with
 * EntityOperationFailedError carrying the entity's failure details.
 */
export class EntityCallTask extends CompoundTask {
  constructor(
    private readonly send: SendEventTask,
    wait: ExternalEventTask,
    readonly entityId: EntityId,
    readonly operationName: string,
    /** Runs when the call is yielded (it may refuse it by throwing), before the request is sent. */
    private readonly onSend: () => void,
    private readonly onSettled: () => void,
  ) {
    super([wait]);
  }

  protected override onStart(scheduler: TaskScheduler): void {
    this.onSend();
    // The request takes its sequence number before the wait is registered.
    this.send.start(scheduler);
    super.onStart(scheduler);
  }

  onChildDone(child: Task): void {
    if (this.isDone || !this.isStarted) return;
    this.onSettled();
    const response = (child.result ?? {}) as OperationResponse;
    if (response.error) this.reject(new EntityOperationFailedError(this.entityId.toString(), this.operationName, response.error));
    else this.resolve(parsePayload(response.result));
  }
}

/** Held entity locks; `release()` ends the critical section (it also ends with the orchestration). */
export class LockHandle {
  constructor(
    readonly entities: readonly EntityId[],
    private readonly releaser: () => void,
  ) {}
  release(): void {
    this.releaser();
  }
}

/** Waits for the grant of a lock request that travels through the entities in their global order. */
export class LockTask extends CompoundTask {
  constructor(
    private readonly send: SendEventTask,
    wait: ExternalEventTask,
    private readonly handle: LockHandle,
    private readonly onGranted: () => void,
  ) {
    super([wait]);
  }

  protected override onStart(scheduler: TaskScheduler): void {
    this.send.start(scheduler);
    super.onStart(scheduler);
  }

  onChildDone(): void {
    if (this.isDone || !this.isStarted) return;
    this.onGranted();
    this.resolve(this.handle);
  }
}
