import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { CLIENT_KEY } from "../client/client-key.js";
import type { DurableClientCore } from "../client/client-core.js";
import type { HttpEndpoint } from "../client/http-helpers.js";
import { WEBHOOK_BASE_PATH } from "../client/management-urls.js";
import { InvalidArgumentError, StoreUnavailableError } from "../core/errors.js";
import type { Logger } from "../runtime/logger.js";
import { defaultTelemetry, endSpan, SpanKind, type Telemetry } from "../runtime/telemetry.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { KeyCheck } from "./auth.js";
import { compileRoutes, serveClientFunction } from "./client-functions.js";
import { DASHBOARD_PATH, defaultDashboardDir, serveDashboard } from "./dashboard.js";
import { errorBody, HttpError, sendError, sendJson, statusOf } from "./http-error.js";
import { matchRoute } from "./management-api.js";
import { abandonRequest, refuseDeclaredLength } from "./request.js";

/** What GET /healthz says: 200 with it when `status` is "ok", 503 otherwise. */
export interface HealthBody {
  status: string;
}

export interface HttpServerOptions {
  health: () => HealthBody;
  /** Where request spans go (default: the global OpenTelemetry API). */
  telemetry?: Telemetry;
  /** `GET /metrics` in the Prometheus text format (absent: no such route). */
  metrics?: () => Promise<string>;
  /** The built dashboard's files (default: the package's dist/dashboard). */
  dashboardDir?: string;
  /** Told when a request failed because the store is unavailable (the host checks the store at once). */
  onStoreError?: () => void;
  /** The host's client: the management API and client functions call it and nothing else. */
  client: DurableClientCore;
  registry: FunctionRegistry;
  key: string | undefined;
  maxBodyBytes: number;
  endpoint: () => HttpEndpoint;
  logger: Logger;
  /** Time to receive a request's headers, in ms; 0 means no limit. Default 10 s (at most requestTimeoutMs). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body, in ms; 0 means no limit. Default 30 s. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms; 0 means no limit. Default 5 s (Node's). */
  keepAliveTimeoutMs?: number;
  /** Connections open at once; more are closed as soon as they are accepted. Default 1,000. */
  maxConnections?: number;
  /**
   * After an answer sent before the request body was read (a 413, or an error refusing the request),
   * at most this many more body bytes are read and discarded; past that the connection is cut.
   * Default: the larger of 8 MiB and twice maxBodyBytes.
   */
  maxDrainBytes?: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_CONNECTIONS = 1_000;

/**
 * A client that writes its whole body before reading (many do) only sees a 413 if the body is
 * drained until it is done sending. Draining costs bandwidth, never memory (the bytes are dropped),
 * so it is worth it for the common "somewhat too big" body: up to twice the limit, and at least
 * 8 MiB so the default 1 MiB limit covers bodies up to 9 MiB. A client far over that is sending
 * something else entirely; cutting it saves the bandwidth.
 */
export function defaultMaxDrainBytes(maxBodyBytes: number): number {
  return Math.max(8 * 1024 * 1024, 2 * maxBodyBytes);
}

/** How long a connection answered with a 400/408 by the parser may stay half-open for the client to read it. */
const CLIENT_ERROR_LINGER_MS = 2_000;

/** setTimeout's ceiling (about 24.8 days). */
const MAX_MS = 2_147_483_647;

export interface EdgeLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxDrainBytes: number;
}

/**
 * The connection limits with their defaults filled in; INVALID_ARGUMENT for a value Node would
 * refuse or misread. createHttpServer calls it; a host can call it earlier, to fail before starting.
 */
export function edgeLimits(options: Pick<HttpServerOptions, "maxBodyBytes" | keyof EdgeLimits>): EdgeLimits {
  const whole = (name: keyof HttpServerOptions, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`HTTP option ${name} must be a whole number from ${min} to ${max} (got ${String(value)}).`);
    }
    return value;
  };
  const requestTimeoutMs = whole("requestTimeoutMs", options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 0, MAX_MS);
  const headersDefault = requestTimeoutMs > 0 ? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs) : DEFAULT_HEADERS_TIMEOUT_MS;
  const headersTimeoutMs = whole("headersTimeoutMs", options.headersTimeoutMs ?? headersDefault, 0, MAX_MS);
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new InvalidArgumentError(`HTTP option headersTimeoutMs (${headersTimeoutMs}) must not exceed requestTimeoutMs (${requestTimeoutMs}): the headers are part of the request.`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: whole("keepAliveTimeoutMs", options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 0, MAX_MS),
    maxConnections: whole("maxConnections", options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 1),
    maxDrainBytes: whole("maxDrainBytes", options.maxDrainBytes ?? defaultMaxDrainBytes(options.maxBodyBytes), 0),
  };
}

