import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DurableError, StoreUnavailableError } from "../core/errors.js";
import { MemoryProvider } from "../providers/memory/memory-provider.js";
import { PostgresProvider } from "../providers/postgres/postgres-provider.js";
import type { StorageProvider } from "../providers/provider.js";
import { SqliteProvider } from "../providers/sqlite/sqlite-provider.js";

/**
 * `offloadBytes=N` in a SQL store's URL: payloads from N bytes on are compressed into the payloads
 * table (0: none is). Undefined when the URL does not say.
 */
function offloadBytesOf(params: URLSearchParams, url: string): number | undefined {
  const text = params.get("offloadBytes") ?? undefined;
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || (n !== 0 && n < 1024) || n > 1024 * 1024 * 1024) {
    throw new StoreUrlError(`Invalid offloadBytes=${text} in '${redact(url)}': use a number of bytes from 1024 to 1073741824 (payloads from that size on are stored apart, compressed), or 0 to keep every payload in its row.`);
  }
  return n;
}

export const DEFAULT_STORE_URL = "sqlite:.perdure/perdure.db";

export class StoreUrlError extends DurableError {
  constructor(message: string) {
    super("INVALID_STORE_URL", message);
  }
}

export interface StoreUrlOptions {
  /** Where a store reports trouble it recovers from by itself (a lost connection). */
  warn?: (message: string) => void;
}

/** `memory:`, `sqlite:<path>` (or `sqlite::memory:`), `postgres://…`. */
export function providerFromUrl(url: string, cwd = process.cwd(), options: StoreUrlOptions = {}): StorageProvider {
  if (url === "memory:" || url === "memory://") return new MemoryProvider();
  if (url.startsWith("sqlite:")) {
    let rest = url.slice("sqlite:".length);
    if (rest.startsWith("//")) rest = rest.slice(2);
    const [path = "", query = ""] = rest.split("?", 2);
    if (path === "") throw new StoreUrlError(`Store URL '${url}' names no file. Use sqlite:<path>, for example sqlite:.perdure/perdure.db.`);
    const params = new URLSearchParams(query);
    const synchronous = params.get("synchronous") ?? undefined;
    if (synchronous !== undefined && !["normal", "full"].includes(synchronous.toLowerCase())) {
      throw new StoreUrlError(`Unknown synchronous mode '${synchronous}' in '${url}': use synchronous=normal or synchronous=full.`);
    }
    const offloadBytes = offloadBytesOf(params, url);
    const offload = offloadBytes === undefined ? {} : { offloadBytes };
    if (path === ":memory:") return new SqliteProvider({ filename: ":memory:", ...offload });
    const file = resolve(cwd, path);
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (err) {
      throw new StoreUnavailableError(`cannot create the folder of the SQLite database '${file}' (${(err as Error).message})`, { cause: err });
    }
    return new SqliteProvider({ filename: file, ...(synchronous ? { synchronous: synchronous.toLowerCase() as "normal" | "full" } : {}), ...offload });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return postgresFromUrl(url, options);
  throw new StoreUrlError(`Unknown store URL '${redact(url)}'. Use sqlite:<path> (default ${DEFAULT_STORE_URL}), memory:, or postgres://user@host/db.`);
}

/**
 * `postgres://user@host/db?schema=perdure&pool=10`: `schema`, `pool` and `offloadBytes` are
 * Perdure's (the schema holding its tables, the connections per host, the size from which payloads
 * are stored apart); every other parameter goes to the driver.
 */
function postgresFromUrl(url: string, options: StoreUrlOptions): StorageProvider {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreUrlError(`Store URL '${redact(url)}' is not a valid URL. Use postgres://user[:password]@host[:port]/database[?schema=perdure].`);
  }
  if (parsed.pathname.length <= 1) throw new StoreUrlError(`Store URL '${redact(url)}' names no database. Use postgres://user@host/database.`);
  const schema = parsed.searchParams.get("schema") ?? undefined;
  const poolText = parsed.searchParams.get("pool") ?? undefined;
  const offloadBytes = offloadBytesOf(parsed.searchParams, url);
  parsed.searchParams.delete("schema");
  parsed.searchParams.delete("pool");
  parsed.searchParams.delete("offloadBytes");
  let poolSize: number | undefined;
  if (poolText !== undefined) {
    poolSize = Number(poolText);
    if (!/^\d+$/.test(poolText) || poolSize < 1 || poolSize > 1000) throw new StoreUrlError(`Invalid pool=${poolText} in '${redact(url)}': use a number of connections from 1 to 1000.`);
  }
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new StoreUrlError(`Invalid schema=${schema} in '${redact(url)}': use letters, digits and underscores (at most 63, not starting with a digit).`);
  }
  return new PostgresProvider({
    connectionString: parsed.toString(),
    ...(schema !== undefined ? { schema } : {}),
    ...(poolSize !== undefined ? { poolSize } : {}),
    ...(offloadBytes !== undefined ? { offloadBytes } : {}),
    ...(options.warn ? { warn: options.warn } : {}),
  });
}

/** A store URL as it may be printed: without its password. */
export function redactStore(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

const redact = redactStore;
