import { performance } from "node:perf_hooks";
import pg from "pg";
import { createApp, createHost } from "./src/index.js";
import { PostgresProvider } from "./src/providers/postgres/postgres-provider.js";
const schema = "lat_" + process.pid;
const provider = new PostgresProvider({ connectionString: "postgres://postgres@127.0.0.1:5432/test", schema, poolSize: 1 });
const times = new Map<string, number[]>();
const origQuery = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: any, ...args: any[]) {
  const cfg = args[0];
  const name = typeof cfg === "string" ? cfg.slice(0, 30).replace(/\s+/g, " ") : (cfg.name ?? cfg.text?.slice(0, 30).replace(/\s+/g, " "));
  const s = performance.now();
  const r = origQuery.apply(this, args as any);
  if (r && typeof r.then === "function") return r.then((v: any) => { const a = times.get(name) ?? []; a.push(performance.now() - s); times.set(name, a); return v; });
  return r;
};
const app = createApp();
app.activity("d", { handler: (i: number) => i * 2 });
app.orchestration("o", function* (ctx) { return yield ctx.df.callActivity("d", ctx.df.getInput<number>()); });
const host = createHost({ store: provider, port: false, app, logger: { info() {}, warn: console.warn, error: console.error } });
await host.start();
const N = 200;
const t = performance.now();
for (let i = 0; i < N; i++) {
  await host.client.startNew("o", { instanceId: "x" + i, input: i });
  await host.client.waitForCompletion("x" + i);
}
console.log(`per run ${((performance.now() - t) / N).toFixed(2)} ms`);
for (const [k, v] of times) { v.sort((a, b) => a - b); console.log(k.padEnd(32), "n", String(v.length).padStart(5), "p50", v[Math.floor(v.length / 2)]!.toFixed(3)); }
await host.stop();
const c = new pg.Client("postgres://postgres@127.0.0.1:5432/test"); await c.connect(); await c.query(`drop schema ${schema} cascade`); await c.end();
