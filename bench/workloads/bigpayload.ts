/**
 * bigpayload: 1,000 orchestrations started at once, each passing a 1 MB JSON document through 3
 * sequential activities (each returns the document with its own name appended) and returning it.
 * Reports seconds from the first start to the last completion, the process's peak RSS, and the
 * store's size on disk (SQLite: the database and its WAL; PostgreSQL: the schema's tables, indexes
 * and TOAST) against the raw bytes of the inputs.
 *
 * The documents are records of words, numbers and dates (compressible as real JSON is), each one
 * different (a seeded generator per instance), so no store can share one between instances.
 */
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { type BenchStore, CallCounter, check, diagnostics, MB, RssSampler, scaled, startHost, type Workload } from "../harness.js";

const STEPS = ["bench_enrich", "bench_validate", "bench_archive"];
const DOCUMENT_BYTES = MB;
const WORDS = ["alpha", "bravo", "delta", "harbour", "invoice", "Lisbon", "Osaka", "pending", "settled", "refund", "courier", "ledger", "north", "south", "ticket", "order"];

interface Row {
  n: number;
  city: string;
  status: string;
  amount: number;
  at: string;
  note: string;
}
interface Document {
  id: number;
  rows: Row[];
  steps: string[];
}

/** A deterministic document of at least `bytes` bytes of JSON for instance `id`. */
export function makeDocument(id: number, bytes = DOCUMENT_BYTES): Document {
  let seed = (id + 1) * 0x9e3779b1;
  const next = (): number => {
    // mulberry32: small, fast, and the same document for the same id on every run.
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const word = (): string => WORDS[Math.floor(next() * WORDS.length)]!;
  const doc: Document = { id, rows: [], steps: [] };
  let size = 40;
  while (size < bytes) {
    const row: Row = {
      n: doc.rows.length,
      city: word(),
      status: word(),
      amount: Math.round(next() * 1_000_000) / 100,
      at: new Date(1_700_000_000_000 + Math.floor(next() * 1e10)).toISOString(),
      note: `${word()} ${word()} ${word()} ${Math.floor(next() * 1e6)}`,
    };
    doc.rows.push(row);
    size += JSON.stringify(row).length + 1;
  }
  return doc;
}

/** Bytes the store takes on disk, or undefined for the memory store. */
async function storeBytes(store: BenchStore): Promise<number | undefined> {
  if (store.sqlite) {
    const size = (f: string): number => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    return size(store.sqlite.file) + size(`${store.sqlite.file}-wal`);
  }
  if (store.postgres) {
    const client = new pg.Client({ connectionString: store.postgres.url });
    await client.connect();
    try {
      const r = await client.query<{ bytes: string }>(
        `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [store.postgres.schema],
      );
      return Number(r.rows[0]?.bytes ?? 0);
    } finally {
      await client.end();
    }
  }
  return undefined;
}

export const bigpayload: Workload = {
  name: "bigpayload",
  summary: "1,000 orchestrations passing a 1 MB document through 3 activities (s, peak RSS, store size / raw bytes)",
  async run({ store, scale, timeoutMs }) {
    const n = scaled(1000, scale);
    const calls = new CallCounter<string>();
    const bench = await startHost(store, (app) => {
      for (const step of STEPS) {
        app.activity(step, {
          handler: (doc: Document) => {
            calls.hit(`${doc.id}:${step}`);
            return { ...doc, steps: [...doc.steps, step] };
          },
        });
      }
      app.orchestration("bench_bigpayload", function* (ctx) {
        let doc = ctx.df.getInput<Document>();
        for (const step of STEPS) doc = (yield ctx.df.callActivity(step, doc)) as Document;
        return doc;
      });
    });
    try {
      const ids = Array.from({ length: n }, (_, i) => `bigpayload-${i}`);
      let rawBytes = 0;
      const rss = new RssSampler(20);
      const start = performance.now();
      // Each document is made just before its start and dropped after it, so the bench itself holds one at a time.
      for (let i = 0; i < n; i++) {
        const doc = makeDocument(i);
        rawBytes += Buffer.byteLength(JSON.stringify(doc));
        await bench.host.client.startNew("bench_bigpayload", { instanceId: ids[i]!, input: doc });
      }
      const started = performance.now();
      await bench.tap.waitForCount(n, timeoutMs).finally(() => rss.stop());
      const { peakBytes, baselineBytes } = rss.stop();
      const seconds = (bench.tap.lastAt() - start) / 1000;
      const onDisk = await storeBytes(store);

      // One instance at a time: each output is a megabyte.
      for (let i = 0; i < n; i++) {
        const s = await bench.host.client.getStatus(ids[i]!, { showInput: false });
        check(s.runtimeStatus === "Completed", () => `bigpayload: '${ids[i]}' is ${s.runtimeStatus}${s.failureDetails ? ` (${s.failureDetails.errorMessage})` : ""}.${bench.logger.summary()}`);
        const want = JSON.stringify({ ...makeDocument(i), steps: STEPS });
        check(JSON.stringify(s.output) === want, () => `bigpayload: '${ids[i]}' returned a different document (${JSON.stringify(s.output).length} characters, expected ${want.length}).`);
      }
      calls.exactlyOnce(
        ids.flatMap((_, i) => STEPS.map((step) => `${i}:${step}`)),
        "bigpayload activities",
      );
      const measurements = [
        { metric: "seconds", value: seconds, unit: "s", better: "lower" as const },
        { metric: "MB/s through activities", value: (rawBytes * STEPS.length) / MB / seconds, unit: "MB/s", better: "higher" as const },
        { metric: "peak RSS", value: peakBytes / MB, unit: "MB", better: "lower" as const },
        { metric: "RSS growth", value: (peakBytes - baselineBytes) / MB, unit: "MB", better: "lower" as const },
      ];
      if (onDisk !== undefined) {
        measurements.push({ metric: "store size", value: onDisk / MB, unit: "MB", better: "lower" });
        measurements.push({ metric: "store / raw bytes", value: onDisk / rawBytes, unit: "x", better: "lower" });
      }
      return {
        measurements,
        params: { orchestrations: n, activitiesPerOrchestration: STEPS.length, documentBytes: Math.round(rawBytes / n), rawMB: Math.round(rawBytes / MB), startAllMs: Math.round(started - start) },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
