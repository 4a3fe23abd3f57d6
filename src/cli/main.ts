import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { app } from "../app.js";
import { DurableError } from "../core/errors.js";
import { createHost, type Host } from "../host/host.js";
import { DEFAULT_STORE_URL, redactStore } from "../host/store-url.js";
import { createLogger, LOG_LEVELS, type LogFormat, type LogLevel } from "../runtime/logger.js";
import { entryFiles, loadEntryFiles } from "./entry.js";
import { hostJsonVersioning, versionOption } from "./host-json.js";
import { installPackageAliases } from "./package-aliases.js";
import { VERSION_FAILURE_STRATEGIES, VERSION_MATCH_STRATEGIES } from "../core/version.js";
import { describeRetention, formatDuration, parseRetentionFlag } from "../core/retention.js";
import { CliError, type CliIo, errorText, processIo } from "./io.js";
import { OPERATOR_USAGE, operator } from "./operator.js";
import { REPLAY_USAGE, replay } from "./replay.js";
import { packageVersion } from "./version.js";

const USAGE = `Usage: perdure start [<entry>] [--port 7071] [--hostname 127.0.0.1] [--store ${DEFAULT_STORE_URL}] [--key <secret>] [options]
       perdure --version   the installed version
       perdure --help      this text

  <entry>     a .js, .mjs or .ts module that registers functions with df.app, or a folder; without
              it, the "main" of ./package.json (a file or a glob such as dist/src/functions/*.js)
  --verbose   print the stack under an error (errors are one line with a code otherwise)
  --port      HTTP port (env PERDURE_PORT; 0 = any free port)
  --hostname  address to bind (default 127.0.0.1)
  --store     sqlite:<path> | memory: | postgres://... (env PERDURE_STORE)
  --key       management key (env PERDURE_KEY); required to bind a non-loopback address
  --max-body-bytes         request body limit (default 1048576)
  --max-payload-bytes      the largest input, output, event data or entity state stored, as JSON
                           (default 16777216); larger ones fail with PAYLOAD_TOO_LARGE where they are made
  --max-history-events     the longest history an execution may reach (default 500000): past it the
                           instance fails with HISTORY_TOO_LONG (use continueAsNew); a warning at half
  --headers-timeout-ms     time to receive a request's headers (default 10000; 0 = no limit)
  --request-timeout-ms     time to receive a whole request (default 30000; 0 = no limit)
  --keep-alive-timeout-ms  idle keep-alive connections are closed after it (default 5000)
  --max-connections        HTTP connections open at once (default 1000)
  --on-nondeterminism      park (default: keep the instance, retry, show why) | fail (as Durable Functions)
  --app-version <v>        the version stamped on new instances, read as context.df.version (env
                           PERDURE_APP_VERSION; default: extensions.durableTask.defaultVersion of ./host.json)
  --version-match current-or-older|strict|none   which instance versions this host runs (default
                           current-or-older; env PERDURE_VERSION_MATCH; host.json versionMatchStrategy)
  --version-failure reject|fail   an instance it may not run waits for another host (reject, the
                           default) or fails (env PERDURE_VERSION_FAILURE; host.json versionFailureStrategy)
  --retention <status=age,...>  purge finished instances after an age, per status, in the background
                           (one host of a fleet at a time): completed=7d,failed=30d,terminated=7d,canceled=7d
                           (ages in s, m, h, d or w; a status left out is kept) (env PERDURE_RETENTION)

  Fleet (several hosts on one PostgreSQL store):
  --workers-only           run workers, no HTTP listener
  --http-only              serve HTTP (management API, client functions), run no workers
  --lease-ms               lease on work in flight (timer runs too); a crashed host's work is taken over
                           after it (default 5000)
  --lease-renew-ms         how often leases of work in flight are renewed (default 1000; at most lease/3)
  --drain-timeout-ms       grace period on SIGTERM/SIGINT: work in flight may finish, the rest is handed
                           back and the process exits (default 10000)
  --max-concurrent-orchestrations  orchestration and entity steps in flight (default 100)
  --max-concurrent-activities      activity calls in flight (default 100)

  Logs:
  --log-format json|text   json: a JSON object per line (the default when stdout is not a terminal);
                           text: lines for people (the default on a terminal) (env PERDURE_LOG_FORMAT)
  --log-level debug|info|warn|error  the lowest level written (default info; debug adds the runtime's
                           tracking events) (env PERDURE_LOG_LEVEL)`;


