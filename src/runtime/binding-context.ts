import { randomUUID } from "node:crypto";
import { DurableError } from "../core/errors.js";
import type { FunctionBinding, FunctionInput, FunctionOutput, InvocationContext } from "./invocation-context.js";
import { replaceAppSettings } from "./app-settings.js";

/**
 * What binding handlers share: the handler type, the errors a binding raises, and the resolution of
 * binding expressions (`{name}`, `{rand-guid}`, `{DateTime}`, `%AppSetting%`) against the trigger's
 * data of the invocation, which `invokeWithBindings` (bindings.ts) attaches to the context.
 */

/** What runs a binding type: `input` gives an extra input's value, `output` delivers an extra output's value. */
export interface BindingHandler {
  /** Called before the function runs, once per declared extra input of this type; its result is `context.extraInputs.get(binding)`. */
  input?: (binding: FunctionInput, context: InvocationContext) => unknown;
  /** Called after the function returned, once per value set with `context.extraOutputs.set(binding, value)`, in the order set. */
  output?: (value: unknown, binding: FunctionOutput, context: InvocationContext) => void | Promise<void>;
}

export type BindingDirection = "input" | "output";

/** A binding of a function could not be resolved or delivered; the invocation fails with it. */
export class BindingError extends DurableError {
  readonly bindingName: string;
  readonly bindingType: string;
  readonly direction: BindingDirection;
  constructor(code: string, binding: FunctionBinding, direction: BindingDirection, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.bindingName = String(binding.name);
    this.bindingType = String(binding.type);
    this.direction = direction;
  }
}

/** A binding handler threw: the message names the function and the binding, the handler's error is the `cause`. */
export class BindingFailedError extends BindingError {
  constructor(binding: FunctionBinding, direction: BindingDirection, message: string, options?: { cause?: unknown }) {
    super("BINDING_FAILED", binding, direction, message, options);
  }
}

/** A `{name}` or `%Setting%` in a binding's options has no value for this invocation. */
export class BindingExpressionError extends BindingError {
  constructor(binding: FunctionBinding, direction: BindingDirection, message: string) {
    super("BINDING_EXPRESSION_UNRESOLVED", binding, direction, message);
  }
}

/** A blob path that is not `<container>/<blob name>` inside the blob root (`..`, absolute, empty segments). */
export class BlobPathError extends BindingError {
  constructor(binding: FunctionBinding, direction: BindingDirection, message: string) {
    super("BLOB_PATH_INVALID", binding, direction, message);
  }
}

/** Perdure's binding errors name the binding already; invokeWithBindings lets them through as they are. */
export const BINDING_ERROR_CODES: ReadonlySet<string> = new Set(["BINDING_FAILED", "BINDING_EXPRESSION_UNRESOLVED", "BLOB_PATH_INVALID"]);

/** What an invocation tells its binding handlers: who runs, and the trigger's data for `{name}` expressions. */
export interface BindingInvocationInfo {
  /** How messages name the function: `Activity 'copyFileToBlob'`. */
  label: string;
  /** The object whose properties `{name}` expressions read (an activity's input, an HTTP request's params, query and body). */
  triggerData: () => Promise<unknown>;
  /** How messages name that data: `the activity's input`. */
  triggerDataLabel: string;
}

/** Shared by every copy of this module in a process, as the default app is. */
const INVOCATION_KEY = Symbol.for("perdure.bindingInvocation");

export function attachInvocationInfo(context: InvocationContext, info: BindingInvocationInfo): void {
  // A plain assignment: a symbol key is outside Object.keys and JSON already, and defineProperty on
  // every invocation's context turned each one into a slow dictionary-mode object.
  (context as unknown as Record<symbol, BindingInvocationInfo>)[INVOCATION_KEY] = info;
}

/** The invocation's info, or a neutral one for a context Perdure did not run (a handler called from a unit test). */
export function invocationInfoOf(context: InvocationContext): BindingInvocationInfo {
  const info = (context as unknown as Record<symbol, BindingInvocationInfo | undefined>)[INVOCATION_KEY];
  return info ?? { label: `Function '${context?.functionName ?? "unknown"}'`, triggerData: () => Promise.resolve(undefined), triggerDataLabel: "the trigger (none here)" };
}

/** `its 'blob' output binding (blobOutput1)` */
export function describeBinding(binding: FunctionBinding, direction: BindingDirection): string {
  return `its '${String(binding.type)}' ${direction} binding (${String(binding.name)})`;
}

/**
 * Resolves the binding expressions of `text` (a binding option such as a blob path) as Azure Functions
 * does: `%Setting%` from the app settings (environment variables), `{rand-guid}` (a new GUID;
 * `{rand-guid:N}` without hyphens), `{DateTime}` (UTC now as `yyyy-MM-ddTHH-mm-ssZ`; `{DateTime:<format>}`
 * with yyyy, yy, MM, dd, HH, mm, ss, fff), and `{name}` / `{a.b}` from the trigger's data (an activity's
 * input properties), case-insensitively. An expression without a value throws BINDING_EXPRESSION_UNRESOLVED.
 */
