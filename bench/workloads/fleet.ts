/**
 * fleet: hello5 (1,000 orchestrations of 5 sequential activities) on one PostgreSQL database, run
 * by 1, 2 and 3 `perdure start --workers-only` processes. The bench process only starts the
 * instances and reads the database. On one 2-core machine the hosts share the CPU with the
 * database: this shows that adding hosts costs nothing and loses nothing, not linear scaling.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createApp, createHost } from "../../src/index.js";
import { BenchTimeoutError, check, type Measurement, POSTGRES_URL, QuietLogger, scaled, SkipError, type Workload } from "../harness.js";
import { CITIES, registerHello5 } from "./hello5.js";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const HOST_COUNTS = [1, 2, 3];

function startHostProcess(store: string): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, [join(ROOT, "bin", "perdure.js"), "start", join(ROOT, "bench", "fleet-app.ts"), "--store", store, "--workers-only"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1" },
  });
  let out = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("Perdure host ")) resolve();
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("exit", (code) => reject(new Error(`a host process exited (${code}) before it ran:\n${out}`)));
  });
  return { child, ready, output: () => out };
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          try {
            process.kill(-c.pid!, "SIGTERM");
          } catch {
            resolve();
          }
          setTimeout(() => {
            try {
              process.kill(-c.pid!, "SIGKILL");
            } catch {
              // gone
            }
          }, 15_000).unref();
        }),
    ),
  );
}

/** One round: `hosts` processes, `n` orchestrations; seconds from the first start to the last completion. */
async function round(server: string, hosts: number, n: number, timeoutMs: number): Promise<number> {
  const schema = `bench_fleet_${process.pid}_${randomBytes(3).toString("hex")}`;
  const url = new URL(server);
  url.searchParams.set("schema", schema);
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const app = createApp();
  registerHello5(app);
  // The bench process is a client only: it migrates the schema, starts the instances and watches.
  const client = createHost({ store: url.toString(), app, port: false, workers: false, logger: new QuietLogger() });
  const children: ReturnType<typeof startHostProcess>[] = [];
  try {
    await client.start();
    for (let i = 0; i < hosts; i++) children.push(startHostProcess(url.toString()));
    await Promise.all(children.map((c) => c.ready));
    const startedAt = Date.now();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => client.client.startNew("bench_hello5", { instanceId: `f-${i}`, input: `o${i}` })));
    const deadline = t0 + timeoutMs;
    for (;;) {
      const r = await admin.query<{ n: string; last: string | null }>(`SELECT count(*) AS n, max(last_updated_at) AS last FROM "${schema}".instances WHERE runtime_status = 'Completed'`);
      if (Number(r.rows[0]!.n) >= n) {
        const seconds = (Number(r.rows[0]!.last) - startedAt) / 1000;
        const wrong = await admin.query(`SELECT instance_id, output FROM "${schema}".instances WHERE output::jsonb IS DISTINCT FROM jsonb_build_array(${CITIES.map((c) => `'o' || substr(instance_id, 3) || ':${c}'`).join(", ")}) LIMIT 1`);
        check(wrong.rows.length === 0, () => `fleet: instance with an unexpected output: ${JSON.stringify(wrong.rows[0])}`);
        return seconds;
      }
      if (performance.now() > deadline) throw new BenchTimeoutError(`fleet with ${hosts} hosts: ${r.rows[0]!.n} of ${n} completed within ${timeoutMs} ms.\n${children.map((c) => c.output()).join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await stop(children.map((c) => c.child));
    await client.stop().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

export const fleet: Workload = {
  name: "fleet",
  summary: "hello5 run by 1, 2 and 3 `perdure start --workers-only` processes on one PostgreSQL database (PostgreSQL only)",
  async run({ store, scale, timeoutMs }) {
    if (!store.postgres) throw new SkipError("the fleet runs on PostgreSQL only");
    const n = scaled(1000, scale);
    const measurements: Measurement[] = [];
    const params: Record<string, number> = { orchestrations: n };
    for (const hosts of HOST_COUNTS) {
      const seconds = await round(POSTGRES_URL, hosts, n, timeoutMs);
      measurements.push({ metric: `${hosts} host${hosts > 1 ? "s" : ""} orch/s`, value: n / seconds, unit: "orch/s", better: "higher" });
      params[`seconds${hosts}`] = Math.round(seconds * 1000) / 1000;
    }
    return { measurements, params };
  },
};
