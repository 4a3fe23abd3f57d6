import type { Server } from "node:http";
import { app as defaultApp, type DurableApp } from "../app.js";
import type { DurableClientCore } from "../client/client-core.js";
import { CLIENT_KEY } from "../client/client-key.js";
import { LocalDurableClient } from "../client/local-client.js";
import { DEFAULT_TASK_HUB } from "../client/management-urls.js";
import { isLoopback } from "../http/auth.js";
import { DEFAULT_MAX_BODY_BYTES } from "../http/request.js";
import { DurableError } from "../core/errors.js";
import { checkTimeZone } from "../core/ncrontab.js";
import { createHttpServer, edgeLimits, listen } from "../http/server.js";
import type { StorageProvider } from "../providers/provider.js";
import { type Clock, systemClock } from "../runtime/clock.js";
import { consoleLogger, type Logger } from "../runtime/logger.js";
import { defaultTelemetry, Telemetry } from "../runtime/telemetry.js";
import { Worker, type WorkerOptions } from "../worker/worker.js";
import { type HealthReport, HealthMonitor } from "./health.js";
import { StoreClock } from "./store-clock.js";
import { checkVersion } from "../core/version.js";
import { checkMaxPayloadBytes } from "../core/payload.js";
import { TimerScheduler } from "./timer-scheduler.js";
import { type RetentionOptions, type RetentionPolicy, RetentionScheduler, retentionPolicy } from "./retention.js";
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
  /** Run workers (default true). A host without workers only serves clients (`--http-only`). */
  workers?: boolean;
  /**
   * Time between heartbeats, in ms. Each is one small write that tells the other hosts this one is
   * alive (for cache affinity) and checks that the store can be written (for GET /healthz). Default 2 s.
   */
  heartbeatMs?: number;
  /**
   * The host's clock. Default: the system clock, corrected to the store's clock when the store is
   * shared by several machines (PostgreSQL). A clock passed here is used as it is.
   */
  clock?: Clock;
  /**
   * The time zone of timer functions' schedules: an IANA name (`Europe/Paris`). Default: the
   * environment's WEBSITE_TIME_ZONE (as on Azure), else UTC.
   */
  timeZone?: string;
  /**
   * Purge finished instances after an age, per terminal status, in the background (one host of a
   * fleet at a time): `{ Completed: "7d", Failed: "30d" }`, or the `--retention` text
   * `"completed=7d,failed=30d"`. Default: keep everything.
   */
  retention?: RetentionOptions | string;
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
  /** The app version stamped on new instances (`HostOptions.version`); undefined when none. */
  readonly version: string | undefined;
  /** The retention policy (`HostOptions.retention`), checked; undefined when everything is kept. */
  readonly retention: RetentionPolicy | undefined;
  /** What GET /healthz answers. */
  health(): HealthReport;
}

class PerdureHost implements Host {
  readonly version: string | undefined;
  readonly retention: RetentionPolicy | undefined;
  readonly client: DurableClientCore;
  readonly provider: StorageProvider;
  readonly worker: Worker;
  readonly app: DurableApp;
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private state: "new" | "starting" | "started" | "stopping" | "stopped" = "new";
  private readonly storeClock: StoreClock | undefined;
  private readonly monitor: HealthMonitor;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;
  private readonly clock: Clock;
  private readonly timeZone: string | undefined;
  private timers: TimerScheduler | undefined;
  private retentionScheduler: RetentionScheduler | undefined;

  constructor(private readonly options: HostOptions) {
    this.app = options.app ?? defaultApp;
    this.logger = options.logger ?? consoleLogger;
    const logger = this.logger;
    this.provider = typeof options.store === "object" ? options.store : providerFromUrl(options.store ?? DEFAULT_STORE_URL, process.cwd(), { warn: (m) => logger.warn(m) });
    // An explicit clock is the caller's (tests drive time by hand); the system clock follows the store's.
    this.storeClock = options.clock ? undefined : new StoreClock(systemClock, this.provider, this.logger);
    const clock = options.clock ?? this.storeClock!;
    const heartbeatMs = options.heartbeatMs ?? 2_000;
    if (!(Number.isFinite(heartbeatMs) && heartbeatMs >= 10)) throw new DurableError("INVALID_ARGUMENT", `heartbeatMs must be a number of milliseconds >= 10, got ${String(options.heartbeatMs)}.`);
    const key = options.key === "" ? undefined : options.key;
    this.telemetry = options.tracerProvider ? new Telemetry({ tracerProvider: options.tracerProvider }) : defaultTelemetry;
    this.client = new LocalDurableClient(
      this.provider,
      clock,
      this.app.registry,
      () => ({
        origin: this.baseUrl,
        key,
        taskHub: options.taskHub ?? DEFAULT_TASK_HUB,
      }),
      this.telemetry,
      (this.version = checkVersion(options.version, "The host's version")),
      options.maxPayloadBytes === undefined ? undefined : checkMaxPayloadBytes(options.maxPayloadBytes),
      // This host's worker runs the first step of what this host starts, without a lock transaction.
      (name, version) => this.worker.claimStart(name, version),
    );
    // Checked now, so a bad limit or policy fails before the store and workers start.
    edgeLimits(this.edgeOptions());
    this.retention = options.retention === undefined ? undefined : retentionPolicy(options.retention);
    this.worker = new Worker(this.provider, this.app.registry, {
      // A host counts as gone after three missed heartbeats: its instances' affinity ends then.
      hostTimeoutMs: 3 * heartbeatMs,
      ...options,
      ...(this.version !== undefined ? { version: this.version } : {}),
      clock,
      logger: this.logger,
      activityContextExtras: { [CLIENT_KEY]: this.client },
    });
    this.monitor = new HealthMonitor({
      provider: this.provider,
      clock,
      logger: this.logger,
      workerId: this.worker.workerId,
      workers: options.workers !== false,
      http: options.port !== false,
      intervalMs: heartbeatMs,
      clockOffset: () => this.storeClock?.offsetMs,
    });
    this.worker.onStoreError = () => this.monitor.suspect();
    this.clock = clock;
    // Checked now, so a time zone Intl does not know fails before anything starts.
    // WEBSITE_TIME_ZONE is read only for an app with timers: on Windows App Service it holds a Windows
    // name, which must not stop an app that has no schedule to read in it.
    this.timeZone = timeZoneOf(options, this.app.registry.timerFunctions.length > 0);
  }

