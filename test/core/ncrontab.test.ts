import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { checkTimeZone, isSubMinuteSchedule, latestOccurrence, nextOccurrence, parseSchedule } from "../../src/core/ncrontab.js";

const at = (iso: string): number => Date.parse(iso);
const iso = (t: number | undefined): string => (t === undefined ? "none" : new Date(t).toISOString());

/** The next `n` occurrences after `from`, as ISO strings (UTC). */
function occurrences(schedule: string, from: string, n: number, timeZone?: string): string[] {
  const s = parseSchedule(schedule);
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextOccurrence(s, t, timeZone);
    out.push(iso(next));
    if (next === undefined) break;
    t = next;
  }
  return out;
}

/** The wall-clock time of an instant in a zone, "YYYY-MM-DD hh:mm:ss". */
function wall(t: string, timeZone: string): string {
  return new Date(t).toLocaleString("sv-SE", { timeZone });
}

describe("NCRONTAB: fields, lists, ranges and steps", () => {
  test("every five minutes, on the minute", () => {
    assert.deepEqual(occurrences("0 */5 * * * *", "2026-01-01T00:00:00Z", 3), ["2026-01-01T00:05:00.000Z", "2026-01-01T00:10:00.000Z", "2026-01-01T00:15:00.000Z"]);
  });

  test("strictly after: an occurrence at `after` itself is not returned; sub-second times round up", () => {
    assert.equal(iso(nextOccurrence("0 * * * * *", at("2026-01-01T00:01:00Z"))), "2026-01-01T00:02:00.000Z");
    assert.equal(iso(nextOccurrence("* * * * * *", at("2026-01-01T00:00:00.500Z"))), "2026-01-01T00:00:01.000Z");
    assert.equal(iso(nextOccurrence("* * * * * *", at("2026-01-01T00:00:00.999Z"))), "2026-01-01T00:00:01.000Z");
  });

  test("every second, every 15 seconds, seconds lists", () => {
    assert.deepEqual(occurrences("* * * * * *", "2026-01-01T00:00:59Z", 2), ["2026-01-01T00:01:00.000Z", "2026-01-01T00:01:01.000Z"]);
    assert.deepEqual(occurrences("*/15 * * * * *", "2026-01-01T00:00:50Z", 3), ["2026-01-01T00:01:00.000Z", "2026-01-01T00:01:15.000Z", "2026-01-01T00:01:30.000Z"]);
    assert.deepEqual(occurrences("5,10 * * * * *", "2026-01-01T00:00:07Z", 3), ["2026-01-01T00:00:10.000Z", "2026-01-01T00:01:05.000Z", "2026-01-01T00:01:10.000Z"]);
  });

  test("the five-field form has no seconds: it runs at second 0", () => {
    assert.deepEqual(occurrences("*/15 * * * *", "2026-01-01T00:00:00Z", 3), ["2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z", "2026-01-01T00:45:00.000Z"]);
    const five = parseSchedule("30 9 * * 1-5");
    assert.ok(five.kind === "cron");
    assert.deepEqual([five.seconds, five.minutes, five.hours, five.daysOfWeek], [[0], [30], [9], [1, 2, 3, 4, 5]]);
  });

  test("ranges, ranges with steps, and a/n (from a to the field's maximum)", () => {
    assert.deepEqual(occurrences("0 0 9-17 * * *", "2026-01-01T16:30:00Z", 3), ["2026-01-01T17:00:00.000Z", "2026-01-02T09:00:00.000Z", "2026-01-02T10:00:00.000Z"]);
    const c = parseSchedule("0 10-30/10 5/6 * * *");
    assert.ok(c.kind === "cron");
    assert.deepEqual(c.minutes, [10, 20, 30]);
    assert.deepEqual(c.hours, [5, 11, 17, 23]);
    const s = parseSchedule("1,2,5-7,*/20 * * * * *");
    assert.ok(s.kind === "cron");
    assert.deepEqual(s.seconds, [0, 1, 2, 5, 6, 7, 20, 40]);
  });

  test("a step larger than the range keeps its first value", () => {
    const s = parseSchedule("0 */90 * * * *");
    assert.ok(s.kind === "cron");
    assert.deepEqual(s.minutes, [0]);
  });

  test("every two hours, at 9:30 every day, at 9:30 every weekday", () => {
    assert.deepEqual(occurrences("0 0 */2 * * *", "2026-01-01T01:00:00Z", 2), ["2026-01-01T02:00:00.000Z", "2026-01-01T04:00:00.000Z"]);
    assert.deepEqual(occurrences("0 30 9 * * *", "2026-01-01T10:00:00Z", 2), ["2026-01-02T09:30:00.000Z", "2026-01-03T09:30:00.000Z"]);
    // 2026-01-02 is a Friday: the next weekdays are Fri 2, Mon 5, Tue 6.
    assert.deepEqual(occurrences("0 30 9 * * 1-5", "2026-01-01T10:00:00Z", 3), ["2026-01-02T09:30:00.000Z", "2026-01-05T09:30:00.000Z", "2026-01-06T09:30:00.000Z"]);
  });

  test("month and day names, case-insensitive, any prefix (the first name it begins, as NCrontab)", () => {
    assert.deepEqual(occurrences("0 30 9 * Jan Mon", "2026-01-01T00:00:00Z", 3), ["2026-01-05T09:30:00.000Z", "2026-01-12T09:30:00.000Z", "2026-01-19T09:30:00.000Z"]);
    const s = parseSchedule("0 0 0 1 JANUARY,mar,Sept,dec sun-TUE,fri");
    assert.ok(s.kind === "cron");
    assert.deepEqual(s.months, [1, 3, 9, 12]);
    assert.deepEqual(s.daysOfWeek, [0, 1, 2, 5]);
    const m = parseSchedule("0 0 0 * Ma *");
    assert.ok(m.kind === "cron");
    assert.deepEqual(m.months, [3], "'Ma' is March, the first month it begins");
    const d = parseSchedule("0 0 0 * * T");
    assert.ok(d.kind === "cron");
    assert.deepEqual(d.daysOfWeek, [2], "'T' is Tuesday");
  });

  test("day of week 0 is Sunday; ranges of names", () => {
    // 2026-01-04 is a Sunday.
    assert.deepEqual(occurrences("0 0 12 * * 0", "2026-01-01T00:00:00Z", 2), ["2026-01-04T12:00:00.000Z", "2026-01-11T12:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 12 * * Sat,Sun", "2026-01-01T00:00:00Z", 3), ["2026-01-03T12:00:00.000Z", "2026-01-04T12:00:00.000Z", "2026-01-10T12:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 12 * * Mon-Wed", "2026-01-01T00:00:00Z", 2), ["2026-01-05T12:00:00.000Z", "2026-01-06T12:00:00.000Z"]);
  });

  test("restricted day of month AND day of week: both must match (NCrontab), e.g. Friday the 13th", () => {
    assert.deepEqual(occurrences("0 0 0 13 * Fri", "2026-01-01T00:00:00Z", 3), ["2026-02-13T00:00:00.000Z", "2026-03-13T00:00:00.000Z", "2026-11-13T00:00:00.000Z"]);
    // The first Monday of the month.
    assert.deepEqual(occurrences("0 0 8 1-7 * Mon", "2026-01-01T00:00:00Z", 3), ["2026-01-05T08:00:00.000Z", "2026-02-02T08:00:00.000Z", "2026-03-02T08:00:00.000Z"]);
  });
});

