import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpServerOptions {
  isReady: () => boolean;
}

/** The host's HTTP listener. This version serves `GET /healthz`; the management API mounts here. */
export function createHttpServer(options: HttpServerOptions): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: { code: "METHOD_NOT_ALLOWED", message: "Use GET /healthz." } });
      const ready = options.isReady();
      return sendJson(res, ready ? 200 : 503, { status: ready ? "ok" : "starting" });
    }
    sendJson(res, 404, { error: { code: "NOT_FOUND", message: `No route for ${req.method ?? "GET"} ${path}.` } });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
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
