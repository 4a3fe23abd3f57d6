import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeRetention, formatDuration, parseDuration, parseRetentionFlag, retentionAges, retentionCutoffs } from "../../src/core/retention.js";

const DAY = 86_400_000;

describe("retention policy", () => {
  it("reads durations in ms, s, m, h, d and w, and numbers as ms", () => {
    assert.equal(parseDuration("500ms", "x"), 500);
    assert.equal(parseDuration("45s", "x"), 45_000);
    assert.equal(parseDuration("90m", "x"), 5_400_000);
    assert.equal(parseDuration("1.5h", "x"), 5_400_000);
    assert.equal(parseDuration("30D", "x"), 30 * DAY);
    assert.equal(parseDuration("2w", "x"), 14 * DAY);
    assert.equal(parseDuration(0, "x"), 0);
    for (const bad of ["7", "7 days", "-1d", "d", "", "1y", -5, Number.NaN, null, {}]) {
      assert.throws(() => parseDuration(bad, "retention.Completed"), { code: "INVALID_ARGUMENT", message: /^retention\.Completed must be a duration such as "30d"/ }, JSON.stringify(bad));
    }
    assert.equal(formatDuration(7 * DAY), "7d");
    assert.equal(formatDuration(30 * DAY), "30d");
    assert.equal(formatDuration(90 * 60_000), "90m");
    assert.equal(formatDuration(1_500), "1500ms");
  });

  it("reads the flag: statuses in any case, each once, terminal ones only", () => {
    assert.deepEqual(parseRetentionFlag("completed=7d,FAILED=30d, terminated = 12h ,"), { Completed: 7 * DAY, Failed: 30 * DAY, Terminated: 12 * 3_600_000 });
    assert.deepEqual(parseRetentionFlag("canceled=1s"), { Canceled: 1_000 });
    const bad: [string, RegExp][] = [
      ["", /^--retention: no status given: write status=age/],
      ["completed", /^--retention: 'completed' has no age/],
      ["running=1d", /^--retention: 'running' is not a status retention purges: use Completed, Failed, Terminated, Canceled \(instances in other statuses still run\)\./],
      ["completed=1d,Completed=2d", /^--retention: Completed is given twice\./],
      ["failed=soon", /^--retention: the age of Failed, 'soon', is not a duration such as 30d/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseRetentionFlag(text), { code: "INVALID_ARGUMENT", message }, text);
  });

  it("reads createHost's object, and cuts each status at its own age", () => {
    const ages = retentionAges({ completed: "1d", Failed: 3 * DAY, Terminated: undefined });
    assert.deepEqual(ages, { Completed: DAY, Failed: 3 * DAY });
    assert.deepEqual(retentionCutoffs(ages, 10 * DAY), [
      { status: "Completed", before: 9 * DAY },
      { status: "Failed", before: 7 * DAY },
    ]);
    assert.equal(describeRetention(ages), "Completed after 1d, Failed after 3d");
    assert.throws(() => retentionAges({ Pending: "1d" }), { code: "INVALID_ARGUMENT", message: /'Pending' is not a status retention purges/ });
  });
});
