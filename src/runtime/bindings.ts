import { InvalidArgumentError, isDurableError } from "../core/errors.js";
import { failureFromError } from "../core/failure.js";
import { attachInvocationInfo, BINDING_ERROR_CODES, type BindingDirection, BindingFailedError, type BindingHandler, describeBinding } from "./binding-context.js";
import { blobBindingHandler } from "./blob-binding.js";
import type { FunctionBinding, InvocationContext } from "./invocation-context.js";
import type { LogFields, Logger } from "./logger.js";

/**
 * Extra input and output bindings (`extraInputs` / `extraOutputs`), run by handlers an app registers
 * by binding type (`app.setBindingHandler` of `perdure/azure-functions`), with `blob` built in (a
 * local folder, blob-binding.ts). `invokeWithBindings` wraps one invocation of any kind of function:
 * inputs resolved before, outputs delivered after a successful return.
 */

export type { BindingHandler } from "./binding-context.js";
export { BindingError, BindingExpressionError, BindingFailedError, BlobPathError, resolveBindingExpressions } from "./binding-context.js";

/** Handled by Perdure itself (`df.input.durableClient()`): never given to a handler, never warned about. */
const DURABLE_CLIENT = "durableclient";

/** Binding types Perdure runs without being asked; an app's own handler for the type replaces the built-in one. */
const BUILTIN_HANDLERS: ReadonlyMap<string, BindingHandler> = new Map([["blob", blobBindingHandler]]);

const BINDING_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/** An app's binding handlers, by case-insensitive type. Lives on the app's registry (`registry.bindings`). */
export class BindingHandlers {
  readonly #byType = new Map<string, BindingHandler>();

  set(type: string, handler: BindingHandler): void {
    if (typeof type !== "string" || !BINDING_TYPE.test(type)) {
      throw new InvalidArgumentError(`setBindingHandler: invalid binding type ${JSON.stringify(type)}; use the binding's type as declared, e.g. "twilioSms" or "blob".`);
    }
    if (type.toLowerCase() === DURABLE_CLIENT) {
      throw new InvalidArgumentError("setBindingHandler: durableClient bindings are Perdure's own (df.getClient(context) returns the host's client); they take no handler.");
    }
    const input: unknown = (handler as BindingHandler | undefined)?.input;
    const output: unknown = (handler as BindingHandler | undefined)?.output;
    if ((input !== undefined && typeof input !== "function") || (output !== undefined && typeof output !== "function") || (input === undefined && output === undefined)) {
      throw new InvalidArgumentError(`setBindingHandler("${type}", ...) needs { input?: (binding, context) => value, output?: (value, binding, context) => void }, with at least one of them.`);
    }
    // Kept as given, so its methods are called on it (`this` is the handler object).
    this.#byType.set(type.toLowerCase(), handler);
  }

  /** The app's handler for a type, else the built-in one (`blob`), else undefined. */
  get(type: string): BindingHandler | undefined {
    const key = String(type).toLowerCase();
    return this.#byType.get(key) ?? BUILTIN_HANDLERS.get(key);
  }
}

/** How one invocation's bindings are run. */
export interface BindingInvocation {
  /** The app's handlers (`registry.bindings`). */
  handlers: BindingHandlers;
  /** The host's logger, for the warnings about bindings nothing runs. */
  logger: Logger;
  /** How messages name the kind of function: `Activity`, `Entity`, `HTTP function`, `Timer function`. */
  kind: string;
  /** The trigger's data for `{name}` expressions in binding options (an activity's input); called at most once, when needed. */
  triggerData?: () => unknown;
  /** How messages name that data, e.g. `the activity's input`. */
  triggerDataLabel?: string;
  /** Fields added to the warnings' log records (a function: built only when a warning is said). */
  fields?: LogFields | (() => LogFields);
}

/** Warnings said once per binding per process, also across copies of this module. */
const WARNED_KEY = Symbol.for("perdure.bindingWarnings");
const warned: Set<string> = ((globalThis as { [WARNED_KEY]?: Set<string> })[WARNED_KEY] ??= new Set<string>());

/**
 * Runs one invocation with its bindings: each declared extra input that has an input handler is
 * resolved into `context.extraInputs` (keyed by binding name) before `run`; after `run` returns, each
 * value set in `context.extraOutputs` goes to its binding type's output handler, awaited, in the order
 * set. A handler that throws fails the invocation with an error naming the binding (BINDING_FAILED,
 * or the handler's own binding error). A binding nothing runs is logged once per process, as a warning.
 */