interface StartOptions {
  entry: string | undefined;
  port: number;
  hostname: string;
  store: string;
  key: string | undefined;
  maxBodyBytes: number | undefined;
  maxPayloadBytes: number | undefined;
  maxHistoryEvents: number | undefined;
  headersTimeoutMs: number | undefined;
  requestTimeoutMs: number | undefined;
  keepAliveTimeoutMs: number | undefined;
  maxConnections: number | undefined;
  onNondeterminism: "park" | "fail" | undefined;
  appVersion: string | undefined;
  retention: string | undefined;
  versionMatch: string | undefined;
  versionFailure: string | undefined;
  workers: boolean;
  http: boolean;
  leaseMs: number | undefined;
  leaseRenewMs: number | undefined;
  drainTimeoutMs: number | undefined;
  maxConcurrentOrchestrations: number | undefined;
  maxConcurrentActivities: number | undefined;
  logFormat: LogFormat | undefined;
  logLevel: LogLevel | undefined;
}

/** A whole number from a flag; `min` 0 allows "no limit". Undefined when the flag is absent. */
function wholeNumber(values: Record<string, string | boolean | undefined>, flag: string, min: number, what: string): number | undefined {
  const text = values[flag];
  if (text === undefined || typeof text !== "string") return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new CliError(`perdure: invalid --${flag} '${text}': use ${what}.`, 2);
  }
  return Number(text);
}

/** The options that take a value: `--port -1` is a (bad) value for --port, not an option named "-1". */
const VALUE_OPTIONS = new Set(["port", "hostname", "store", "key", "max-body-bytes", "max-payload-bytes", "max-history-events", "headers-timeout-ms", "request-timeout-ms", "keep-alive-timeout-ms", "max-connections", "on-nondeterminism", "lease-ms", "lease-renew-ms", "drain-timeout-ms", "max-concurrent-orchestrations", "max-concurrent-activities", "log-format", "log-level"]);

/** --max-payload-bytes: its upper bound checked here too, so every bad value is a usage error (exit 2). */
function payloadLimit(n: number | undefined): number | undefined {
  if (n !== undefined && n > 1024 * 1024 * 1024) throw new CliError(`perdure: invalid --max-payload-bytes '${n}': use a number of bytes from 1024 to 1073741824 (1 GiB).`, 2);
  return n;
}

