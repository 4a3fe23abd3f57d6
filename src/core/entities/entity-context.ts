import { EntityId } from "../entity-id.js";
import { InvalidArgumentError } from "../errors.js";
import type { EntityOperationSignaledEvent } from "../history.js";
import { parsePayload, serializePayload } from "../payload.js";

/** A signal an operation sends; it goes out only if the operation succeeds. */
export interface PendingSignal {
  request: EntityOperationSignaledEvent;
  /** Deliver later (scheduled signal), ms since epoch. */
  visibleAt?: number;
}

/**
 * `context.df` of an entity operation: the durable-functions surface. State is kept as JSON text
 * and parsed once per operation; `setState` replaces it. Everything is committed only if the
 * operation returns normally; a throw rolls the state and the signals back.
 */
export class DurableEntityContext<TState = unknown> {
  readonly entityName: string;
  readonly entityKey: string;
  readonly entityId: EntityId;
  readonly operationName: string | undefined;
  readonly isNewlyConstructed: boolean;
  /** @internal */ stateText: string | undefined;
  /** @internal */ exists: boolean;
  /** @internal */ returned: { value: unknown } | undefined;
  /** @internal */ destruct = false;
  /** @internal */ readonly signals: PendingSignal[] = [];
  private parsed: { value: TState } | undefined;

  constructor(
    entityId: EntityId,
    operationName: string,
    private readonly inputText: string | undefined,
    stateText: string | undefined,
    exists: boolean,
    private readonly newId: () => string,
  ) {
    this.entityId = entityId;
    this.entityName = entityId.name;
    this.entityKey = entityId.key;
    this.operationName = operationName;
    this.stateText = stateText;
    this.exists = exists;
    this.isNewlyConstructed = !exists;
  }

  /** The stored state, or the initializer's value when the entity has none (not stored until setState). */
  getState(initializer: () => TState): TState;
  getState(initializer?: () => TState): TState | undefined;
  getState(initializer?: () => TState): TState | undefined {
    if (this.parsed) return this.parsed.value;
    if (this.exists && this.stateText !== undefined) {
      this.parsed = { value: parsePayload(this.stateText) as TState };
      return this.parsed.value;
    }
    if (!initializer) return undefined;
    this.parsed = { value: initializer() };
    return this.parsed.value;
  }

  setState(state: TState): void {
    this.stateText = serializePayload(state, `The state of entity ${this.entityId.toString()}`) ?? "null";
    this.parsed = { value: state };
    this.exists = true;
    this.destruct = false;
  }

  /** The operation's input (undefined when none was sent), typed as the caller declares it, as `context.df.getInput()` of orchestrations is. */
  getInput<TInput = unknown>(): TInput {
    return parsePayload(this.inputText) as TInput;
  }

  /** The value a `callEntity` caller receives. */
  return<TResult>(result: TResult): void {
    serializePayload(result, `The result of operation '${String(this.operationName)}'`);
    this.returned = { value: result };
  }

  /** Deletes the entity (state and existence) when the operation ends. */
  destructOnExit(): void {
    this.destruct = true;
  }

  /** One-way message to an entity; with `scheduledTime` it is delivered then. */
  signalEntity(entityId: EntityId, operationName: string, operationInput?: unknown, scheduledTime?: Date): void {
    const id = EntityId.from(entityId);
    if (typeof operationName !== "string" || operationName === "") throw new InvalidArgumentError("An entity operation name must be a non-empty string.");
    const input = serializePayload(operationInput, `The input of entity operation '${operationName}'`);
    const request: EntityOperationSignaledEvent = { type: "EntityOperationSignaled", eventId: -1, timestamp: "", requestId: this.newId(), targetInstanceId: id.toString(), operation: operationName };
    if (input !== undefined) request.input = input;
    const signal: PendingSignal = { request };
    if (scheduledTime !== undefined) {
      if (!(scheduledTime instanceof Date) || Number.isNaN(scheduledTime.getTime())) throw new InvalidArgumentError("scheduledTime must be a valid Date.");
      signal.visibleAt = scheduledTime.getTime();
      request.scheduledTime = scheduledTime.toISOString();
    }
    this.signals.push(signal);
  }
}
