import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import { readHistory } from "../../src/core/history-v1.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { parsePayload } from "../../src/core/payload.js";
import { createHost, type Host, type HostOptions } from "../../src/host/host.js";
import { MemoryProvider } from "../../src/providers/memory/memory-provider.js";
import type { StorageProvider } from "../../src/providers/provider.js";
import { PostgresProvider } from "../../src/providers/postgres/postgres-provider.js";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { assertAllReplayCleanly } from "./determinism.js";
import { dropSchema, newSchema, PG_URL, withPostgresSync } from "./pg.js";

/** A store URL on the test server with a schema of its own. */
export function postgresUrl(schema: string, pool = 4): string {
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  url.searchParams.set("pool", String(pool));
  return url.toString();
}

export const STORES = ["memory", "sqlite", "postgres"] as const;
export type StoreKind = (typeof STORES)[number];

/** Declares a store's tests: PostgreSQL's only when the server answers (see helpers/pg.ts). */
function describeStore(title: string, store: StoreKind, body: () => void): void {
  if (store === "postgres") {
    withPostgresSync(`${title} [postgres]`, () => {
      describe(`${title} [postgres]`, body);
    });
  }
  else describe(`${title} [${store}]`, body);
}

export interface TestHostOptions extends Omit<HostOptions, "app" | "store"> {
  /** Skip the determinism self-check (only for tests that break determinism on purpose). */
  skipReplayCheck?: boolean;
}

/**
 * Runs `body` once per store (memory and a temp SQLite file). `start(register)` builds an app,
 * starts a host on the store, and after each test replays every instance from scratch (the
 * determinism self-check) before stopping the host.
 */
export function forEachStore(title: string, body: (start: (register: (app: DurableApp) => void, options?: TestHostOptions) => Promise<Host>, store: StoreKind) => void): void {
  for (const store of STORES) {
    describeStore(title, store, () => {
      const dir = mkdtempSync(join(tmpdir(), "perdure-it-"));
      let started: { host: Host; app: DurableApp; check: boolean; maxPayloadBytes: number | undefined }[] = [];
      const schemas: string[] = [];
      let n = 0;
      afterEach(async () => {
        const hosts = started;
        started = [];
        try {
          for (const { host, app, check, maxPayloadBytes } of hosts) if (check) await assertAllReplayCleanly(host.provider, app.registry, maxPayloadBytes === undefined ? {} : { maxPayloadBytes });
        } finally {
          for (const { host } of hosts) await host.stop();
          for (const schema of schemas.splice(0)) await dropSchema(schema);
        }
      });
      after(() => rmSync(dir, { recursive: true, force: true }));
      const start = async (register: (app: DurableApp) => void, options: TestHostOptions = {}): Promise<Host> => {
        const app = createApp();
        register(app);
        const { skipReplayCheck, ...rest } = options;
        const schema = store === "postgres" ? newSchema("it") : "";
        if (schema) schemas.push(schema);
        const host = createHost({
          store: store === "memory" ? "memory:" : store === "sqlite" ? `sqlite:${join(dir, `t${n++}.db`)}` : postgresUrl(schema),
          port: false,
          app,
          pollIntervalMs: 50,
          logger: silentLogger,
          ...rest,
        });
        await host.start();
        started.push({ host, app, check: !skipReplayCheck, maxPayloadBytes: rest.maxPayloadBytes });
        return host;
      };
      body(start, store);
    });
  }
}

export const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(10);
  }
}

type Viewed<E> = E extends HistoryEvent ? Omit<E, "input" | "result"> & { input?: unknown; result?: unknown } : never;
/** A stored history event with its payloads parsed (distributed over the union, so `type` still narrows). */
export type HistoryEventView = Viewed<HistoryEvent>;

/**
 * The current execution's stored history, read as format 2, payloads parsed: what tests inspect to
 * check what the engine recorded. (The client's `showHistory` gives the Durable Functions projection.)
 */
export async function storedHistory(host: Pick<Host, "provider">, instanceId: string): Promise<HistoryEventView[]> {
  return readHistory(await host.provider.getHistory(instanceId)).map((e) => {
    const v: Record<string, unknown> = { ...e };
    if ("input" in e && e.input !== undefined) v.input = parsePayload(e.input);
    if ("result" in e && e.result !== undefined) v.result = parsePayload(e.result);
    return v as HistoryEventView;
  });
}

/**
 * Runs `body` once per store with a store several hosts can share: `open()` gives a new handle on it
 * each time (memory: a second handle on the same data; SQLite: another connection to the same file),
 * as separate processes would have. `host(app, options)` starts a host on a new handle; every host
 * started is stopped after the test.
 */
export function forEachSharedStore(
  title: string,
  body: (ctx: { open: () => StorageProvider; host: (app: DurableApp, options?: Omit<HostOptions, "app" | "store">) => Promise<Host>; store: StoreKind }) => void,
): void {
  for (const store of STORES) {
    describeStore(title, store, () => {
      const dir = mkdtempSync(join(tmpdir(), "perdure-shared-"));
      const hosts: Host[] = [];
      let first: MemoryProvider | undefined;
      let file = "";
      let schema = "";
      let n = 0;
      beforeEach(() => {
        first = undefined;
        file = join(dir, `s${n++}.db`);
        if (store === "postgres") schema = newSchema("sh");
      });
      afterEach(async () => {
        for (const h of hosts.splice(0)) await h.stop();
        if (schema) await dropSchema(schema);
      });
      after(() => rmSync(dir, { recursive: true, force: true }));
      const open = (): StorageProvider => {
        if (store === "sqlite") return new SqliteProvider({ filename: file });
        if (store === "postgres") return new PostgresProvider({ connectionString: PG_URL, schema, poolSize: 4 });
        if (!first) return (first = new MemoryProvider());
        return first.openSecondHandle();
      };
      const host = async (app: DurableApp, options: Omit<HostOptions, "app" | "store"> = {}): Promise<Host> => {
        const h = createHost({ store: open(), app, port: false, pollIntervalMs: 50, logger: silentLogger, ...options });
        hosts.push(h);
        await h.start();
        return h;
      };
      body({ open, host, store });
    });
  }
}
