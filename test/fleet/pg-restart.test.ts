/**
 * PostgreSQL restarted under a running fleet (a private cluster of the test's own, on its own port,
 * so the shared server is untouched): the hosts neither exit nor spin while the server is down,
 * reconnect by themselves once it is back, and everything completes, each result recorded once.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { PrivateCluster, privateClusterProblem } from "../helpers/pg-cluster.js";
import { withPostgres } from "../helpers/pg.js";
import { assertRecordedOnce, fleet, ownDatabase, sleep, startSequencesAndFanOut, until } from "./fleet.js";
import { sequenceOutput, SEQUENCE_STEPS } from "./fixtures/fleet-functions.js";

const SEQUENCES = 100;
const FAN_OUT_SIZE = 300;
const DOWN_MS = 4_000;

await withPostgres("fleet: PostgreSQL restarted", () => {
  it("hosts ride out a restart of the server: no exit, no spinning while it is down, everything completes", { timeout: 240_000 }, async (t) => {
    const problem = privateClusterProblem();
    if (problem) {
      if (process.env.CI === "true") throw new Error(`cannot run a private PostgreSQL cluster here: ${problem}`);
      t.skip(`cannot run a private PostgreSQL cluster here: ${problem}`);
      return;
    }
    const cluster = await PrivateCluster.create();
    t.after(() => cluster.destroy());
    const db = await ownDatabase(t, cluster.url);
    const f = await fleet(t, db);
    const [a, b] = await Promise.all([f.start("A"), f.start("B")]);
    const ids = await startSequencesAndFanOut(f, SEQUENCES, { n: FAN_OUT_SIZE, ms: 20 });
    const total = SEQUENCES * SEQUENCE_STEPS + FAN_OUT_SIZE;
    await until("a third of the activities to have run", 60_000, [a, b], async () => f.effects().filter((e) => e.phase === "end").length >= total / 3);

    cluster.stop("fast");
    const cpuBefore = [a.cpuMs(), b.cpuMs()];
    const downAt = Date.now();
    await sleep(DOWN_MS);
    const down = Date.now() - downAt;
    const cpuShare = [a.cpuMs() - cpuBefore[0]!, b.cpuMs() - cpuBefore[1]!].map((ms) => ms / down);
    assert.ok(a.alive && b.alive, `the hosts keep running while the server is down\n${a.describe()}\n${b.describe()}`);
    cluster.start();

    await until("every instance to complete", 180_000, [a, b], async () => {
      try {
        return (await f.provider.queryInstances({ runtimeStatus: ["Completed"], pageSize: 1000 })).instances.length === ids.length;
      } catch {
        return false; // the test's own client reconnects too
      }
    });
    for (let i = 0; i < SEQUENCES; i++) assert.deepEqual((await f.client.client.getStatus(`seq-${i}`)).output, sequenceOutput(`s${i}`));
    assert.deepEqual((await f.client.client.getStatus("fan-out")).output, { count: FAN_OUT_SIZE, sum: FAN_OUT_SIZE * (FAN_OUT_SIZE - 1) });
    for (const id of ids) assertRecordedOnce(id, await f.provider.getHistory(id));
    await assertAllReplayCleanly(f.provider, f.client.app.registry);

    t.diagnostic(`server down for ${down} ms; host CPU while it was down: ${cpuShare.map((c) => `${(c * 100).toFixed(1)}%`).join(", ")} of a core`);
    for (const [i, share] of cpuShare.entries()) assert.ok(share < 0.5, `host ${"AB"[i]} used ${(share * 100).toFixed(0)}% of a core while the server was down: it must back off, not spin`);
  });
});