describe("NCRONTAB: month ends and leap years", () => {
  test("day 31 skips the months that lack it", () => {
    assert.deepEqual(occurrences("0 0 0 31 * *", "2026-01-01T00:00:00Z", 7), [
      "2026-01-31T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
      "2026-07-31T00:00:00.000Z",
      "2026-08-31T00:00:00.000Z",
      "2026-10-31T00:00:00.000Z",
      "2026-12-31T00:00:00.000Z",
    ]);
  });

  test("days 15 and 31: as NCrontab's own example (Jan 15, Jan 31, Feb 15, Mar 15, Mar 31, Apr 15, ...)", () => {
    assert.deepEqual(occurrences("0 0 0 15,31 * *", "2026-01-01T00:00:00Z", 6), [
      "2026-01-15T00:00:00.000Z",
      "2026-01-31T00:00:00.000Z",
      "2026-02-15T00:00:00.000Z",
      "2026-03-15T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z",
      "2026-04-15T00:00:00.000Z",
    ]);
  });

  test("February 29 occurs in leap years only (2100 is not one, 2000 was)", () => {
    assert.deepEqual(occurrences("0 0 0 29 2 *", "2026-01-01T00:00:00Z", 2), ["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 0 29 Feb *", "2096-03-01T00:00:00Z", 1), ["2104-02-29T00:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 0 29 2 *", "1999-01-01T00:00:00Z", 1), ["2000-02-29T00:00:00.000Z"]);
  });

  test("February 29 on a Monday: found decades ahead", () => {
    assert.deepEqual(occurrences("0 0 0 29 2 Mon", "2026-01-01T00:00:00Z", 2), ["2044-02-29T00:00:00.000Z", "2072-02-29T00:00:00.000Z"]);
  });

  test("the last day of February follows the year: 28 and 29", () => {
    assert.deepEqual(occurrences("0 0 0 28,29 2 *", "2027-01-01T00:00:00Z", 3), ["2027-02-28T00:00:00.000Z", "2028-02-28T00:00:00.000Z", "2028-02-29T00:00:00.000Z"]);
  });

  test("rolls over the end of the year, and from the last second of a month", () => {
    assert.deepEqual(occurrences("0 0 0 1 1 *", "2026-06-01T00:00:00Z", 2), ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z"]);
    assert.deepEqual(occurrences("* * * * * *", "2026-12-31T23:59:59Z", 1), ["2027-01-01T00:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 0 * * *", "2026-04-30T23:59:59Z", 1), ["2026-05-01T00:00:00.000Z"]);
  });
});

describe("TimeSpan schedules", () => {
  test("hh:mm:ss, hh:mm, d.hh:mm:ss and d:hh:mm:ss; occurrences are multiples of the interval since the epoch", () => {
    assert.deepEqual(occurrences("00:05:00", "2026-01-01T00:01:00Z", 2), ["2026-01-01T00:05:00.000Z", "2026-01-01T00:10:00.000Z"]);
    assert.deepEqual(occurrences("01:30", "2026-01-01T00:00:00Z", 2), ["2026-01-01T01:30:00.000Z", "2026-01-01T03:00:00.000Z"]);
    const day = parseSchedule("1.00:00:00");
    assert.ok(day.kind === "interval");
    assert.equal(day.intervalMs, 86_400_000);
    const long = parseSchedule("2:03:04:05");
    assert.ok(long.kind === "interval");
    assert.equal(long.intervalMs, ((2 * 24 + 3) * 60 + 4) * 60_000 + 5_000);
    const fine = parseSchedule("00:00:01.5");
    assert.ok(fine.kind === "interval");
    assert.equal(fine.intervalMs, 1_500);
  });

  test("intervals ignore the time zone (they are absolute)", () => {
    assert.equal(nextOccurrence("00:10:00", at("2026-03-08T06:55:00Z"), "America/New_York"), at("2026-03-08T07:00:00Z"));
  });

  test("sub-minute schedules (Azure keeps no schedule status for them)", () => {
    assert.equal(isSubMinuteSchedule(parseSchedule("*/10 * * * * *")), true);
    assert.equal(isSubMinuteSchedule(parseSchedule("0 * * * * *")), false);
    assert.equal(isSubMinuteSchedule(parseSchedule("00:00:30")), true);
    assert.equal(isSubMinuteSchedule(parseSchedule("00:01:00")), false);
  });
});

describe("latestOccurrence", () => {
  test("the latest due occurrence in (after, atOrBefore]", () => {
    assert.equal(iso(latestOccurrence("0 0 * * * *", at("2026-01-01T00:00:00Z"), at("2026-01-03T05:30:00Z"))), "2026-01-03T05:00:00.000Z");
    assert.equal(iso(latestOccurrence("0 0 * * * *", at("2026-01-01T00:00:00Z"), at("2026-01-03T05:00:00Z"))), "2026-01-03T05:00:00.000Z", "inclusive");
    assert.equal(iso(latestOccurrence("0 0 * * * *", at("2026-01-01T00:00:00Z"), at("2026-01-01T00:59:59Z"))), "none", "none due yet");
    assert.equal(iso(latestOccurrence("0 0 0 31 * *", at("2026-01-01T00:00:00Z"), at("2026-07-15T00:00:00Z"))), "2026-05-31T00:00:00.000Z");
    assert.equal(iso(latestOccurrence("0 30 1 * * *", at("2026-10-30T00:00:00Z"), at("2026-11-01T07:00:00Z"), "America/New_York")), "2026-11-01T05:30:00.000Z");
  });
});

describe("time zones (IANA, through Intl)", () => {
  test("a schedule is read in the zone's wall-clock time", () => {
    assert.deepEqual(occurrences("0 0 9 * * *", "2026-01-01T00:00:00Z", 1, "Europe/Paris"), ["2026-01-01T08:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 9 * * *", "2026-07-01T00:00:00Z", 1, "Europe/Paris"), ["2026-07-01T07:00:00.000Z"]);
    assert.deepEqual(occurrences("0 0 9 * * *", "2026-01-01T00:00:00Z", 1, "Asia/Kolkata"), ["2026-01-01T03:30:00.000Z"]);
    assert.deepEqual(occurrences("0 0 9 * * *", "2026-01-01T00:00:00Z", 1, "UTC"), ["2026-01-01T09:00:00.000Z"]);
  });

  test("the day of the week is the zone's", () => {
    // Monday 2026-01-05 00:30 in Tokyo is Sunday 15:30 UTC.
    assert.deepEqual(occurrences("0 30 0 * * Mon", "2026-01-01T00:00:00Z", 1, "Asia/Tokyo"), ["2026-01-04T15:30:00.000Z"]);
  });

  test("a daily time across the yearly offset changes keeps its wall-clock time", () => {
    const times = occurrences("0 0 12 1 * *", "2026-01-15T00:00:00Z", 12, "Europe/Paris").map((t) => wall(t, "Europe/Paris"));
    assert.ok(times.every((t) => t.endsWith(" 12:00:00")), times.join(", "));
    assert.deepEqual(occurrences("0 0 12 1 7 *", "2026-02-01T00:00:00Z", 1, "Europe/Paris"), ["2026-07-01T10:00:00.000Z"]);
  });

  test("spring forward: a wall time the change skips occurs once, at the change; the rhythm goes on after it", () => {
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
    assert.deepEqual(
      occurrences("0 */30 * * * *", "2026-03-08T05:00:00Z", 5, "America/New_York").map((t) => wall(t, "America/New_York")),
      ["2026-03-08 00:30:00", "2026-03-08 01:00:00", "2026-03-08 01:30:00", "2026-03-08 03:00:00", "2026-03-08 03:30:00"],
    );
    assert.deepEqual(occurrences("0 30 2 * * *", "2026-03-07T12:00:00Z", 3, "America/New_York"), ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"]);
  });

  test("fall back: a fixed time in the repeated hour runs once; a schedule with hour '*' runs through both passes", () => {
    // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); 01:00-01:59 happens twice.
    assert.deepEqual(occurrences("0 30 1 * * *", "2026-10-31T12:00:00Z", 2, "America/New_York"), ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
    assert.deepEqual(occurrences("0 30 1 * * *", "2026-11-01T05:45:00Z", 1, "America/New_York"), ["2026-11-02T06:30:00.000Z"], "from the first pass");
    assert.deepEqual(occurrences("0 30 1 * * *", "2026-11-01T06:10:00Z", 1, "America/New_York"), ["2026-11-02T06:30:00.000Z"], "from the second pass");
    assert.deepEqual(occurrences("0 */30 * * * *", "2026-11-01T04:00:00Z", 6, "America/New_York"), [
      "2026-11-01T04:30:00.000Z",
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T06:30:00.000Z",
      "2026-11-01T07:00:00.000Z",
    ]);
  });

  test("occurrences are strictly increasing through a year of changes, every 20 minutes in several zones", () => {
    // Lord Howe Island moves its clocks by 30 minutes: a 20-minute rhythm in wall time cannot stay 20 minutes apart then.
    for (const [tz, maxGap] of [["America/New_York", 20], ["Europe/London", 20], ["Australia/Sydney", 20], ["Australia/Lord_Howe", 50]] as const) {
      const s = parseSchedule("0 */20 * * * *");
      let t = at("2026-01-01T00:00:00Z");
      const end = at("2027-01-01T00:00:00Z");
      let n = 0;
      while (t < end) {
        const next = nextOccurrence(s, t, tz)!;
        assert.ok(next > t, `${tz}: ${iso(next)} after ${iso(t)}`);
        assert.ok(next - t <= maxGap * 60_000, `${tz}: no gap longer than ${maxGap} minutes after ${iso(t)} (next ${iso(next)})`);
        t = next;
        n++;
      }
      assert.ok(n >= 365 * 72 - 10 && n <= 365 * 72 + 1, `${tz}: ${n} runs`);
    }
  });

  test("unknown zones are refused with the way out", () => {
    assert.throws(() => checkTimeZone("Eastern Standard Time", "WEBSITE_TIME_ZONE"), (e: InvalidArgumentError) => e.code === "INVALID_ARGUMENT" && /WEBSITE_TIME_ZONE 'Eastern Standard Time'.*IANA/.test(e.message));
    assert.equal(checkTimeZone("Europe/Paris"), "Europe/Paris");
  });
});

describe("bad schedules are refused with the field, the problem and an example", () => {
  const cases: [string, RegExp][] = [
    ["0 */5 * * * *x", /field 6 \(day of week\) '\*x': '\*x' is not a number between 0 and 6 or a name/],
    ["0 */5 * * *x", /field 5 of 5 \(day of week\)/],
    ["", /the schedule is empty/],
    ["   ", /the schedule is empty/],
    ["1 2 3", /it has 3 fields/],
    ["0 0 0 0 0 0 0", /it has 7 fields/],
    ["60 * * * * *", /field 1 \(second\) '60': 60 is out of range 0-59/],
    ["0 60 * * * *", /field 2 \(minute\) '60': 60 is out of range 0-59/],
    ["0 0 24 * * *", /field 3 \(hour\) '24': 24 is out of range 0-23/],
    ["0 0 0 0 * *", /field 4 \(day of month\) '0': 0 is out of range 1-31/],
    ["0 0 0 32 * *", /field 4 \(day of month\) '32'/],
    ["0 0 0 * 13 *", /field 5 \(month\) '13': 13 is out of range 1-12/],
    ["0 0 0 * 0 *", /field 5 \(month\) '0'/],
    ["0 0 0 * * 7", /field 6 \(day of week\) '7': 7 is out of range 0-6 \(use 0 for Sunday/],
    ["0 0 0 * Foo *", /'Foo' is not a month name \(Jan-Dec\)/],
    ["0 0 0 * * Funday", /'Funday' is not a day of week name/],
    ["*/0 * * * * *", /a step must be at least 1/],
    ["*/x * * * * *", /the step 'x' is not a whole number/],
    ["*/5/2 * * * * *", /more than one '\/'/],
    ["0 0 22-2 * * *", /the range 22-2 goes backwards \(NCrontab would read it as 2-22\); write 2-22, or the list 22-23,0-2/],
    ["0 0 0 * * Sat-Sun", /the range Sat-Sun goes backwards \(NCrontab would read it as 0-6\); write 0-6, or the list 6,0 /],
    ["0 0 1-2-3 * * *", /'1-2-3' is not a range/],
    ["0 0 1,,2 * * *", /an element of the list is empty/],
    ["0 0 -1 * * *", /a value is missing/],
    ["0 0 0 ? * *", /'\?' is not NCRONTAB/],
    ["0 0 0 L * *", /L, W or #/],
    ["0 0 0 * * 5#3", /L, W or #/],
    ["0 0 0 1.5 * *", /is not a number/],
    ["0 0 0 31 2 *", /never occurs: no month it allows \(February\) has day 31/],
    ["0 0 0 30,31 2 *", /never occurs/],
    ["24:00:00", /24 hours: a TimeSpan's hours are 0-23/],
    ["00:60:00", /60 minutes/],
    ["00:00:60", /60 seconds/],
    ["00:00:00", /the interval is zero/],
    ["1:2:3:4:5", /neither an NCRONTAB expression nor a TimeSpan/],
  ];
  for (const [schedule, message] of cases) {
    test(`'${schedule}'`, () => {
      assert.throws(
        () => parseSchedule(schedule),
        (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError, "InvalidArgumentError");
          assert.equal(e.code, "INVALID_ARGUMENT");
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(`Invalid timer schedule '${schedule}': `), e.message);
          assert.match(e.message, /Use six fields: \{second\} \{minute\} \{hour\} \{day\} \{month\} \{day-of-week\}, e\.g\. '0 \*\/5 \* \* \* \*'/);
          return true;
        },
      );
    });
  }

  test("a schedule that is not a string", () => {
    assert.throws(() => parseSchedule(42 as unknown as string), /Invalid timer schedule 42: a schedule must be a string/);
  });
});
