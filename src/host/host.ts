import type { Server } from "node:http";
import { app as defaultApp, type DurableApp } from "../app.js";
import type { DurableClientCore } from "../client/client-core.js";
import { CLIENT_KEY } from "../client/client-key.js";
import { LocalDurableClient } from "../client/local-client.js";
import { DEFAULT_TASK_HUB } from "../client/management-urls.js";
import { isLoopback } from "../http/auth.js";
import { DEFAULT_MAX_BODY_BYTES } from "../http/request.js";
import { DurableError } from "../core/errors.js";
import { createHttpServer, edgeLimits, listen } from "../http/server.js";
import type { StorageProvider } from "../providers/provider.js";
import { type Clock, systemClock } from "../runtime/clock.js";
import { consoleLogger, type Logger } from "../runtime/logger.js";
import { Worker, type WorkerOptions } from "../worker/worker.js";
import { DEFAULT_STORE_URL, providerFromUrl } from "./store-url.js";

export interface HostOptions extends WorkerOptions {
  /** Store URL (`sqlite:<path>`, `memory:`) or a provider instance. Default `sqlite:.perdure/perdure.db`. */
  store?: string | StorageProvider;
  /** HTTP port; 0 picks a free one; false runs without an HTTP listener. Default 7071. */
  port?: number | false;
  /** Default 127.0.0.1. */
  hostname?: string;
  /**
   * Management key: with one, every management request needs it (`?code=` or `x-functions-key`) and
   * the management URLs carry it. Required to bind anything but a loopback address.
   */
  key?: string;
  /** Request body limit in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number;
  /** Time to receive a request's headers, in ms (0: no limit). Default 10 s. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, in ms (0: no limit). Default 30 s. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** HTTP connections open at once. Default 1,000. */
  maxConnections?: number;
  /** Body bytes read and discarded after a 413, so the client sees the answer. Default max(8 MiB, 2 × maxBodyBytes). */
  maxDrainBytes?: number;
  /** Reported as `taskHub=` in management URLs (default "perdure"). */
  taskHub?: string;
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
  readonly client: DurableClientCore;
  readonly provider: StorageProvider;
  readonly worker: Worker;
  readonly app: DurableApp;
}

class PerdureHost implements Host {
  readonly client: DurableClientCore;
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
    const key = options.key === "" ? undefined : options.key;
    this.client = new LocalDurableClient(this.provider, clock, this.app.registry, () => ({
      origin: this.baseUrl,
      key,
      taskHub: options.taskHub ?? DEFAULT_TASK_HUB,
    }));
    // Checked now, so a bad limit fails before the store and workers start.
    edgeLimits(this.edgeOptions());
    this.worker = new Worker(this.provider, this.app.registry, {
      ...options,
      clock,
      logger: options.logger ?? consoleLogger,
      activityContextExtras: { [CLIENT_KEY]: this.client },
    });
  }

  private edgeOptions(): { maxBodyBytes: number; headersTimeoutMs?: number; requestTimeoutMs?: number; keepAliveTimeoutMs?: number; maxConnections?: number; maxDrainBytes?: number } {
    const o = this.options;
    return {
      maxBodyBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      ...(o.headersTimeoutMs !== undefined ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
      ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
      ...(o.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: o.keepAliveTimeoutMs } : {}),
      ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
      ...(o.maxDrainBytes !== undefined ? { maxDrainBytes: o.maxDrainBytes } : {}),
    };
  }

  get url(): string | undefined {
    return this.baseUrl;
  }

  async start(): Promise<void> {
    if (this.state !== "new") throw new DurableError("INVALID_HOST_STATE", `The host was already ${this.state}; create a new host to start again.`);
    const hostname = this.options.hostname ?? "127.0.0.1";
    if (this.options.port !== false && !isLoopback(hostname) && !this.options.key) {
      throw new DurableError(
        "KEY_REQUIRED",
        `Refusing to listen on ${hostname} without a management key: anyone who can reach it could start, terminate and purge instances. Set one with --key <secret> or PERDURE_KEY, or bind 127.0.0.1.`,
      );
    }
    this.state = "starting";
    await this.provider.initialize();
    if (this.options.workers !== false) this.worker.start();
    const port = this.options.port ?? 7071;
    if (port !== false) {
      this.server = createHttpServer({
        isReady: () => this.state === "started",
        client: this.client,
        registry: this.app.registry,
        key: this.options.key || undefined,
        ...this.edgeOptions(),
        endpoint: () => ({ origin: this.baseUrl, key: this.options.key || undefined, taskHub: this.options.taskHub ?? DEFAULT_TASK_HUB }),
        logger: this.options.logger ?? consoleLogger,
      });
      this.baseUrl = await listen(this.server, port, hostname);
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
