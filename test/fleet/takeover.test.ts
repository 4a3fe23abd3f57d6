/**
 * How long a crash costs: a host is SIGKILLed while it runs activities, with the default lease and
 * renewal; the test measures the time until another host starts them again, and states it. (The
 * lease is the bound; the figure goes in docs/scale-out.md. Timing targets live in bench/, so the
 * only bound asserted here is a loose one: take-over must come from lease expiry, not from a
 * half-minute wait.)
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { withPostgres } from "../helpers/pg.js";
import { fleet, ownDatabase, until } from "./fleet.js";
import { HOLD } from "./fixtures/fleet-functions.js";

await withPostgres("fleet: SIGKILL take-over time", () => {
  it("work held by a SIGKILLed host is taken over within the default lease", { timeout: 180_000 }, async (t) => {
    const db = await ownDatabase(t);
    const f = await fleet(t, db);
    const a = await f.start("A");
    const ids = Array.from({ length: 5 }, (_, i) => `held-${i}`);
    // Each activity runs far longer than the take-over can take: only a re-run on B finishes it.
    await Promise.all(ids.map((id) => f.client.client.startNew(HOLD, { instanceId: id, input: 20_000 })));
    await until("host A to run every activity", 60_000, [a], async () => f.effects().filter((e) => e.run === "A" && e.phase === "begin").length >= ids.length);
    const b = await f.start("B");
    const killedAt = Date.now();
    a.signal("SIGKILL");
    await a.exited;
    const restarted = await until("host B to start the activities again", 60_000, [b], async () => {
      const begun = f.effects().filter((e) => e.run === "B" && e.phase === "begin");
      return begun.length >= ids.length ? begun : undefined;
    });
    const first = Math.min(...restarted.map((e) => e.at)) - killedAt;
    const last = Math.max(...restarted.map((e) => e.at)) - killedAt;
    t.diagnostic(`take-over after SIGKILL with the default lease (5 s, renewed every 1 s): first activity restarted after ${first} ms, all ${ids.length} after ${last} ms`);
    assert.ok(last < 15_000, `take-over took ${last} ms: it should come from the 5 s lease expiring`);
  });
});
