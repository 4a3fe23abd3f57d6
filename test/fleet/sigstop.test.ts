/**
 * A host frozen (SIGSTOP) while it holds instances and activities, past its leases: another host
 * takes them over and finishes them. Thawed (SIGCONT), the stale host's commits are all refused —
 * it says so in its log — and nothing is recorded twice.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { withPostgres } from "../helpers/pg.js";
import { assertRecordedOnce, fleet, ownDatabase, sleep, until } from "./fleet.js";
import { SLOW } from "./fixtures/fleet-functions.js";

const INSTANCES = 6;
const SLEEP_MS = 1_500;
const SPIN_MS = 500;
const LEASE = ["--lease-ms", "1000", "--lease-renew-ms", "300"];

await withPostgres("fleet: SIGSTOP past the lease", () => {
  it("a frozen host loses its leases to another; thawed, every commit it tries is refused and nothing is recorded twice", { timeout: 180_000 }, async (t) => {
    const db = await ownDatabase(t);
    const f = await fleet(t, db);
    // A alone first, so it holds the work when it is frozen.
    const a = await f.start("A", { flags: LEASE });
    const ids = Array.from({ length: INSTANCES }, (_, i) => `slow-${i}`);
    await Promise.all(ids.map((id) => f.client.client.startNew(SLOW, { instanceId: id, input: { sleepMs: SLEEP_MS, spinMs: SPIN_MS } })));
    // Frozen in the middle of a CPU-bound step (holding instance leases) with activities running.
    await until("host A to be inside a long step", 60_000, [a], async () => f.effects().some((e) => e.run === "A" && e.phase === "spin"));
    const b = await f.start("B", { flags: LEASE });
    a.signal("SIGSTOP");
    const frozenAt = Date.now();

    await until("host B to finish every instance", 120_000, [b], async () => {
      const done = await f.provider.queryInstances({ runtimeStatus: ["Completed"], pageSize: 100 });
      return done.instances.length === INSTANCES;
    });
    const tookOverMs = Date.now() - frozenAt;
    const historiesBefore = await Promise.all(ids.map((id) => f.provider.getHistory(id)));
    a.signal("SIGCONT");
    // Thawed, A goes on with the results it held (one per instance): each commit is refused.
    const refusals = (): number => (a.stderr.match(/not committed: The lease on|not recorded: The lease on/g) ?? []).length;
    await until("the thawed host to report its refused commits", 60_000, [a, b], async () => refusals() >= INSTANCES);
    await sleep(1_000);
    assert.ok(a.alive, `host A survives losing its leases\n${a.describe()}`);
    t.diagnostic(`B finished everything ${tookOverMs} ms after A froze; thawed, A had ${refusals()} commits refused`);
    assert.deepEqual(await Promise.all(ids.map((id) => f.provider.getHistory(id))), historiesBefore, "nothing the stale host did was recorded");

    for (const id of ids) {
      const history = await f.provider.getHistory(id);
      assertRecordedOnce(id, history);
      assert.equal((await f.client.client.getStatus(id)).output, 2 * SLEEP_MS, `${id} output`);
    }
    await assertAllReplayCleanly(f.provider, f.client.app.registry);
    // Nothing the stale host did after thawing changed an instance: still one completion each.
    const after = await f.provider.queryInstances({ runtimeStatus: ["Completed"], pageSize: 100 });
    assert.equal(after.instances.length, INSTANCES);
  });
});