  health(): HealthReport {
    const r = this.monitor.report();
    if (this.state === "starting" || this.state === "new") r.status = "starting";
    if (this.state === "stopping" || this.state === "stopped") r.status = "stopping";
    return r;
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
    await this.storeClock?.start();
    // The app's start hooks run before any work is taken, as in Azure Functions; one that throws stops the start.
    try {
      await this.app.registry.hooks.runStart();
    } catch (err) {
      await this.provider.close().catch(() => undefined);
      this.storeClock?.stop();
      this.state = "stopped";
      throw err;
    }
    await this.monitor.start();
    if (this.options.workers !== false) this.worker.start();
    const port = this.options.port ?? 7071;
    if (port !== false) {
      this.server = createHttpServer({
        health: () => this.health(),
        onStoreError: () => this.monitor.suspect(),
        client: this.client,
        telemetry: this.telemetry,
        metrics: () => this.worker.metrics.prometheus(),
        registry: this.app.registry,
        key: this.options.key || undefined,
        ...this.edgeOptions(),
        endpoint: () => ({ origin: this.baseUrl, key: this.options.key || undefined, taskHub: this.options.taskHub ?? DEFAULT_TASK_HUB }),
        logger: this.options.logger ?? consoleLogger,
      });
      this.baseUrl = await listen(this.server, port, hostname);
    }
    // Timer functions run where workers run (not on --http-only hosts), each occurrence on one host.
    if (this.options.workers !== false && this.app.registry.timerFunctions.length > 0) {
      this.timers = new TimerScheduler({
        provider: this.provider,
        timers: this.app.registry.timerFunctions,
        bindings: this.app.registry.bindings,
        client: this.client,
        clock: this.clock,
        logger: this.logger,
        workerId: this.worker.workerId,
        ...(this.timeZone !== undefined ? { timeZone: this.timeZone } : {}),
        pollIntervalMs: this.options.pollIntervalMs ?? 500,
        // The runs' leases are the workers': a host that dies during a run loses it as fast as its work.
        ...(this.options.leaseMs !== undefined ? { leaseMs: this.options.leaseMs } : {}),
        ...(this.options.leaseRenewMs !== undefined ? { leaseRenewMs: this.options.leaseRenewMs } : {}),
      });
      this.timers.start();
    }
    // Any host may run retention (it needs only the store); one of them at a time does.
    if (this.retention) {
      this.retentionScheduler = new RetentionScheduler({
        provider: this.provider,
        policy: this.retention,
        clock: this.clock,
        logger: this.logger,
        metrics: this.worker.metrics,
        workerId: this.worker.workerId,
        pollIntervalMs: this.options.pollIntervalMs ?? 500,
      });
      this.retentionScheduler.start();
    }
    this.state = "started";
  }

  /**
   * Stops taking requests and work, lets work in flight finish for up to `drainTimeoutMs`, releases
   * what is still held (so other hosts take it at once) and closes the store.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping" || this.state === "new") {
      this.state = "stopped";
      return;
    }
    this.state = "stopping";
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    // No new timer runs. The runs in progress may finish within the same grace period as the
    // workers' drain (never longer: a stop must not wait on user code), while the store is still there.
    const timersStopped = this.timers?.stop(this.worker.drainTimeoutMs);
    const retentionStopped = this.retentionScheduler?.stop();
    // Forgotten first: instances whose executors this host caches go to the others at once.
    await this.monitor.stop();
    await Promise.all([this.worker.stop(), timersStopped, retentionStopped]);
    await this.app.registry.hooks.runTerminate((err) => this.logger.error(`An app.hook.appTerminate hook failed: ${(err as Error)?.stack ?? String(err)}`, {}));
    this.worker.metrics.close();
    this.storeClock?.stop();
    await this.provider.close();
    this.state = "stopped";
  }
}

export function createHost(options: HostOptions = {}): Host {
  return new PerdureHost(options);
}

/** The schedules' time zone: the option, else WEBSITE_TIME_ZONE (Azure's setting); undefined for UTC. */
function timeZoneOf(options: HostOptions, hasTimers: boolean): string | undefined {
  if (options.timeZone !== undefined && options.timeZone !== "") return checkTimeZone(options.timeZone, "time zone");
  if (!hasTimers) return undefined;
  const fromEnv = process.env.WEBSITE_TIME_ZONE;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return checkTimeZone(fromEnv.trim(), "WEBSITE_TIME_ZONE");
  return undefined;
}