function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    // Only a negative number: `--key --http-only` must stay two flags (and fail: --key wants a value).
    if (a.startsWith("--") && !a.includes("=") && VALUE_OPTIONS.has(a.slice(2)) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function parseStart(argv: string[], env: NodeJS.ProcessEnv): StartOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv),
      allowPositionals: true,
      options: {
        port: { type: "string" },
        hostname: { type: "string" },
        store: { type: "string" },
        key: { type: "string" },
        "max-body-bytes": { type: "string" },
        "max-payload-bytes": { type: "string" },
        "max-history-events": { type: "string" },
        "headers-timeout-ms": { type: "string" },
        "request-timeout-ms": { type: "string" },
        "keep-alive-timeout-ms": { type: "string" },
        "max-connections": { type: "string" },
        "on-nondeterminism": { type: "string" },
        "app-version": { type: "string" },
        "version-match": { type: "string" },
        "version-failure": { type: "string" },
        retention: { type: "string" },
        "workers-only": { type: "boolean" },
        "http-only": { type: "boolean" },
        "lease-ms": { type: "string" },
        "lease-renew-ms": { type: "string" },
        "drain-timeout-ms": { type: "string" },
        "max-concurrent-orchestrations": { type: "string" },
        "max-concurrent-activities": { type: "string" },
        "log-format": { type: "string" },
        "log-level": { type: "string" },
        verbose: { type: "boolean" },
      },
    });
  } catch (err) {
    throw new CliError(`perdure start: ${(err as Error).message.split("\n")[0]} ('perdure --help' lists the options).`, 2);
  }
  const [entry, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new CliError(`perdure start: unexpected argument '${extra[0]}': give one entry (a file, or a folder with a package.json) ('perdure --help' lists the options).`, 2);
  const portText = parsed.values.port ?? env.PERDURE_PORT ?? "7071";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new CliError(`perdure: invalid port '${portText}': use a number from 0 to 65535.`, 2);
  const v = parsed.values;
  const onNondeterminism = v["on-nondeterminism"];
  if (onNondeterminism !== undefined && onNondeterminism !== "park" && onNondeterminism !== "fail") {
    throw new CliError(`perdure: invalid --on-nondeterminism '${onNondeterminism}': use park or fail.`, 2);
  }
  const logFormat = v["log-format"] ?? env.PERDURE_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== "json" && logFormat !== "text") throw new CliError(`perdure: invalid --log-format '${logFormat}': use json or text.`, 2);
  const logLevel = v["log-level"] ?? env.PERDURE_LOG_LEVEL;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel)) throw new CliError(`perdure: invalid --log-level '${logLevel}': use ${LOG_LEVELS.join(", ")}.`, 2);
  if (v["workers-only"] && v["http-only"]) throw new CliError("perdure: --workers-only and --http-only exclude each other: a host with neither would do nothing.", 2);
  // An empty PERDURE_RETENTION is unset, as an empty variable usually is.
  const retention = v.retention ?? (env.PERDURE_RETENTION === "" ? undefined : env.PERDURE_RETENTION);
  if (retention !== undefined) {
    try {
      parseRetentionFlag(retention);
    } catch (err) {
      throw new CliError(`perdure: invalid --retention '${retention}': ${(err as Error).message.replace(/^--retention: /, "")}`, 2);
    }
  }
  const leaseMs = wholeNumber(v, "lease-ms", 100, "a number of milliseconds >= 100");
  const leaseRenewMs = wholeNumber(v, "lease-renew-ms", 10, "a number of milliseconds >= 10");
  const lease = leaseMs ?? 5_000;
  if (leaseRenewMs !== undefined && leaseRenewMs > lease / 3) {
    throw new CliError(`perdure: --lease-renew-ms ${leaseRenewMs} must be at most a third of the lease (${lease} ms), so a lease survives a late renewal.`, 2);
  }
  return {
    logFormat,
    logLevel: logLevel as LogLevel | undefined,
    workers: !v["http-only"],
    http: !v["workers-only"],
    leaseMs,
    leaseRenewMs,
    drainTimeoutMs: wholeNumber(v, "drain-timeout-ms", 0, "a number of milliseconds"),
    maxConcurrentOrchestrations: wholeNumber(v, "max-concurrent-orchestrations", 1, "a positive number"),
    maxConcurrentActivities: wholeNumber(v, "max-concurrent-activities", 1, "a positive number"),
    maxBodyBytes: wholeNumber(v, "max-body-bytes", 1, "a positive number of bytes"),
    maxPayloadBytes: payloadLimit(wholeNumber(v, "max-payload-bytes", 1024, "a number of bytes from 1024 to 1073741824 (1 GiB)")),
    maxHistoryEvents: wholeNumber(v, "max-history-events", 100, "a number of events >= 100"),
    headersTimeoutMs: wholeNumber(v, "headers-timeout-ms", 0, "a number of milliseconds (0 for no limit)"),
    requestTimeoutMs: wholeNumber(v, "request-timeout-ms", 0, "a number of milliseconds (0 for no limit)"),
    keepAliveTimeoutMs: wholeNumber(v, "keep-alive-timeout-ms", 0, "a number of milliseconds"),
    maxConnections: wholeNumber(v, "max-connections", 1, "a positive number of connections"),
    onNondeterminism,
    appVersion: v["app-version"] ?? env.PERDURE_APP_VERSION,
    retention,
    versionMatch: v["version-match"] ?? env.PERDURE_VERSION_MATCH,
    versionFailure: v["version-failure"] ?? env.PERDURE_VERSION_FAILURE,
    entry,
    port,
    hostname: parsed.values.hostname ?? "127.0.0.1",
    store: parsed.values.store ?? env.PERDURE_STORE ?? DEFAULT_STORE_URL,
    key: parsed.values.key ?? env.PERDURE_KEY,
  };
}

