/**
 * Three `perdure start` processes on one PostgreSQL database share 200 sequences of 6 activities,
 * a fan-out of 1,000 activities and 2,000 signals to one entity from 10 senders. One host is
 * SIGKILLed mid-run: everything still completes with the right outputs, each activity result is
 * recorded exactly once in each history, the entity's count is exact, and every host did work.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { withPostgres } from "../helpers/pg.js";
import { assertRecordedOnce, executionsPerRun, fleet, ownDatabase, startSequencesAndFanOut, until } from "./fleet.js";
import { COUNTER_ID, SENDER, sequenceOutput, SEQUENCE_STEPS } from "./fixtures/fleet-functions.js";

const SEQUENCES = 200;
const FAN_OUT_SIZE = 1_000;
const SENDERS = 10;
const SIGNALS_PER_SENDER = 200;

await withPostgres("fleet: SIGKILL one of three hosts", () => {
  it("3 hosts, one SIGKILLed mid-run: everything completes, results recorded once, the entity exact, the work spread", { timeout: 240_000 }, async (t) => {
    const db = await ownDatabase(t);
    const f = await fleet(t, db);
    const [a, b, c] = await Promise.all([f.start("A"), f.start("B"), f.start("C")]);

    const ids = await startSequencesAndFanOut(f, SEQUENCES, { n: FAN_OUT_SIZE, ms: 5 });
    for (let i = 0; i < SENDERS; i++) {
      ids.push(`sender-${i}`);
      await f.client.client.startNew(SENDER, { instanceId: `sender-${i}`, input: SIGNALS_PER_SENDER });
    }

    const total = SEQUENCES * SEQUENCE_STEPS + FAN_OUT_SIZE;
    // B must have started work before it dies, or the kill proves nothing: a host that is slow to
    // start can find A and C already a third of the way through.
    await until("a third of the activities to have run, some on B", 60_000, [a, b, c], async () => {
      const effects = f.effects();
      return effects.filter((e) => e.phase === "end").length >= total / 3 && (executionsPerRun(effects).get("B") ?? 0) > 0;
    });
    b.signal("SIGKILL");
    await b.exited;
    const killedAfter = f.effects().filter((e) => e.phase === "end").length;

    await until("every instance to complete", 180_000, [a, c], async () => {
      const done = await f.provider.queryInstances({ kind: "orchestration", runtimeStatus: ["Completed"], pageSize: 1000 });
      return done.instances.length === ids.length;
    });

    for (let i = 0; i < SEQUENCES; i++) {
      const s = await f.client.client.getStatus(`seq-${i}`);
      assert.deepEqual(s.output, sequenceOutput(`s${i}`), `seq-${i} output`);
    }
    assert.deepEqual((await f.client.client.getStatus("fan-out")).output, { count: FAN_OUT_SIZE, sum: FAN_OUT_SIZE * (FAN_OUT_SIZE - 1) });
    for (let i = 0; i < SENDERS; i++) assert.equal((await f.client.client.getStatus(`sender-${i}`)).output, SIGNALS_PER_SENDER);
    // Signals to the entity are processed after their senders finish: wait for the count to settle.
    const state = await until("the entity to have counted every signal", 60_000, [a, c], async () => {
      const r = await f.client.client.readEntityState<number>(COUNTER_ID);
      return r.entityExists && r.entityState === SENDERS * SIGNALS_PER_SENDER ? r.entityState : undefined;
    });
    assert.equal(state, SENDERS * SIGNALS_PER_SENDER);

    for (const id of ids) assertRecordedOnce(id, await f.provider.getHistory(id));
    await assertAllReplayCleanly(f.provider, f.client.app.registry);

    const per = executionsPerRun(f.effects());
    t.diagnostic(`activity executions per host: ${JSON.stringify(Object.fromEntries(per))}; B killed after ${killedAfter} of ${total} activities had ended`);
    for (const h of [a, c]) assert.ok((per.get(h.spec.run) ?? 0) > 0, `live host ${h.spec.run} ran activities`);
    // No false take-overs under this load: a live host never lost a lease to another host.
    for (const h of [a, c]) {
      const lost = `${h.stdout}\n${h.stderr}`.split("\n").filter((l) => / not (committed|recorded): /.test(l));
      assert.deepEqual(lost, [], `live host ${h.spec.run} lost leases while it was alive`);
    }
    assert.ok((per.get("B") ?? 0) > 0, "the killed host ran activities before it died");
  });
});