export async function invokeWithBindings<T>(context: InvocationContext, run: () => T | Promise<T>, invocation: BindingInvocation): Promise<T> {
  const label = `${invocation.kind} '${context.functionName}'`;
  let data: Promise<unknown> | undefined;
  attachInvocationInfo(context, {
    label,
    triggerData: () => (data ??= Promise.resolve().then(() => invocation.triggerData?.())),
    triggerDataLabel: invocation.triggerDataLabel ?? "the trigger's data",
  });
  for (const binding of context.options.extraInputs ?? []) {
    if (String(binding.type).toLowerCase() === DURABLE_CLIENT) continue;
    const handler = invocation.handlers.get(binding.type);
    if (typeof handler?.input !== "function") {
      warnOnce(invocation, context, binding, "input", `${label} declares ${describeBinding(binding, "input").replace(/^its /, "an ")}, which Perdure does not run: context.extraInputs.get() gives undefined for it. Register a handler with app.setBindingHandler(${JSON.stringify(String(binding.type))}, { input }) from perdure/azure-functions to provide its value.`);
      continue;
    }
    let value: unknown;
    try {
      value = await handler.input(binding, context);
    } catch (err) {
      throw bindingFailure(label, binding, "input", err);
    }
    context.extraInputs.set(binding, value);
  }
  const result = await run();
  const declared = context.options.extraOutputs ?? [];
  for (const name of context.extraOutputs.names()) {
    const value = context.extraOutputs.get(name);
    if (value === undefined) continue;
    const binding = declared.find((b) => b.name === name) ?? declared.find((b) => String(b.name).toLowerCase() === name.toLowerCase());
    if (!binding) {
      warnUndeclaredOutput(invocation, context, name);
      continue;
    }
    const handler = invocation.handlers.get(binding.type);
    if (typeof handler?.output !== "function") {
      warnOnce(invocation, context, binding, "output", `${label} wrote to its '${String(binding.type)}' binding (${binding.name}), which Perdure does not run: the value was dropped. Register a handler with app.setBindingHandler(${JSON.stringify(String(binding.type))}, { output }) from perdure/azure-functions to deliver it.`);
      continue;
    }
    try {
      await handler.output(value, binding, context);
    } catch (err) {
      throw bindingFailure(label, binding, "output", err);
    }
  }
  return result;
}

/** Whether a function declares extra bindings: one that declares none can be run without invokeWithBindings. */
export function declaresBindings(fn: { extraInputs?: readonly unknown[] | undefined; extraOutputs?: readonly unknown[] | undefined }): boolean {
  return (fn.extraInputs?.length ?? 0) > 0 || (fn.extraOutputs?.length ?? 0) > 0;
}

/**
 * What invokeWithBindings does after a function that declares no bindings returned: every extra
 * output it set anyway is dropped, and said once.
 */
export function dropUndeclaredOutputs(context: InvocationContext, invocation: BindingInvocation): void {
  for (const name of context.extraOutputs.names()) {
    if (context.extraOutputs.get(name) !== undefined) warnUndeclaredOutput(invocation, context, name);
  }
}

function warnUndeclaredOutput(invocation: BindingInvocation, context: InvocationContext, name: string): void {
  const label = `${invocation.kind} '${context.functionName}'`;
  warnOnce(invocation, context, { type: "undeclared", name }, "output", `${label} set the extra output '${name}', which is not among its extraOutputs: the value was dropped. Declare the binding in the function's extraOutputs, with a handler registered by app.setBindingHandler(type, { output }) from perdure/azure-functions.`);
}

function bindingFailure(label: string, binding: FunctionBinding, direction: BindingDirection, err: unknown): Error {
  // Perdure's binding errors (an unresolved expression, a refused blob path) name the binding already.
  if (isDurableError(err) && BINDING_ERROR_CODES.has(err.code)) return err;
  const when = direction === "input" ? "before the function ran" : "after the function returned";
  const message = failureFromError(err).errorMessage;
  return new BindingFailedError(binding, direction, `${label}: ${describeBinding(binding, direction)} failed ${when}: ${message}`, { cause: err });
}

function warnOnce(invocation: BindingInvocation, context: InvocationContext, binding: FunctionBinding, direction: BindingDirection, message: string): void {
  const key = `${invocation.kind}|${context.functionName}|${direction}|${String(binding.name)}`.toLowerCase();
  if (warned.has(key)) return;
  warned.add(key);
  const fields = typeof invocation.fields === "function" ? invocation.fields() : invocation.fields;
  invocation.logger.warn(message, { ...fields, functionName: context.functionName, bindingType: String(binding.type), bindingName: String(binding.name) });
}
