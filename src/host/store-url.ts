import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DurableError } from "../core/errors.js";
import { MemoryProvider } from "../providers/memory/memory-provider.js";
import type { StorageProvider } from "../providers/provider.js";
import { SqliteProvider } from "../providers/sqlite/sqlite-provider.js";

export const DEFAULT_STORE_URL = "sqlite:.perdure/perdure.db";

export class StoreUrlError extends DurableError {
  constructor(message: string) {
    super("INVALID_STORE_URL", message);
  }
}

/** `memory:`, `sqlite:<path>` (or `sqlite::memory:`), `postgres://…`. */
export function providerFromUrl(url: string, cwd = process.cwd()): StorageProvider {
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
    if (path === ":memory:") return new SqliteProvider({ filename: ":memory:" });
    const file = resolve(cwd, path);
    mkdirSync(dirname(file), { recursive: true });
    return new SqliteProvider(synchronous ? { filename: file, synchronous: synchronous.toLowerCase() as "normal" | "full" } : { filename: file });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    throw new StoreUrlError(`The PostgreSQL store is not available in this version of Perdure yet ('${redact(url)}'). Use sqlite:<path> or memory:.`);
  }
  throw new StoreUrlError(`Unknown store URL '${redact(url)}'. Use sqlite:<path> (default ${DEFAULT_STORE_URL}), memory:, or postgres://user@host/db.`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