/**
 * Node enforces the header and request timeouts by sweeping its connections on an interval (30 s by
 * default), so a 10 s timeout could take 40 s. A quarter of the shortest timeout keeps the overshoot
 * small; the sweep is cheap (a list walk), but more than one a second buys nothing for real timeouts.
 */
function checkingIntervalMs(limits: EdgeLimits): number {
  const timeouts = [limits.headersTimeoutMs, limits.requestTimeoutMs].filter((t) => t > 0);
  if (timeouts.length === 0) return 30_000;
  return Math.min(1_000, Math.max(50, Math.floor(Math.min(...timeouts) / 4)));
}

/** Ends a connection if it is still open after `ms` (a client that never hangs up on its side). */
function destroyAfter(socket: Duplex, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

/**
 * The host's HTTP listener: `GET /healthz`, the Durable Functions management API under
 * /runtime/webhooks/durabletask, and HTTP-triggered client functions under /api. Every failure is
 * answered with a JSON error and the status of the error table; nothing a caller sends can crash it.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const limits = edgeLimits(options);
  const keys = new KeyCheck(options.key);
  const clientRoutes = compileRoutes(options.registry.httpRoutes);
  const dashboardDir = options.dashboardDir ?? defaultDashboardDir();
  /** Each connection's latest request and its answer: the parser's errors must not write over an answer. */
  const latest = new WeakMap<object, { req: IncomingMessage; res: ServerResponse }>();
  /** Connections that close once the answer in flight is out: nothing more that arrives on them is served. */
  const closing = new WeakSet<object>();

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
    },
    serve,
  );
  server.maxConnections = limits.maxConnections;

  function serve(req: IncomingMessage, res: ServerResponse): void {
    // Pipelined behind a request whose answer closes the connection: it will never be answered, so it must not run.
    if (closing.has(req.socket)) return;
    latest.set(req.socket, { req, res });
    traced(req, res);
  }

  const telemetry = options.telemetry ?? defaultTelemetry;

  /**
   * Handles the request in a server span that continues the caller's W3C trace context, so a start
   * made over HTTP and everything it causes are one trace. Health probes, scrapes and the
   * dashboard's static files are not traced (the dashboard's API calls are).
   */
  function traced(req: IncomingMessage, res: ServerResponse): void {
    const path = safePath(req);
    if (path === "/healthz" || path === "/metrics" || path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`)) {
      handle(req, res).catch((err: unknown) => fail(req, res, err));
      return;
    }
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === "string" ? v : undefined;
    };
    const traceparent = header("traceparent");
    const tracestate = header("tracestate");
    const parent = telemetry.resume(traceparent ? (tracestate ? { traceparent, tracestate } : { traceparent }) : undefined);
    const method = req.method ?? "GET";
    const span = telemetry.start(method, parent, SpanKind.SERVER, { "http.request.method": method, "url.path": path });
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      endSpan(span, res.statusCode >= 500 ? `HTTP ${res.statusCode}` : undefined);
    });
    telemetry.within(span, parent, () => handle(req, res)).catch((err: unknown) => fail(req, res, err));
  }

  // Node answers every `Expect: 100-continue` with 100 Continue unless this event has a listener:
  // that would invite a body the host is about to refuse.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (closing.has(req.socket)) return;
    latest.set(req.socket, { req, res });
    try {
      refuseDeclaredLength(req, options.maxBodyBytes);
    } catch (err) {
      fail(req, res, err);
      return;
    }
    res.writeContinue();
    traced(req, res);
  });

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const status = statusOf(err);
    if (err instanceof StoreUnavailableError) options.onStoreError?.();
    // Callers' mistakes are answered, not logged: anyone could flood the log with them.
    if (status === 500) {
      options.logger.error(`HTTP ${req.method ?? "?"} ${safePath(req)} failed: ${(err as Error)?.stack ?? String(err)}`);
    }
    const socket = req.socket;
    // Already answered (a 408 from the parser's side) or gone: there is nobody left to answer. What
    // the client still sends is read and dropped until the connection goes, so it is not reset under it.
    if (closing.has(socket) || socket.destroyed) {
      req.resume();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const unread = !req.complete;
    // Before the answer: once it is out, Node would discard the rest of the body itself, without a bound.
    if (unread) discardRest(req);
    // Past an oversized body the connection cannot carry another request, and `close` is what tells
    // a client that is still sending to stop (RFC 9112 §9.6).
    const close = status === 413;
    if (close) closing.add(socket);
    sendError(res, err, close ? { connection: "close" } : {});
    if (close && unread) closeWhenDrained(req, res);
  }

  /** Reads and drops what is left of a body the answer did not need; past maxDrainBytes the connection is cut. */
  function discardRest(req: IncomingMessage): void {
    let dropped = 0;
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > limits.maxDrainBytes) req.socket.destroy();
    });
    req.resume();
  }

  /**
   * Node destroys a `connection: close` socket as soon as the answer is flushed. With the body still
   * arriving, that resets the connection, and a client busy writing gets EPIPE/ECONNRESET instead of
   * the answer. So only our side is ended; the socket goes once the body is in (drained by
   * discardRest), the client hangs up, the drain bound is passed, or the request's time is up.
   */
  function closeWhenDrained(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    socket.destroySoon = () => void socket.end();
    let answered = false;
    let bodyIn = false;
    res.once("finish", () => {
      answered = true;
      if (bodyIn) socket.destroy();
    });
    req.once("end", () => {
      bodyIn = true;
      if (answered) socket.destroy();
    });
    destroyAfter(socket, limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : DEFAULT_REQUEST_TIMEOUT_MS);
  }

  // CONNECT (proxy tunnelling) never reaches the request handler: answer it like any unknown route.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(errorBody("NOT_FOUND", "CONNECT is not supported."));
    socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  // What the parser refuses (malformed request line or headers, a header or request timeout) gets a
  // JSON answer, not Node's bare one, and no log line.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const last = latest.get(socket);
    // An answer already started on this connection (for this request, or for the one before it
    // that is still being answered): more bytes would corrupt what the client reads.
    const answering = last !== undefined && (last.req.complete ? !last.res.writableEnded : last.res.headersSent);
    if (!socket.writable || closing.has(socket) || answering) {
      socket.destroy();
      return;
    }
    if (last !== undefined && !last.req.complete) abandonRequest(last.req);
    closing.add(socket);
    const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const [statusLine, body] = timedOut
      ? ["408 Request Timeout", errorBody("REQUEST_TIMEOUT", "The request was not received in time; send it again.")]
      : ["400 Bad Request", errorBody("BAD_REQUEST", "Malformed HTTP request.")];
    const text = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${statusLine}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    // Ending only our side lets a client that is still sending read the answer rather than a reset.
    destroyAfter(socket, CLIENT_ERROR_LINGER_MS);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => res.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "The request URL or Host header is not valid.");
    }
    const path = url.pathname;
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, errorBody("METHOD_NOT_ALLOWED", "Use GET /healthz."), { allow: "GET, HEAD" });
        return;
      }
      const health = options.health();
      sendJson(res, health.status === "ok" ? 200 : 503, health, { "cache-control": "no-store" });
      return;
    }
    if (path === "/metrics" && options.metrics) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, errorBody("METHOD_NOT_ALLOWED", "Use GET /metrics."), { allow: "GET, HEAD" });
        return;
      }
      if (!keys.allows(req, url.searchParams)) {
        throw new HttpError(401, "UNAUTHORIZED", "A management key is required: pass it as ?code=<key> or in the x-functions-key header.");
      }
      const text = await options.metrics();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
      return;
    }
    if (path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`)) {
      await serveDashboard(dashboardDir, req, res, url);
      return;
    }
    if (path === WEBHOOK_BASE_PATH || path.startsWith(`${WEBHOOK_BASE_PATH}/`)) {
      // The key is checked before routing, so unknown routes cannot be probed without it.
      if (!keys.allows(req, url.searchParams)) {
        throw new HttpError(401, "UNAUTHORIZED", "A management key is required: pass it as ?code=<key> or in the x-functions-key header.");
      }
      const segments = splitPath(path.slice(WEBHOOK_BASE_PATH.length));
      const route = matchRoute(req.method ?? "GET", segments);
      if (!route) throw new HttpError(404, "NOT_FOUND", `No management route for ${req.method ?? "GET"} ${path}.`);
      await route.handler(
        {
          client: options.client,
          endpoint: options.endpoint(),
          maxBodyBytes: options.maxBodyBytes,
          entityExists: (name) => options.registry.getEntity(name) !== undefined,
        },
        req,
        res,
        url,
        route.params,
      );
      return;
    }
    if (path === "/api" || path.startsWith("/api/")) {
      const served = await serveClientFunction(
        {
          client: options.client,
          clientKey: CLIENT_KEY,
          logger: options.logger,
          bindings: options.registry.bindings,
          maxBodyBytes: options.maxBodyBytes,
          keyAllows: (r, u) => keys.allows(r, u.searchParams),
        },
        clientRoutes,
        req,
        res,
        url,
        splitPath(path.slice("/api".length)),
      );
      if (served) return;
    }
    throw new HttpError(404, "NOT_FOUND", `No route for ${req.method ?? "GET"} ${path}.`);
  }

  return server;
}

/** Decoded path segments; a trailing slash adds nothing. Malformed percent-encoding is a 400. */
function splitPath(path: string): string[] {
  const raw = path.split("/").slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop();
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "The request path contains malformed percent-encoding.");
  }
}

/** The path without its query string: the query may carry the key, which must never be logged. */
function safePath(req: IncomingMessage): string {
  return (req.url ?? "/").split("?", 1)[0]!;
}

export function listen(server: Server, port: number, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      resolve(`http://${host}:${addr.port}`);
    });
  });
}
