import assert from "node:assert/strict";
import type { TimerOccurrenceRecord } from "../../../src/providers/provider.js";
import { type Define, FAR, LEASE, T0, secondHandle } from "../fixtures.js";

const MINUTE = 60_000;

/**
 * initTimerOccurrence, claimTimerOccurrence and the lease of a claimed run (renew, complete, take
 * over): the record behind "each occurrence of a timer runs once across hosts, and a run interrupted
 * by a host's death runs again once".
 */
export function timerOccurrenceTests(test: Define): void {
  test("init records the baseline once, never moves it, and returns what is stored", async (p) => {
    assert.equal(await p.initTimerOccurrence("nightly", T0, "w1", T0), T0);
    assert.equal(await p.initTimerOccurrence("nightly", T0 + MINUTE, "w2", T0 + MINUTE), T0, "a second init keeps the first baseline");
    assert.equal(await p.initTimerOccurrence("NIGHTLY", T0 - MINUTE, "w3", T0), T0, "names are case-insensitive, and an older baseline moves nothing either");
    assert.equal(await p.initTimerOccurrence("hourly", T0 + 5, "w1", T0), T0 + 5, "timers are independent");
    assert.deepEqual(await p.readTimerOccurrence("Nightly"), { last: T0, done: T0, workerId: "w1", leaseUntil: T0 }, "a baseline is done: there is no run of it to take over");
    assert.equal(await p.readTimerOccurrence("never-seen"), undefined);
    assert.equal(await p.takeOverTimerOccurrence("nightly", T0, "w2", FAR, LEASE), false, "a baseline is never taken over");
  });

  test("claim: the first claim of an occurrence wins; the same one or an older one again is refused, with the winner", async (p) => {
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0, "w1", T0, LEASE), { claimed: true }, "no record yet: claimed, nothing before");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0, "w2", T0 + 1, LEASE), { claimed: false, last: T0 }, "the same occurrence again");
    assert.deepEqual(await p.claimTimerOccurrence("TICK", T0, "w1", T0 + 2, LEASE), { claimed: false, last: T0 }, "case-insensitive; also for the winner itself");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 - MINUTE, "w2", T0 + 3, LEASE), { claimed: false, last: T0 }, "an older occurrence");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + MINUTE, "w2", T0 + MINUTE, LEASE), { claimed: true, last: T0 }, "the next one: claimed, with the one it replaced");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + 3 * MINUTE, "w1", T0 + 3 * MINUTE, LEASE), { claimed: true, last: T0 + MINUTE }, "a later one, skipping some");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + 2 * MINUTE, "w2", T0 + 3 * MINUTE, LEASE), { claimed: false, last: T0 + 3 * MINUTE }, "one before the last claimed");
    assert.equal(await p.initTimerOccurrence("tick", T0, "w3", T0), T0 + 3 * MINUTE, "init reads the last claim");
  });

  test("claims after an init compare with the baseline; timers do not share records", async (p) => {
    assert.equal(await p.initTimerOccurrence("a", T0, "w1", T0), T0);
    assert.deepEqual(await p.claimTimerOccurrence("a", T0, "w1", T0, LEASE), { claimed: false, last: T0 }, "an occurrence at the baseline is before the timer existed");
    assert.deepEqual(await p.claimTimerOccurrence("a", T0 + MINUTE, "w1", T0 + MINUTE, LEASE), { claimed: true, last: T0 });
    assert.deepEqual(await p.claimTimerOccurrence("b", T0 + MINUTE, "w1", T0 + MINUTE, LEASE), { claimed: true }, "another timer, same occurrence");
  });

  test("two handles on one store: each occurrence is claimed by exactly one, when they race for it", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let i = 1; i <= 20; i++) {
      const occurrence = T0 + i * MINUTE;
      const results: { claimed: boolean; last?: number }[] = await Promise.all([p.claimTimerOccurrence("race", occurrence, "p", occurrence, LEASE), q.claimTimerOccurrence("race", occurrence, "q", occurrence, LEASE)]);
      assert.equal(results.filter((r) => r.claimed).length, 1, `occurrence ${i}: exactly one winner (${JSON.stringify(results)})`);
      assert.equal(results.find((r) => !r.claimed)?.last, occurrence, "the loser is told the occurrence was taken");
    }
    const [x, y] = await Promise.all([p.initTimerOccurrence("fresh", T0, "p", T0), q.initTimerOccurrence("fresh", T0 + 1, "q", T0 + 1)]);
    assert.equal(x, y, "two inits racing agree on one baseline");
    assert.equal(await q.initTimerOccurrence("race", 0, "q", T0), T0 + 20 * MINUTE, "each handle sees the other's claims");
  });

  test("claims survive a reopen", async (p, h, t) => {
    if (!h.reopen) {
      t.skip("this store is not persistent");
      return;
    }
    await p.claimTimerOccurrence("kept", T0 + MINUTE, "w1", T0, LEASE);
    const p2 = await h.reopen();
    assert.deepEqual(await p2.claimTimerOccurrence("kept", T0 + MINUTE, "w2", T0, LEASE), { claimed: false, last: T0 + MINUTE });
    assert.equal(await p2.initTimerOccurrence("kept", T0, "w2", T0), T0 + MINUTE);
    assert.deepEqual(await p2.readTimerOccurrence("kept"), { last: T0 + MINUTE, workerId: "w1", leaseUntil: T0 + LEASE }, "the lease too");
  });

  test("a claim is a lease: renewed by its holder while the run goes on, then completed", async (p) => {
    const occurrence = T0 + MINUTE;
    await p.initTimerOccurrence("leased", T0, "w1", T0);
    assert.deepEqual(await p.claimTimerOccurrence("leased", occurrence, "w1", occurrence, LEASE), { claimed: true, last: T0 });
    assert.deepEqual(await p.readTimerOccurrence("leased"), { last: occurrence, done: T0, workerId: "w1", leaseUntil: occurrence + LEASE }, "claimed, not done, leased");
    assert.equal(await p.renewTimerOccurrence("LEASED", occurrence, "w1", occurrence + 1_000, LEASE), true, "the holder renews (case-insensitive)");
    assert.equal((await p.readTimerOccurrence("leased"))?.leaseUntil, occurrence + 1_000 + LEASE);
    assert.equal(await p.renewTimerOccurrence("leased", occurrence, "w2", occurrence + 2_000, LEASE), false, "another worker does not");
    assert.equal(await p.renewTimerOccurrence("leased", occurrence - MINUTE, "w1", occurrence + 2_000, LEASE), false, "nor for another occurrence");
    assert.equal(await p.renewTimerOccurrence("leased", occurrence, "w1", occurrence + 2 * LEASE, LEASE), true, "a lease that expired but was not taken over is renewed");
    assert.equal((await p.readTimerOccurrence("leased"))?.leaseUntil, occurrence + 3 * LEASE);
    await p.completeTimerOccurrence("leased", occurrence, "w1", occurrence + 2 * LEASE);
    assert.deepEqual(await p.readTimerOccurrence("leased"), { last: occurrence, done: occurrence, workerId: "w1", leaseUntil: occurrence + 3 * LEASE }, "done");
    assert.equal(await p.renewTimerOccurrence("leased", occurrence, "w1", occurrence + 2 * LEASE, LEASE), false, "a run that is done is not renewed");
    assert.equal(await p.takeOverTimerOccurrence("leased", occurrence, "w2", FAR, LEASE), false, "nor taken over, even long after its lease");
    await p.completeTimerOccurrence("leased", occurrence - MINUTE, "w1", FAR);
    await p.completeTimerOccurrence("leased", occurrence + MINUTE, "w1", FAR);
    assert.equal((await p.readTimerOccurrence("leased"))?.done, occurrence, "done never moves back, nor past the last claim");
    await p.completeTimerOccurrence("nothing-here", occurrence, "w1", FAR);
    assert.equal(await p.readTimerOccurrence("nothing-here"), undefined, "completing a timer without a record writes nothing");
  });

  test("take over: refused while the lease is live, allowed once it expired, refused once done or superseded", async (p) => {
    const occurrence = T0 + MINUTE;
    await p.initTimerOccurrence("crashy", T0, "w1", T0);
    await p.claimTimerOccurrence("crashy", occurrence, "w1", occurrence, LEASE);
    assert.equal(await p.takeOverTimerOccurrence("crashy", occurrence, "w2", occurrence + LEASE - 1, LEASE), false, "the lease is live");
    assert.equal(await p.takeOverTimerOccurrence("crashy", occurrence - MINUTE, "w2", FAR, LEASE), false, "not the occurrence claimed");
    assert.equal(await p.takeOverTimerOccurrence("Crashy", occurrence, "w2", occurrence + LEASE, LEASE), true, "the lease expired: taken over");
    assert.deepEqual(await p.readTimerOccurrence("crashy"), { last: occurrence, done: T0, workerId: "w2", leaseUntil: occurrence + 2 * LEASE }, "w2 holds it now, with a new lease");
    assert.equal(await p.takeOverTimerOccurrence("crashy", occurrence, "w3", occurrence + LEASE + 1, LEASE), false, "the new lease is live: once only");
    assert.equal(await p.renewTimerOccurrence("crashy", occurrence, "w1", occurrence + LEASE + 2, LEASE), false, "the former holder lost it");
    assert.equal(await p.renewTimerOccurrence("crashy", occurrence, "w2", occurrence + LEASE + 2, LEASE), true, "the new holder renews it");
    assert.equal(await p.takeOverTimerOccurrence("crashy", occurrence, "w3", occurrence + 5 * LEASE, LEASE), true, "the new holder died too: taken over again");
    await p.completeTimerOccurrence("crashy", occurrence, "w1", occurrence + 5 * LEASE + 1);
    assert.equal((await p.readTimerOccurrence("crashy"))?.done, occurrence, "a run that ended is done, whoever holds the lease now");
    assert.equal(await p.takeOverTimerOccurrence("crashy", occurrence, "w4", FAR, LEASE), false, "done: never again");

    // Superseded: a later occurrence claimed, the interrupted run of an earlier one is not taken over.
    await p.claimTimerOccurrence("superseded", T0, "w1", T0, LEASE);
    assert.deepEqual(await p.claimTimerOccurrence("superseded", T0 + MINUTE, "w2", T0 + MINUTE, LEASE), { claimed: true, last: T0 });
    assert.equal((await p.readTimerOccurrence("superseded"))?.done, undefined, "nothing ended yet");
    assert.equal(await p.takeOverTimerOccurrence("superseded", T0, "w3", FAR, LEASE), false, "the later claim supersedes it");
    assert.equal(await p.takeOverTimerOccurrence("superseded", T0 + MINUTE, "w3", FAR, LEASE), true, "the later one, interrupted too, is taken over");
    await p.completeTimerOccurrence("superseded", T0, "w1", FAR);
    assert.deepEqual(await p.readTimerOccurrence("superseded"), { last: T0 + MINUTE, done: T0, workerId: "w3", leaseUntil: FAR + LEASE }, "a late end of the earlier run moves done, not past the later claim");
    assert.equal(await p.renewTimerOccurrence("superseded", T0 + MINUTE, "w3", FAR, LEASE), true, "the later run is still open");
  });

  test("two handles racing to take over one interrupted run: exactly one wins", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let i = 1; i <= 20; i++) {
      const occurrence = T0 + i * MINUTE;
      await p.claimTimerOccurrence("orphan", occurrence, "dead", occurrence, LEASE);
      const now = occurrence + LEASE;
      const results: boolean[] = await Promise.all([p.takeOverTimerOccurrence("orphan", occurrence, "p", now, LEASE), q.takeOverTimerOccurrence("orphan", occurrence, "q", now, LEASE)]);
      assert.equal(results.filter(Boolean).length, 1, `occurrence ${i}: exactly one takes it over (${JSON.stringify(results)})`);
      const record: TimerOccurrenceRecord | undefined = await q.readTimerOccurrence("orphan");
      assert.equal(record?.workerId, results[0] ? "p" : "q", "the record names the winner");
      assert.equal(record?.leaseUntil, now + LEASE);
    }
  });
}
