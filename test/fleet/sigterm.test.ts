/**
 * SIGTERM during a fan-out: the host stops taking work, lets what runs finish within its grace
 * period, hands back the rest (also an activity that holds a timer open and would keep the process
 * alive for ever) and exits within the grace period. Another host finishes the fan-out at once —
 * not after the stopped host's 30 s leases expire — and no activity runs on two hosts at once.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { withPostgres } from "../helpers/pg.js";
import { fleet, ownDatabase, until } from "./fleet.js";
import { FAN_OUT, FAN_OUT_ITEM } from "./fixtures/fleet-functions.js";

const ITEMS = 60;
const HOLD_FROM = 50;
const GRACE_MS = 3_000;
const LEASE_MS = 30_000;

await withPostgres("fleet: SIGTERM drains", () => {
  it("a host stopped mid-fan-out exits within its grace period and another finishes the work at once, never running an activity twice at the same time", { timeout: 180_000 }, async (t) => {
    const db = await ownDatabase(t);
    const f = await fleet(t, db);
    const a = await f.start("A", {
      flags: ["--lease-ms", String(LEASE_MS), "--drain-timeout-ms", String(GRACE_MS), "--max-concurrent-activities", "20"],
      env: { PERDURE_FLEET_HOLD_FROM: String(HOLD_FROM) },
    });
    await f.client.client.startNew(FAN_OUT, { instanceId: "fan", input: { n: ITEMS, ms: 400 } });
    await until("host A to be running held activities", 60_000, [a], async () => f.effects().some((e) => e.run === "A" && e.phase === "begin" && Number(e.key) >= HOLD_FROM));
    const b = await f.start("B");

    const termAt = Date.now();
    a.signal("SIGTERM");
    const exit = await a.exited;
    const exitMs = exit.at - termAt;
    assert.equal(exit.code, 0, `host A exits cleanly\n${a.describe()}`);
    assert.ok(exitMs < GRACE_MS + 1_500, `host A exited ${exitMs} ms after SIGTERM, within its grace period of ${GRACE_MS} ms\n${a.describe()}`);

    await until("host B to finish the fan-out", 60_000, [b], async () => (await f.client.client.getStatus("fan")).runtimeStatus === "Completed");
    const doneMs = Date.now() - exit.at;
    assert.deepEqual((await f.client.client.getStatus("fan")).output, { count: ITEMS, sum: ITEMS * (ITEMS - 1) });
    assert.ok(doneMs < LEASE_MS / 2, `host B finished ${doneMs} ms after A exited: it did not wait for A's ${LEASE_MS} ms leases`);

    // No item ran on two hosts at once: A's runs end when they end, or when A exited.
    const effects = f.effects().filter((e) => e.fn === FAN_OUT_ITEM);
    const runs = new Map<string, { run: string; from: number; to: number }[]>();
    for (const e of effects.filter((x) => x.phase === "begin")) {
      const end = effects.find((x) => x.phase === "end" && x.key === e.key && x.run === e.run && x.attempt === e.attempt);
      const list = runs.get(e.key) ?? [];
      list.push({ run: e.run, from: e.at, to: end?.at ?? (e.run === "A" ? exit.at : Infinity) });
      runs.set(e.key, list);
    }
    const released = [...runs.values()].filter((list) => list.some((r) => r.run === "A" && r.to === exit.at)).length;
    for (const [key, list] of runs) {
      for (const x of list) for (const y of list) if (x !== y && x.run !== y.run) assert.ok(x.to <= y.from || y.to <= x.from, `item ${key} ran on ${x.run} and ${y.run} at once: ${JSON.stringify(list)}`);
    }
    t.diagnostic(`A exited ${exitMs} ms after SIGTERM (grace ${GRACE_MS} ms), handing back ${released} running activities; B finished the fan-out ${doneMs} ms later`);
    assert.ok(released > 0, "A handed back the activities it still had running");
  });
});
