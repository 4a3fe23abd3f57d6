import { format } from "node:util";
import type { LogFields, Logger } from "./logger.js";

/**
 * The invocation context of `@azure/functions` v4, which every Durable Functions handler receives
 * (activities, entities, client functions; orchestrations as the base of theirs): the same
 * constructor, properties and log methods, so code written against Azure's runs here unchanged.
 */

/** A binding as `@azure/functions` describes one: its type, its (generated) name, and its options. */
export interface FunctionBinding {
  type: string;
  name: string;
  [option: string]: unknown;
}
export type FunctionTrigger = FunctionBinding;
export type FunctionInput = FunctionBinding;
export type FunctionOutput = FunctionBinding;

export interface EffectiveFunctionOptions {
  trigger: FunctionTrigger;
  return?: FunctionOutput;
  extraInputs: FunctionInput[];
  extraOutputs: FunctionOutput[];
}

/** `LogLevel` of `@azure/functions` (named apart from the host logger's levels). */
export type InvocationLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";
export type LogHandler = (level: InvocationLogLevel, ...args: unknown[]) => void;

export interface RetryContext {
  retryCount: number;
  maxRetryCount: number;
  exception?: { source?: string; stackTrace?: string; message?: string };
}

export interface TraceContext {
  traceParent?: string;
  traceState?: string;
  attributes?: Record<string, string>;
}

export type TriggerMetadata = Record<string, unknown>;

export interface InvocationContextInit {
  invocationId?: string;
  functionName?: string;
  logHandler?: LogHandler;
  traceContext?: TraceContext;
  retryContext?: RetryContext;
  triggerMetadata?: TriggerMetadata;
  options?: Partial<EffectiveFunctionOptions>;
}

/** Values of extra bindings, keyed by the binding's name (a binding object or its name may be passed). */
export class BindingValues {
  // Made on the first set: most invocations never touch their bindings, and every activity call makes two of these.
  private values: Map<string, unknown> | undefined;
  get(binding: FunctionBinding | string): unknown {
    return this.values?.get(typeof binding === "string" ? binding : binding.name);
  }
  set(binding: FunctionBinding | string, value: unknown): void {
    (this.values ??= new Map()).set(typeof binding === "string" ? binding : binding.name, value);
  }
  /** @internal The names set, in the order they were first set. */
  names(): string[] {
    return this.values ? [...this.values.keys()] : [];
  }
}

/** Without a handler, as @azure/functions does outside a host: the console. */
const consoleLogger: Logger = {
  info: (m) => console.info(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
  debug: (m) => console.debug(m),
};

export class InvocationContext {
  invocationId: string;
  functionName: string;
  extraInputs = new BindingValues();
  extraOutputs = new BindingValues();
  retryContext?: RetryContext;
  traceContext?: TraceContext;
  triggerMetadata?: TriggerMetadata;
  options: EffectiveFunctionOptions;
  readonly #logHandler: LogHandler;

  constructor(init: InvocationContextInit = {}) {
    this.invocationId = init.invocationId ?? "unknown";
    this.functionName = init.functionName ?? "unknown";
    this.#logHandler = init.logHandler ?? loggerHandler(consoleLogger, {});
    if (init.retryContext) this.retryContext = init.retryContext;
    if (init.traceContext) this.traceContext = init.traceContext;
    if (init.triggerMetadata) this.triggerMetadata = init.triggerMetadata;
    const o = init.options ?? {};
    this.options = { trigger: o.trigger ?? { name: "unknown", type: "unknown" }, extraInputs: o.extraInputs ?? [], extraOutputs: o.extraOutputs ?? [], ...(o.return ? { return: o.return } : {}) };
  }

  log(...args: unknown[]): void {
    this.#logHandler("information", ...args);
  }
  trace(...args: unknown[]): void {
    this.#logHandler("trace", ...args);
  }
  debug(...args: unknown[]): void {
    this.#logHandler("debug", ...args);
  }
  info(...args: unknown[]): void {
    this.#logHandler("information", ...args);
  }
  warn(...args: unknown[]): void {
    this.#logHandler("warning", ...args);
  }
  error(...args: unknown[]): void {
    this.#logHandler("error", ...args);
  }
}

/** A log handler that writes to the host's logger, with the invocation's fields on every record. */
export function loggerHandler(logger: Logger, fields: LogFields): LogHandler {
  return (level, ...args) => {
    const text = format(...args);
    if (level === "trace" || level === "debug") logger.debug?.(text, fields);
    else if (level === "warning") logger.warn(text, fields);
    else if (level === "error" || level === "critical") logger.error(text, fields);
    else if (level !== "none") logger.info(text, fields);
  };
}
