import type { IncomingMessage, ServerResponse } from "node:http";
import type { DurableClient } from "../client/durable-client.js";
import { DurableError } from "../core/errors.js";
import { type BindingHandlers, invokeWithBindings } from "../runtime/bindings.js";
import { HttpRequest, HttpResponse } from "../runtime/http-messages.js";
import { InvocationContext, loggerHandler } from "../runtime/invocation-context.js";
import type { Logger } from "../runtime/logger.js";
import type { RegisteredHttpFunction } from "../runtime/registry.js";
import { errorBody, HttpError, sendError, sendJson, statusOf } from "./http-error.js";
import { pipeResponse } from "./management-api.js";
import { readBody } from "./request.js";

/** The request a client function receives: a WHATWG Request plus route params and the parsed query. */
/** What an HTTP client function receives: @azure/functions' HttpRequest (a fetch Request with `params` and `query`). */
export type HttpClientRequest = HttpRequest;

export type HostDurableClient = DurableClient;

/** The invocation context of a client function (@azure/functions'); `df.getClient(context)` works with it. */
export type ClientFunctionContext = InvocationContext;

interface CompiledRoute {
  fn: RegisteredHttpFunction;
  segments: { name: string; param: boolean; optional: boolean }[];
}

export function compileRoutes(functions: readonly RegisteredHttpFunction[]): CompiledRoute[] {
  return functions.map((fn) => ({
    fn,
    segments: fn.route
      .split("/")
      .filter((s) => s !== "")
      .map((s) => {
        const m = /^\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}$/.exec(s);
        return m ? { name: m[1]!, param: true, optional: m[2] === "?" } : { name: s.toLowerCase(), param: false, optional: false };
      }),
  }));
}

function match(route: CompiledRoute, segments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  if (segments.length > route.segments.length) return undefined;
  for (let i = 0; i < route.segments.length; i++) {
    const r = route.segments[i]!;
    const seg = segments[i];
    if (seg === undefined) {
      if (r.optional) continue;
      return undefined;
    }
    if (r.param) params[r.name] = seg;
    else if (r.name !== seg.toLowerCase()) return undefined;
  }
  return params;
}

export interface ClientFunctionHost {
  client: DurableClient;
  clientKey: symbol;
  logger: Logger;
  /** The app's binding handlers (`registry.bindings`): extra inputs before the handler, extra outputs after it. */
  bindings: BindingHandlers;
  maxBodyBytes: number;
  keyAllows: (req: IncomingMessage, url: URL) => boolean;
}

/** Serves `/api/<route>`: returns false when no client function matches (the caller answers 404). */
export async function serveClientFunction(
  host: ClientFunctionHost,
  routes: CompiledRoute[],
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  segments: string[],
): Promise<boolean> {
  const method = (req.method ?? "GET").toUpperCase();
  let found: { route: CompiledRoute; params: Record<string, string> } | undefined;
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = match(route, segments);
    if (!params) continue;
    if (!route.fn.methods.includes(method)) {
      for (const m of route.fn.methods) allowed.add(m);
      continue;
    }
    found = { route, params };
    break;
  }
  if (!found) {
    if (allowed.size === 0) return false;
    sendJson(res, 405, errorBody("METHOD_NOT_ALLOWED", `Method ${method} is not allowed for ${url.pathname}.`), { allow: [...allowed].join(", ") });
    return true;
  }
  const fn = found.route.fn;
  if (fn.authLevel === "function" && !host.keyAllows(req, url)) {
    sendJson(res, 401, errorBody("UNAUTHORIZED", "This function needs the host key: pass it as ?code= or in the x-functions-key header."));
    return true;
  }
  const body = method === "GET" || method === "HEAD" ? undefined : await readBody(req, host.maxBodyBytes);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  const request: HttpClientRequest = new HttpRequest(new Request(url, { method, headers, ...(body && body.length > 0 ? { body } : {}) }), found.params);
  const context = new InvocationContext({
    functionName: fn.name,
    invocationId: crypto.randomUUID(),
    logHandler: loggerHandler(host.logger, { functionName: fn.name, functionType: "client" }),
    options: { trigger: { type: "httpTrigger", name: "request", route: fn.route, methods: fn.methods, authLevel: fn.authLevel }, extraInputs: fn.extraInputs, extraOutputs: fn.extraOutputs },
  });
  Object.defineProperty(context, host.clientKey, { value: host.client });
  const params = found.params;
  let result: unknown;
  try {
    result = await invokeWithBindings(context, () => (fn.handler as (r: HttpClientRequest, c: DurableClient, x: ClientFunctionContext) => unknown)(request, host.client, context), {
      handlers: host.bindings,
      logger: host.logger,
      kind: "HTTP function",
      triggerData: () => httpTriggerData(params, url, headers, body),
      triggerDataLabel: "the request (route parameters, Query, Headers, and a JSON body's properties)",
      fields: { functionName: fn.name, functionType: "client" },
    });
  } catch (err) {
    if (err instanceof DurableError && statusOf(err) !== 500) {
      sendError(res, err);
      return true;
    }
    if (err instanceof SyntaxError) {
      // Almost always `await request.json()` on a body that is not JSON: the caller's mistake.
      sendError(res, new HttpError(400, "INVALID_JSON", `Invalid JSON content: ${err.message}`));
      return true;
    }
    host.logger.error(`HTTP function '${fn.name}' failed: ${(err as Error)?.stack ?? String(err)}`);
    sendError(res, err);
    return true;
  }
  await writeResult(res, result, fn.name, host.logger);
  return true;
}

async function writeResult(res: ServerResponse, result: unknown, name: string, logger: Logger): Promise<void> {
  if (result === undefined || result === null) {
    res.writeHead(204).end();
    return;
  }
  if (typeof result === "string") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(result)) });
    res.end(result);
    return;
  }
  if (typeof result !== "object") {
    logger.error(`HTTP function '${name}' returned a ${typeof result}; return a Response, a string, or { status, jsonBody, body, headers }.`);
    sendError(res, new Error("invalid handler result"));
    return;
  }
  // A Response goes as it is; any other object is, as in @azure/functions, the init of an
  // HttpResponse (status, headers in any form, body of any kind, jsonBody, cookies).
  await pipeResponse(result instanceof Response ? result : new HttpResponse(result), res);
}

/**
 * What `{name}` expressions in an HTTP function's bindings read, as in Azure: the route parameters, the
 * properties of a JSON body, and `Query.<name>` and `Headers.<name>`.
 */
function httpTriggerData(params: Record<string, string>, url: URL, headers: Headers, body: Buffer | undefined): Record<string, unknown> {
  let json: unknown;
  if (body && body.length > 0) {
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      json = undefined;
    }
  }
  const fromBody = json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  return { ...fromBody, Query: Object.fromEntries(url.searchParams), Headers: Object.fromEntries(headers), ...params };
}