export async function start(options: StartOptions, cwd = process.cwd()): Promise<Host> {
  const files = await entryFiles(options.entry, cwd);
  await installPackageAliases();
  const hostJson = await hostJsonVersioning(await appFolder(options.entry, cwd));
  const appVersion = options.appVersion ?? hostJson.defaultVersion;
  const versionMatch = strategy(options.versionMatch ?? hostJson.versionMatchStrategy, VERSION_MATCH_STRATEGIES, "--version-match");
  const versionFailure = strategy(options.versionFailure ?? hostJson.versionFailureStrategy, VERSION_FAILURE_STRATEGIES, "--version-failure");
  await loadEntryFiles(files, options.entry ?? (files.length === 1 ? files[0]! : `${files.length} files of package.json "main"`));
  let host: Host;
  try {
    host = createHost({
      store: options.store,
      port: options.http ? options.port : false,
      workers: options.workers,
      hostname: options.hostname,
      logger: createLogger({ ...(options.logFormat ? { format: options.logFormat } : {}), ...(options.logLevel ? { level: options.logLevel } : {}) }),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.leaseRenewMs !== undefined ? { leaseRenewMs: options.leaseRenewMs } : {}),
      ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
      ...(options.maxConcurrentOrchestrations !== undefined ? { maxConcurrentOrchestrations: options.maxConcurrentOrchestrations } : {}),
      ...(options.maxConcurrentActivities !== undefined ? { maxConcurrentActivities: options.maxConcurrentActivities } : {}),
      ...(options.key ? { key: options.key } : {}),
      ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
      ...(options.maxHistoryEvents !== undefined ? { maxHistoryEvents: options.maxHistoryEvents } : {}),
      ...(options.headersTimeoutMs !== undefined ? { headersTimeoutMs: options.headersTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: options.keepAliveTimeoutMs } : {}),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.onNondeterminism !== undefined ? { retry: { onNondeterminism: options.onNondeterminism } } : {}),
      ...versionOption(appVersion),
      ...(versionMatch !== undefined ? { versionMatch } : {}),
      ...(versionFailure !== undefined ? { versionFailure } : {}),
      ...(options.retention !== undefined ? { retention: options.retention } : {}),
    });
  } catch (err) {
    throw new CliError(`perdure: ${(err as Error).message}`, 1, err instanceof DurableError ? err.code : "INVALID_OPTION");
  }
  try {
    await host.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    await host.stop().catch(() => undefined);
    if (e.code === "EADDRINUSE") throw new CliError(`perdure: cannot listen on ${options.hostname}:${options.port}: the address is in use. Pick another port with --port.`, 1, "ADDRESS_IN_USE");
    if (e.code === "EACCES") throw new CliError(`perdure: not allowed to listen on ${options.hostname}:${options.port}. Use a port above 1023.`, 1, "LISTEN_NOT_ALLOWED");
    if (e.code === "EADDRNOTAVAIL") throw new CliError(`perdure: cannot listen on ${options.hostname}: this machine has no such address. Use 127.0.0.1, 0.0.0.0 or one of its addresses.`, 1, "LISTEN_NOT_ALLOWED");
    if (err instanceof DurableError) throw new CliError(`perdure: ${err.message}`, 1, err.code, e.stack);
    throw new CliError(`perdure: the host could not start: ${e.message}`, 1, "HOST_START_FAILED", e.stack);
  }
  return host;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo, cwd = process.cwd()): Promise<number> {
  const verbose = argv.includes("--verbose");
  const [command, ...rest] = argv.filter((a) => a !== "--verbose");
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    io.out(`${USAGE}\n\n${OPERATOR_USAGE}\n\n${REPLAY_USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    io.out(`perdure ${packageVersion()}\n`);
    return 0;
  }
  if (command === "instances" || command === "entities" || command === "replay") {
    try {
      return command === "replay" ? await replay(rest, io, cwd) : await operator(command, rest, io, env, cwd);
    } catch (err) {
      if (err instanceof CliError) {
        io.err(errorText(err, verbose));
        return err.exitCode;
      }
      io.err(errorText(new CliError(`perdure: ${(err as Error).message}`, 1, "INTERNAL_ERROR", (err as Error).stack), verbose));
      return 1;
    }
  }
  if (command !== "start") {
    io.err(`perdure: unknown command '${command}': use start, instances, entities, replay or --version ('perdure --help' shows them). (USAGE)\n`);
    return 2;
  }
  let host: Host;
  try {
    const options = parseStart(rest, env);
    host = await start(options, cwd);
    const orchestrations = app.registry.orchestrationNames();
    const activities = app.registry.activityNames();
    console.log(`Perdure host ${host.worker.workerId} running on ${host.url ?? "(no HTTP)"} with store ${redactStore(options.store)}${options.workers ? "" : " (HTTP only, no workers)"}`);
    console.log(`  orchestrations: ${orchestrations.join(", ") || "(none)"}`);
    console.log(`  activities: ${activities.join(", ") || "(none)"}`);
    const entities = app.registry.entityNames();
    if (entities.length > 0) console.log(`  entities: ${entities.join(", ")}`);
    if (host.version !== undefined) console.log(`  app version: ${host.version} (context.df.version of new instances)`);
    if (host.retention) console.log(`  retention: purges ${describeRetention(host.retention.ages)} (every ${formatDuration(host.retention.intervalMs)}, one host at a time)`);
    for (const fn of app.registry.httpRoutes) console.log(`  http: ${fn.name} ${fn.methods.join(",")} /api/${fn.route}`);
    for (const fn of app.registry.timerFunctions) console.log(`  timer: ${fn.name} '${fn.schedule.expression}'${options.workers ? "" : " (not run here: no workers)"}`);
    if (host.url) console.log(`  dashboard: ${host.url}/dashboard`);
  } catch (err) {
    const e = err instanceof CliError ? err : new CliError(`perdure: ${(err as Error)?.message ?? String(err)}`, 1, "INTERNAL_ERROR", (err as Error)?.stack);
    io.err(errorText(e, verbose));
    return e.exitCode;
  }
  return new Promise<number>((resolveStop) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      const grace = drainTimeoutOf(host);
      console.log(`Received ${signal}: draining (up to ${grace} ms) and stopping...`);
      // The host's stop is bounded by the grace period; this is the floor under it.
      setTimeout(() => {
        console.error(`perdure: still stopping ${grace + 2_000} ms after ${signal}; exiting now.`);
        resolveStop(1);
      }, grace + 2_000).unref();
      host.stop().then(
        () => resolveStop(0),
        (err: unknown) => {
          console.error(`perdure: error while stopping: ${(err as Error).message}`);
          resolveStop(1);
        },
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}

function drainTimeoutOf(host: Host): number {
  return host.worker.drainTimeoutMs;
}

/** Where host.json is looked for: the entry when it is a folder, else the directory perdure runs in. */
async function appFolder(entry: string | undefined, cwd: string): Promise<string> {
  if (entry === undefined) return cwd;
  const path = resolve(cwd, entry);
  return (await stat(path).catch(() => undefined))?.isDirectory() ? path : cwd;
}

/** A strategy name as Durable Functions writes it (CurrentOrOlder) or as a flag (current-or-older), any case. */
function strategy<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined || value === "") return undefined;
  const wanted = value.replace(/-/g, "").toLowerCase();
  const found = allowed.find((a) => a.toLowerCase() === wanted);
  if (!found) throw new CliError(`perdure: invalid ${flag} '${value}': use ${allowed.map((a) => a.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase()).join(", ")}.`, 2, "USAGE");
  return found;
}
