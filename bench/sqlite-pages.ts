/**
 * `node --import tsx bench/sqlite-pages.ts [workload] [scale]`: the pages each kind of SQLite write
 * transaction adds to the WAL, by b-tree. Runs the workload (default latency, scale 0.1) in this
 * process on a fresh SQLite file after two warm-up passes; after every COMMIT reads the frames it
 * appended to the -wal file and names the table or index of each page (SQLite's dbstat table).
 * Transactions are grouped by the statements they ran, most frequent first. Every page a commit
 * writes costs time (a WAL frame each), so this is where a commit's cost comes from.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { runOne } from "./run-one.js";

const workload = process.argv[2] ?? "latency";
const scale = Number(process.argv[3] ?? 0.1);
if (!(scale > 0)) {
  console.error(`usage: node --import tsx bench/sqlite-pages.ts [workload] [scale > 0], got '${process.argv[3]}'`);
  process.exit(2);
}
const spec = { workload, store: "sqlite" as const, scale, timeoutMs: 120_000 };
for (let i = 0; i < 2; i++) {
  const o = await runOne(spec);
  if (o.kind !== "ok") throw new Error(`warm-up pass ${i + 1}: ${o.kind === "error" ? o.message : o.reason}`);
}

// better-sqlite3's Statement class is shared by every database: wrapping its prototype sees them all.
const probe = new Database(":memory:");
type Method = (...args: unknown[]) => unknown;
type Stmt = { source: string; database: { name: string } };
const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<string, Method>;
probe.close();
const FRAME_HEADER = 24;
const groups = new Map<string, { count: number; pages: Map<string, number> }>();
const readers = new Map<string, Database.Database>();
let writes: string[] = [];

/** The b-tree of each page in the frames appended to `file`'s WAL between byte `from` and `to`. */
function framePages(file: string, from: number, to: number): string[] {
  let reader = readers.get(file);
  if (!reader) readers.set(file, (reader = new Database(file, { readonly: true })));
  const pageSize = reader.pragma("page_size", { simple: true }) as number;
  const owner = reader.prepare<[number], { name: string }>("SELECT name FROM dbstat WHERE pageno = ?");
  const fd = openSync(`${file}-wal`, "r");
  const header = Buffer.alloc(4);
  const names: string[] = [];
  try {
    for (let at = from; at + FRAME_HEADER <= to; at += FRAME_HEADER + pageSize) {
      readSync(fd, header, 0, 4, at);
      const page = header.readUInt32BE(0);
      // Page 1 holds the database header (its size changes as the file grows); a freed page has no b-tree.
      names.push(owner.get(page)?.name ?? (page === 1 ? "header (page 1)" : "free list"));
    }
  } finally {
    closeSync(fd);
  }
  return names;
}

const walSize = (file: string): number => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

for (const method of ["run", "get", "all"]) {
  const original = proto[method]!;
  proto[method] = function (this: Stmt, ...args: unknown[]): unknown {
    const sql = this.source.replace(/\s+/g, " ").trim();
    if (sql.startsWith("BEGIN")) writes = [];
    const file = this.database.name;
    const commit = sql === "COMMIT" && file !== ":memory:";
    const before = commit ? walSize(file) : 0;
    const result = original.apply(this, args);
    if (commit) {
      const key = writes.join("\n    ");
      const g = groups.get(key) ?? { count: 0, pages: new Map<string, number>() };
      g.count++;
      for (const name of framePages(file, before, walSize(file))) g.pages.set(name, (g.pages.get(name) ?? 0) + 1);
      groups.set(key, g);
    } else if (!/^(BEGIN|SELECT|SAVEPOINT|RELEASE|PRAGMA)/.test(sql)) writes.push(sql.slice(0, 100));
    return result;
  };
}

const outcome = await runOne(spec);
if (outcome.kind !== "ok") throw new Error(outcome.kind === "error" ? outcome.message : outcome.reason);
console.log(`${workload} on SQLite (scale ${scale}), after 2 warm-up passes: WAL pages per write transaction\n`);
for (const [statements, g] of [...groups].sort((a, b) => b[1].count - a[1].count).slice(0, 8)) {
  const total = [...g.pages.values()].reduce((n, c) => n + c, 0) / g.count;
  const pages = [...g.pages].sort((a, b) => b[1] - a[1]).map(([name, c]) => `${name} ${(c / g.count).toFixed(2)}`);
  console.log(`${g.count} transactions, ${total.toFixed(1)} pages each: ${pages.join(", ")}\n    ${statements}\n`);
}
process.exit(0);
