import type { Server } from "node:http";
import { app as defaultApp, type DurableApp } from "../app.js";
import type { DurableClient } from "../client/durable-client.js";
import { LocalDurableClient } from "../client/local-client.js";
import { DurableError } from "../core/errors.js";
import { createHttpServer, listen } from "../http/server.js";
import type { StorageProvider } from "../providers/provider.js";
import { type Clock, systemClock } from "../worker/clock.js";
import { consoleLogger, type Logger } from "../worker/logger.js";
import { Worker, type WorkerOptions } from "../worker/worker.js";
import { DEFAULT_STORE_URL, providerFromUrl } from "./store-url.js";

export interface HostOptions extends WorkerOptions {
  /** Store URL (`sqlite:<path>`, `memory:`) or a provider instance. Default `sqlite:.perdure/perdure.db`. */
  store?: string | StorageProvider;
  /** HTTP port; 0 picks a free one; false runs without an HTTP listener. Default 7071. */
  port?: number | false;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Management key (used by the HTTP API). */
  key?: string;
  /** The app whose functions run here. Default: the module-wide `df.app`. */
  app?: DurableApp;
  /** Run workers (default true). A host without workers only serves clients. */
  workers?: boolean;
  clock?: Clock;
  logger?: Logger;
}

export interface Host {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Base URL of the HTTP listener once started (undefined with port: false). */
  readonly url: string | undefined;
  readonly client: DurableClient;
  readonly provider: StorageProvider;
  readonly worker: Worker;
  readonly app: DurableApp;
}

class PerdureHost implements Host {
  readonly client: DurableClient;
  readonly provider: StorageProvider;
  readonly worker: Worker;
  readonly app: DurableApp;
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private state: "new" | "starting" | "started" | "stopped" = "new";

  constructor(private readonly options: HostOptions) {
    this.app = options.app ?? defaultApp;
    const clock = options.clock ?? systemClock;
    this.provider = typeof options.store === "object" ? options.store : providerFromUrl(options.store ?? DEFAULT_STORE_URL);
    this.worker = new Worker(this.provider, this.app.registry, { ...options, clock, logger: options.logger ?? consoleLogger });
    this.client = new LocalDurableClient(this.provider, clock, this.app.registry);
  }

  get url(): string | undefined {
    return this.baseUrl;
  }

  async start(): Promise<void> {
    if (this.state !== "new") throw new DurableError("INVALID_HOST_STATE", `The host was already ${this.state}; create a new host to start again.`);
    this.state = "starting";
    await this.provider.initialize();
    if (this.options.workers !== false) this.worker.start();
    const port = this.options.port ?? 7071;
    if (port !== false) {
      this.server = createHttpServer({ isReady: () => this.state === "started" });
      this.baseUrl = await listen(this.server, port, this.options.hostname ?? "127.0.0.1");
    }
    this.state = "started";
  }

  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "new") {
      this.state = "stopped";
      return;
    }
    this.state = "stopped";
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await this.worker.stop();
    await this.provider.close();
  }
}

export function createHost(options: HostOptions = {}): Host {
  return new PerdureHost(options);
}
