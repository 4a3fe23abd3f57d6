/**
 * `perdure/azure-functions`: what a Durable Functions app imports from `@azure/functions` v4 — `app.http`
 * for its HTTP starters, `HttpRequest`, `HttpResponse`, `InvocationContext`, and binding factories —
 * served by a Perdure host. Registrations go to the same app as `df.app`, so an Azure app's files run
 * under `perdure start` with only their imports changed.
 */
import { createHash } from "node:crypto";
import { app as durableApp } from "./app.js";
import type { HttpRequest, HttpResponse, HttpResponseInit } from "./runtime/http-messages.js";
import type { FunctionInput, FunctionOutput, FunctionTrigger, InvocationContext } from "./runtime/invocation-context.js";

export { HttpRequest, HttpResponse } from "./runtime/http-messages.js";
export type { Cookie, HttpHeadersInit, HttpRequestInit, HttpRequestUser, HttpResponseBodyInit, HttpResponseInit } from "./runtime/http-messages.js";
export { InvocationContext } from "./runtime/invocation-context.js";
export type {
  EffectiveFunctionOptions,
  FunctionInput,
  FunctionOutput,
  FunctionTrigger,
  InvocationContextInit,
  InvocationLogLevel as LogLevel,
  LogHandler,
  RetryContext,
  TraceContext,
  TriggerMetadata,
} from "./runtime/invocation-context.js";

export type FunctionResult<T = unknown> = T | Promise<T>;
export type HttpMethod = "GET" | "POST" | "DELETE" | "HEAD" | "PATCH" | "PUT" | "OPTIONS" | "TRACE" | "CONNECT";
export type HttpHandler = (request: HttpRequest, context: InvocationContext) => FunctionResult<HttpResponseInit | HttpResponse>;

export interface HttpTriggerOptions {
  /** `anonymous` (default), or `function`/`admin`: the host's key is then required. */
  authLevel?: "anonymous" | "function" | "admin";
  /** Default GET and POST. */
  methods?: HttpMethod[];
  /** Under /api; default the function name. `{name}` is a parameter, `{name?}` an optional one. */
  route?: string;
}
export interface HttpFunctionOptions extends HttpTriggerOptions {
  handler: HttpHandler;
  trigger?: FunctionTrigger;
  return?: FunctionOutput;
  extraInputs?: FunctionInput[];
  extraOutputs?: FunctionOutput[];
}
export type HttpMethodFunctionOptions = Omit<HttpFunctionOptions, "methods">;

/** Azure names bindings it generates `<type><hash of the binding>`; so does this, so names are stable across runs. */
function named<T extends { type: string; name?: string }>(binding: T): T & { name: string } {
  if (binding.name) return binding as T & { name: string };
  const hash = createHash("sha256").update(JSON.stringify(binding)).digest("hex").slice(0, 10);
  return { ...binding, name: `${binding.type}${hash}` };
}

function http(name: string, options: HttpFunctionOptions): void {
  durableApp.client.http(name, {
    ...(options.route !== undefined ? { route: options.route } : {}),
    ...(options.methods !== undefined ? { methods: options.methods } : {}),
    ...(options.authLevel !== undefined ? { authLevel: options.authLevel } : {}),
    ...(options.extraInputs !== undefined ? { extraInputs: options.extraInputs } : {}),
    ...(options.extraOutputs !== undefined ? { extraOutputs: options.extraOutputs } : {}),
    handler: (request: HttpRequest, _client: unknown, context: InvocationContext) => options.handler(request, context),
  });
}

function forMethod(method: HttpMethod) {
  return (name: string, handlerOrOptions: HttpHandler | HttpMethodFunctionOptions): void =>
    http(name, typeof handlerOrOptions === "function" ? { methods: [method], handler: handlerOrOptions } : { ...handlerOrOptions, methods: [method] });
}

export const app = {
  http,
  get: forMethod("GET"),
  put: forMethod("PUT"),
  post: forMethod("POST"),
  patch: forMethod("PATCH"),
  deleteRequest: forMethod("DELETE"),
};

export interface GenericBindingOptions {
  type: string;
  name?: string;
  [option: string]: unknown;
}

export const input = {
  generic: (options: GenericBindingOptions): FunctionInput => named(options),
};

export const output = {
  http: (options: Record<string, unknown> = {}): FunctionOutput => named({ ...options, type: "http" }),
  generic: (options: GenericBindingOptions): FunctionOutput => named(options),
};

export const trigger = {
  http: (options: HttpTriggerOptions = {}): FunctionTrigger => named({ authLevel: "anonymous", methods: ["GET", "POST"], ...options, type: "httpTrigger" }),
  generic: (options: GenericBindingOptions): FunctionTrigger => named(options),
};
