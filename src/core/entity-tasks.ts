import type { EntityRequest, OrchestratorAction } from "./actions.js";
import type { EntityId } from "./entity-id.js";
import { EntityOperationFailedError, TaskFailedError } from "./errors.js";
import type { FailureDetails } from "./failure.js";
import type { EntityResponseEvent } from "./history.js";
import { parsePayload } from "./payload.js";
import { AtomicTask, CompoundTask, Task, type TaskScheduler } from "./tasks.js";

/** An entity request an orchestration sends: it takes a sequence number and is done once sent. */
export class EntityMessageTask extends AtomicTask {
  constructor(readonly request: EntityRequest) {
    super();
  }
  toAction(id: number): OrchestratorAction {
    return { kind: "SendEntityMessage", id, request: this.request };
  }
  complete(): void {
    this.resolve(undefined);
  }
  fail(failure: FailureDetails): void {
    this.reject(new TaskFailedError("activity", this.request.type, failure));
  }
}

/** Waits for the entity's answer to a request, matched by its request ID (answers take no sequence number). */
export class EntityResponseTask extends Task {
  constructor(readonly requestId: string) {
    super();
  }
  protected onStart(scheduler: TaskScheduler): void {
    scheduler.waitForEntityResponse(this);
  }
  /** @internal */
  deliver(response: EntityResponseEvent): void {
    this.resolve(response);
  }
}

/**
 * A two-way entity call: the request goes out as an EntityOperationCalled, the answer comes back as
 * EntityOperationCompleted or EntityOperationFailed with the same request ID. Resolves to the
 * operation's return value, or fails with EntityOperationFailedError carrying the entity's failure.
 */
export class EntityCallTask extends CompoundTask {
  constructor(
    private readonly send: EntityMessageTask,
    wait: EntityResponseTask,
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
    const response = child.result as EntityResponseEvent;
    if (response.type === "EntityOperationFailed") this.reject(new EntityOperationFailedError(this.entityId.toString(), this.operationName, response.failureDetails));
    else this.resolve(response.type === "EntityOperationCompleted" ? parsePayload(response.result) : undefined);
  }
}

/** Held entity locks; `release()` ends the critical section (it also ends with the orchestration). */
export class LockHandle {
  constructor(
    readonly entities: readonly EntityId[],
    private readonly releaser: () => void,
  ) {
    // `using lock = yield context.df.lock(...)` (explicit resource management) releases at the end
    // of the block, where the runtime has Symbol.dispose.
    const dispose = (Symbol as { dispose?: symbol }).dispose;
    if (dispose) Object.defineProperty(this, dispose, { value: () => this.release() });
  }
  /** durable-functions 3.5's name for `entities`. */
  get ownedLocks(): readonly EntityId[] {
    return this.entities;
  }
  release(): void {
    this.releaser();
  }
}

/** What `context.df.isLocked()` answers: whether a critical section is open, and on which entities. */
export class LockState {
  constructor(
    readonly isLocked: boolean,
    readonly ownedLocks: EntityId[],
  ) {}
}

/** Waits for the grant of a lock request that travels through the entities in their global order. */
export class LockTask extends CompoundTask {
  constructor(
    private readonly send: EntityMessageTask,
    wait: EntityResponseTask,
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
