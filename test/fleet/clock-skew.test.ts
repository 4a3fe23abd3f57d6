/**
 * A host whose clock runs 10 s ahead (its Date is skewed by a preloaded module) fires durable timers
 * created by a host with a correct clock: none fires early by the database's clock. The skewed host
 * measures its offset against the database (GET /healthz shows it) and corrects its time; the store
 * also never treats a message as due before its own clock says so.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { withPostgres } from "../helpers/pg.js";
import { fleet, ownDatabase, until } from "./fleet.js";
import { TIMER } from "./fixtures/fleet-functions.js";

const SKEW_MS = 10_000;
const TIMERS = 20;

await withPostgres("fleet: a host with a skewed clock", () => {
  it("a host whose clock runs 10 s ahead never fires a timer early", { timeout: 180_000 }, async (t) => {
    const db = await ownDatabase(t);
    const f = await fleet(t, db);
    const a = await f.start("A");
    const ids = Array.from({ length: TIMERS }, (_, i) => `timer-${i}`);
    await Promise.all(ids.map((id, i) => f.client.client.startNew(TIMER, { instanceId: id, input: 3_000 + 100 * i })));
    await until("every timer to be created", 60_000, [a], async () => {
      for (const id of ids) if (!(await f.provider.getHistory(id)).some((e) => e.type === "TimerCreated")) return false;
      return true;
    });
    // Only the skewed host is left to fire them.
    a.signal("SIGTERM");
    await a.exited;
    const b = await f.start("B", { skewMs: SKEW_MS });
    const health = (await (await fetch(`${b.url!}/healthz`)).json()) as { clockOffsetMs?: number };
    assert.ok(health.clockOffsetMs !== undefined && Math.abs(health.clockOffsetMs + SKEW_MS) < 500, `B measured its clock ${SKEW_MS} ms ahead of the database: ${JSON.stringify(health)}`);

    await until("every timer to fire", 60_000, [b], async () => (await f.provider.queryInstances({ runtimeStatus: ["Completed"], pageSize: 100 })).instances.length === TIMERS);
    let earliest = Infinity;
    for (const id of ids) {
      const { fireAt, observed } = (await f.client.client.getStatus(id)).output as { fireAt: number; observed: number };
      earliest = Math.min(earliest, observed - fireAt);
      assert.ok(observed >= fireAt, `${id} fired ${fireAt - observed} ms early by the database's clock`);
    }
    t.diagnostic(`after the timers fired, the earliest activity ran ${earliest} ms after its timer's time (database clock); the skewed host saw its offset as ${health.clockOffsetMs} ms`);
  });
});
