/**
 * A store that cannot be written: GET /healthz answers 503 with the reason, starts get 503 with
 * STORE_UNAVAILABLE (not a generic 500), nothing that was acknowledged is lost, and all is back to
 * 200 by itself once the store recovers. SQLite on a tmpfs that fills up; PostgreSQL stopped (a
 * private cluster, never the shared server).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it, type TestContext } from "node:test";
import { PrivateCluster, privateClusterProblem } from "../helpers/pg-cluster.js";
import { withPostgres } from "../helpers/pg.js";
import { fleet, FleetHost, ownDatabase, until } from "./fleet.js";
import { SEQUENCE, sequenceOutput } from "./fixtures/fleet-functions.js";

const START = "/runtime/webhooks/durabletask/orchestrators";

interface Health {
  status: string;
  reason?: string;
}

async function health(h: FleetHost): Promise<{ code: number; body: Health }> {
  const r = await fetch(`${h.url!}/healthz`);
  return { code: r.status, body: (await r.json()) as Health };
}

/** Starts a sequence over HTTP: the status and the error code (if any). */
async function start(h: FleetHost, id: string): Promise<{ code: number; error?: string; retryAfter: string | null }> {
  const r = await fetch(`${h.url!}${START}/${SEQUENCE}/${id}`, { method: "POST", body: JSON.stringify(id), headers: { "content-type": "application/json" } });
  const body = (await r.json().catch(() => ({}))) as { error?: { code?: string } };
  return { code: r.status, retryAfter: r.headers.get("retry-after"), ...(body.error?.code ? { error: body.error.code } : {}) };
}

function needs(t: TestContext, problem: string | undefined): boolean {
  if (!problem) return true;
  if (process.env.CI === "true") throw new Error(problem);
  t.skip(problem);
  return false;
}

it("SQLite on a full disk: /healthz 503 with the reason, starts 503, nothing acknowledged lost, back to 200 once there is room", { timeout: 180_000 }, async (t) => {
  const mount = mkdtempSync(join(tmpdir(), "perdure-full-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mount], { encoding: "utf8" });
  if (!needs(t, mounted.status === 0 ? undefined : `cannot mount a tmpfs to fill up (needs root): ${mounted.stderr.trim()}`)) return;
  t.after(() => {
    spawnSync("umount", ["-l", mount]);
    rmSync(mount, { recursive: true, force: true });
  });
  const effectsFile = join(mkdtempSync(join(tmpdir(), "perdure-full-effects-")), "effects.jsonl");
  const host = new FleetHost({ run: "A", store: `sqlite:${join(mount, "perdure.db")}`, effectsFile });
  t.after(async () => {
    host.signal("SIGKILL");
    await host.exited;
  });
  await host.ready();
  assert.equal((await health(host)).code, 200);

  const acknowledged: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await start(host, `before-${i}`);
    assert.equal(r.code, 202);
    acknowledged.push(`before-${i}`);
  }
  // Fill the disk to the last byte.
  const filler = join(mount, "filler");
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
  }
  try {
    for (;;) writeSync(fd, chunk, 0, 4096);
  } catch {
    // full
  } finally {
    closeSync(fd);
  }
  // Writes go on until SQLite needs a page it cannot get; then they are refused, not half-done.
  let refused: Awaited<ReturnType<typeof start>> | undefined;
  for (let i = 0; i < 2_000 && !refused; i++) {
    const r = await start(host, `during-${i}`);
    if (r.code === 202) acknowledged.push(`during-${i}`);
    else refused = r;
  }
  assert.ok(refused, "a start was refused once the disk was full");
  assert.equal(refused.code, 503, `a start on a full disk gets 503: ${JSON.stringify(refused)}`);
  assert.equal(refused.error, "STORE_UNAVAILABLE");
  assert.ok(refused.retryAfter, "with Retry-After");
  const down = await until("/healthz to say the store cannot be written", 30_000, [host], async () => {
    const h = await health(host);
    return h.code === 503 ? h.body : undefined;
  });
  assert.equal(down.status, "unavailable");
  assert.match(down.reason ?? "", /disk is full/, `the reason: ${JSON.stringify(down)}`);

  rmSync(filler);
  await until("/healthz to be 200 again", 30_000, [host], async () => (await health(host)).code === 200);
  assert.equal((await start(host, "after")).code, 202);
  acknowledged.push("after");
  await until("every acknowledged start to complete", 120_000, [host], async () => {
    for (const id of acknowledged) {
      const r = await fetch(`${host.url!}/runtime/webhooks/durabletask/instances/${id}`);
      if (r.status !== 200 || ((await r.json()) as { runtimeStatus: string }).runtimeStatus !== "Completed") return false;
    }
    return true;
  });
  for (const id of acknowledged) {
    const s = (await (await fetch(`${host.url!}/runtime/webhooks/durabletask/instances/${id}`)).json()) as { output: unknown };
    assert.deepEqual(s.output, sequenceOutput(id), `${id} completed with its output`);
  }
  t.diagnostic(`${acknowledged.length} starts acknowledged (${acknowledged.length - 21} after the disk filled up) and completed; the first refused start got ${refused.code} ${refused.error}`);
});

await withPostgres("unwritable PostgreSQL", () => {
  it("PostgreSQL stopped: /healthz 503 with the reason, starts 503, nothing acknowledged lost, back to 200 once it is up", { timeout: 180_000 }, async (t) => {
    if (!needs(t, privateClusterProblem())) return;
    const cluster = await PrivateCluster.create();
    t.after(() => cluster.destroy());
    const db = await ownDatabase(t, cluster.url);
    const f = await fleet(t, db);
    const host = await f.start("A");
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) {
      assert.equal((await start(host, `before-${i}`)).code, 202);
      acknowledged.push(`before-${i}`);
    }
    cluster.stop("fast");
    const down = await until("/healthz to say the store cannot be written", 30_000, [host], async () => {
      const h = await health(host);
      return h.code === 503 ? h.body : undefined;
    });
    assert.equal(down.status, "unavailable");
    assert.match(down.reason ?? "", /PostgreSQL server cannot be reached|ECONNREFUSED|connect/i, JSON.stringify(down));
    const refused = await start(host, "during");
    assert.equal(refused.code, 503, JSON.stringify(refused));
    assert.equal(refused.error, "STORE_UNAVAILABLE");

    cluster.start();
    await until("/healthz to be 200 again", 60_000, [host], async () => (await health(host)).code === 200);
    assert.equal((await start(host, "after")).code, 202);
    acknowledged.push("after");
    await until("every acknowledged start to complete", 120_000, [host], async () => {
      try {
        return (await f.provider.queryInstances({ runtimeStatus: ["Completed"], pageSize: 100 })).instances.length === acknowledged.length;
      } catch {
        return false;
      }
    });
    for (const id of acknowledged) assert.deepEqual((await f.client.client.getStatus(id)).output, sequenceOutput(id));
    assert.equal((await f.client.client.getStatus("during").catch((err: { code?: string }) => err.code)), "INSTANCE_NOT_FOUND", "the refused start left nothing behind");
  });
});
