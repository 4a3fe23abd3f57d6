import assert from "node:assert/strict";
import { type Define, T0, secondHandle } from "../fixtures.js";

const MINUTE = 60_000;

/** initTimerOccurrence and claimTimerOccurrence: the record behind "each occurrence of a timer runs once across hosts". */
export function timerOccurrenceTests(test: Define): void {
  test("init records the baseline once, never moves it, and returns what is stored", async (p) => {
    assert.equal(await p.initTimerOccurrence("nightly", T0, "w1", T0), T0);
    assert.equal(await p.initTimerOccurrence("nightly", T0 + MINUTE, "w2", T0 + MINUTE), T0, "a second init keeps the first baseline");
    assert.equal(await p.initTimerOccurrence("NIGHTLY", T0 - MINUTE, "w3", T0), T0, "names are case-insensitive, and an older baseline moves nothing either");
    assert.equal(await p.initTimerOccurrence("hourly", T0 + 5, "w1", T0), T0 + 5, "timers are independent");
  });

  test("claim: the first claim of an occurrence wins; the same one or an older one again is refused, with the winner", async (p) => {
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0, "w1", T0), { claimed: true }, "no record yet: claimed, nothing before");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0, "w2", T0 + 1), { claimed: false, last: T0 }, "the same occurrence again");
    assert.deepEqual(await p.claimTimerOccurrence("TICK", T0, "w1", T0 + 2), { claimed: false, last: T0 }, "case-insensitive; also for the winner itself");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 - MINUTE, "w2", T0 + 3), { claimed: false, last: T0 }, "an older occurrence");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + MINUTE, "w2", T0 + MINUTE), { claimed: true, last: T0 }, "the next one: claimed, with the one it replaced");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + 3 * MINUTE, "w1", T0 + 3 * MINUTE), { claimed: true, last: T0 + MINUTE }, "a later one, skipping some");
    assert.deepEqual(await p.claimTimerOccurrence("tick", T0 + 2 * MINUTE, "w2", T0 + 3 * MINUTE), { claimed: false, last: T0 + 3 * MINUTE }, "one before the last claimed");
    assert.equal(await p.initTimerOccurrence("tick", T0, "w3", T0), T0 + 3 * MINUTE, "init reads the last claim");
  });

  test("claims after an init compare with the baseline; timers do not share records", async (p) => {
    assert.equal(await p.initTimerOccurrence("a", T0, "w1", T0), T0);
    assert.deepEqual(await p.claimTimerOccurrence("a", T0, "w1", T0), { claimed: false, last: T0 }, "an occurrence at the baseline is before the timer existed");
    assert.deepEqual(await p.claimTimerOccurrence("a", T0 + MINUTE, "w1", T0 + MINUTE), { claimed: true, last: T0 });
    assert.deepEqual(await p.claimTimerOccurrence("b", T0 + MINUTE, "w1", T0 + MINUTE), { claimed: true }, "another timer, same occurrence");
  });

  test("two handles on one store: each occurrence is claimed by exactly one, when they race for it", async (p, h, t) => {
    const q = await secondHandle(h, t);
    if (!q) return;
    for (let i = 1; i <= 20; i++) {
      const occurrence = T0 + i * MINUTE;
      const results: { claimed: boolean; last?: number }[] = await Promise.all([p.claimTimerOccurrence("race", occurrence, "p", occurrence), q.claimTimerOccurrence("race", occurrence, "q", occurrence)]);
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
    await p.claimTimerOccurrence("kept", T0 + MINUTE, "w1", T0);
    const p2 = await h.reopen();
    assert.deepEqual(await p2.claimTimerOccurrence("kept", T0 + MINUTE, "w2", T0), { claimed: false, last: T0 + MINUTE });
    assert.equal(await p2.initTimerOccurrence("kept", T0, "w2", T0), T0 + MINUTE);
  });
}
