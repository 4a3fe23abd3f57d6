import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { CLIENT_KEY } from "../client/client-key.js";
import type { DurableClient } from "../client/durable-client.js";
import type { HttpEndpoint } from "../client/http-helpers.js";
import { WEBHOOK_BASE_PATH } from "../client/management-urls.js";
import type { HistoryEvent } from "../core/history.js";
import type { Logger } from "../runtime/logger.js";
import type { FunctionRegistry } from "../runtime/registry.js";
import { KeyCheck } from "./auth.js";
import { compileRoutes, serveClientFunction } from "./client-functions.js";
import { errorBody, HttpError, sendError, sendJson, statusOf } from "./http-error.js";
import { matchRoute } from "./management-api.js";

export interface HttpServerOptions {
  isReady: () => boolean;
  client: DurableClient;
  history: (instanceId: string) => Promise<HistoryEvent[]>;
  registry: FunctionRegistry;
  key: string | undefined;
  maxBodyBytes: number;
  endpoint: () => HttpEndpoint;
  logger: Logger;
}

/**
 * The host's HTTP listener: `GET /healthz`, the Durable Functions management API under
 * /runtime/webhooks/durabletask, and HTTP-triggered client functions under /api. Every failure is
 * answered with a JSON error and the status of the error table; nothing a caller sends can crash it.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const keys = new KeyCheck(options.key);
  const clientRoutes = compileRoutes(options.registry.httpRoutes);
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Callers' mistakes are answered, not logged: anyone could flood the log with them.
      if (statusOf(err) === 500) {
        options.logger.error(`HTTP ${req.method ?? "?"} ${safePath(req)} failed: ${(err as Error)?.stack ?? String(err)}`);
      }
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
  // CONNECT (proxy tunnelling) never reaches the request handler: answer it like any unknown route.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(errorBody("NOT_FOUND", "CONNECT is not supported."));
    socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  // A client that sends a malformed request line or headers gets a 400 from Node; keep it from logging noise.
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + JSON.stringify(errorBody("BAD_REQUEST", "Malformed HTTP request.")));
    else socket.destroy();
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
      const ready = options.isReady();
      sendJson(res, ready ? 200 : 503, { status: ready ? "ok" : "starting" });
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
          history: options.history,
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