export async function resolveBindingExpressions(
  text: string,
  binding: FunctionBinding,
  direction: BindingDirection,
  context: InvocationContext,
  option = "path",
): Promise<string> {
  const info = invocationInfoOf(context);
  const where = `in the ${option} '${text}' of ${describeBinding(binding, direction)}`;
  const withSettings = replaceAppSettings(
    text,
    (name) => new BindingExpressionError(binding, direction, `${info.label}: the app setting '%${name}%' ${where} is not set. Set the environment variable ${name}.`),
  );
  let data: unknown;
  let loaded = false;
  const parts: string[] = [];
  let last = 0;
  for (const m of withSettings.matchAll(/\{([^{}]*)\}/g)) {
    parts.push(withSettings.slice(last, m.index));
    last = m.index + m[0].length;
    const expr = m[1]!.trim();
    const [head, ...rest] = expr.split(":");
    const format = rest.length > 0 ? rest.join(":") : undefined;
    if (head!.toLowerCase() === "rand-guid") {
      const guid = randomUUID();
      parts.push(format?.toUpperCase() === "N" ? guid.replaceAll("-", "") : guid);
      continue;
    }
    if (head!.toLowerCase() === "datetime") {
      parts.push(formatUtc(new Date(), format ?? "yyyy-MM-ddTHH-mm-ssZ"));
      continue;
    }
    if (!loaded) {
      data = await info.triggerData();
      loaded = true;
    }
    const found = lookup(data, expr);
    if (found.ok) {
      parts.push(found.value);
      continue;
    }
    throw new BindingExpressionError(
      binding,
      direction,
      `${info.label}: the binding expression '{${expr}}' ${where} has no value: ${found.why} in ${info.triggerDataLabel} (${available(data)}). ` +
        "Pass that property in the trigger's data, or use {rand-guid}, {DateTime} or %AppSetting%.",
    );
  }
  parts.push(withSettings.slice(last));
  return parts.join("");
}

type Lookup = { ok: true; value: string } | { ok: false; why: string };

/** `a.b.c` in `data`, each step matched case-insensitively; only strings, numbers and booleans make text. */
function lookup(data: unknown, expr: string): Lookup {
  if (expr === "") return { ok: false, why: "an empty expression names nothing" };
  let current: unknown = data;
  const steps = expr.split(".");
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const path = steps.slice(0, i + 1).join(".");
    if (current === null || typeof current !== "object") return { ok: false, why: `there is no property '${path}'` };
    const record = current as Record<string, unknown>;
    const key = Object.prototype.hasOwnProperty.call(record, step) ? step : Object.keys(record).find((k) => k.toLowerCase() === step.toLowerCase());
    if (key === undefined) return { ok: false, why: `there is no property '${path}'` };
    current = record[key];
  }
  if (typeof current === "string" || typeof current === "number" || typeof current === "boolean" || typeof current === "bigint") return { ok: true, value: String(current) };
  if (current === null || current === undefined) return { ok: false, why: `'${expr}' is ${String(current)}` };
  return { ok: false, why: `'${expr}' is ${Array.isArray(current) ? "an array" : `a ${typeof current}`}, not a string or number` };
}

function available(data: unknown): string {
  if (data === null || data === undefined) return `which is ${String(data)}`;
  if (typeof data !== "object" || Array.isArray(data)) return `which is ${Array.isArray(data) ? "an array" : `a ${typeof data}`}, not an object with properties`;
  const keys = Object.keys(data);
  if (keys.length === 0) return "which has no properties";
  const shown = keys.slice(0, 20).join(", ");
  return `it has: ${shown}${keys.length > 20 ? `, ... (${keys.length} in all)` : ""}`;
}

/** .NET custom date format, the tokens binding paths use: yyyy yy MM dd HH mm ss fff; 'quoted' text and anything else as is. */
function formatUtc(date: Date, format: string): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  const tokens: Record<string, () => string> = {
    yyyy: () => pad(date.getUTCFullYear(), 4),
    yy: () => pad(date.getUTCFullYear() % 100),
    MM: () => pad(date.getUTCMonth() + 1),
    dd: () => pad(date.getUTCDate()),
    HH: () => pad(date.getUTCHours()),
    mm: () => pad(date.getUTCMinutes()),
    ss: () => pad(date.getUTCSeconds()),
    fff: () => pad(date.getUTCMilliseconds(), 3),
  };
  return format.replace(/yyyy|yy|MM|dd|HH|mm|ss|fff|'([^']*)'/g, (token, quoted: string | undefined) => (quoted !== undefined ? quoted : tokens[token]!()));
}
