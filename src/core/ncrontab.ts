import { InvalidArgumentError } from "./errors.js";

/**
 * Timer-trigger schedules, as Azure Functions writes them: NCRONTAB expressions and TimeSpan
 * intervals. Pure: time comes in as milliseconds since the epoch, time zones are read through Intl.
 *
 * NCRONTAB: six fields `{second} {minute} {hour} {day} {month} {day-of-week}` (or five, without the
 * seconds, which are then 0), each `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or `a/n` (from a
 * to the field's maximum), or a comma-separated list of those. Months are 1-12 or names (January-
 * December, any prefix: Jan, Sept), days of the week 0-6 with 0 = Sunday, or names (Sunday-Saturday,
 * any prefix). As in NCrontab, a name prefix matches the first name it begins (`Ma` = March), 7 is
 * not a day of the week, and when both the day of the month and the day of the week are restricted
 * a time must match BOTH (`0 0 0 13 * Fri`: Friday the 13th; Vixie cron would take either). A day the
 * month does not have (31 in April) is skipped. Unlike NCrontab, a range written backwards (`22-2`,
 * which NCrontab silently reads as 2-22) and a step of 0 are refused.
 *
 * TimeSpan: `hh:mm[:ss]` (hh 0-23), `d.hh:mm:ss` or `d:hh:mm:ss`: an occurrence every interval,
 * counted from the Unix epoch (so every host agrees on them), in absolute time.
 *
 * Time zones (IANA names, through Intl): a cron schedule is read in wall-clock time of the zone.
 * Across a daylight-saving change: wall times that a spring-forward skips occur once, at the instant
 * of the change; wall times that a fall-back repeats occur once (the first time), except for
 * schedules whose hour field is `*`, which keep their rhythm through the repeated hour.
 */

export type TimerSchedule = CronSchedule | IntervalSchedule;

export interface CronSchedule {
  readonly kind: "cron";
  /** The expression as written. */
  readonly expression: string;
  /** The values of each field, ascending. */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly days: readonly number[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly number[];
}

export interface IntervalSchedule {
  readonly kind: "interval";
  readonly expression: string;
  readonly intervalMs: number;
}

const FORMAT_HINT =
  "Use six fields: {second} {minute} {hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *' (every five minutes), or a TimeSpan such as '00:05:00'";

const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
  namesHint?: string;
}

const FIELDS: readonly FieldSpec[] = [
  { label: "second", min: 0, max: 59 },
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day of month", min: 1, max: 31 },
  { label: "month", min: 1, max: 12, names: MONTH_NAMES, namesHint: "Jan-Dec" },
  { label: "day of week", min: 0, max: 6, names: DAY_NAMES, namesHint: "Sun-Sat, 0 = Sunday" },
];

/** The most days each month can have (February: in a leap year). */
const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** How far ahead a search looks: a full Gregorian cycle, so any schedule that can occur is found. */
const SEARCH_YEARS = 400;

const DAY_MS = 86_400_000;

function invalid(expression: unknown, detail: string): InvalidArgumentError {
  const shown = typeof expression === "string" ? `'${expression}'` : String(expression);
  return new InvalidArgumentError(`Invalid timer schedule ${shown}: ${detail}. ${FORMAT_HINT}.`);
}

/** Parses a schedule; throws InvalidArgumentError naming the field and the problem. */
export function parseSchedule(expression: string): TimerSchedule {
  if (typeof expression !== "string") throw invalid(expression, "a schedule must be a string");
  const text = expression.trim();
  if (text === "") throw invalid(expression, "the schedule is empty");
  if (!/\s/.test(text) && text.includes(":")) return parseInterval(expression, text);
  const tokens = text.split(/\s+/);
  if (tokens.length !== 6 && tokens.length !== 5) {
    throw invalid(expression, `it has ${tokens.length} field${tokens.length === 1 ? "" : "s"} (five without the seconds are accepted too)`);
  }
  const offset = tokens.length === 5 ? 1 : 0;
  const values: number[][] = tokens.length === 5 ? [[0]] : [];
  tokens.forEach((token, i) => {
    const spec = FIELDS[i + offset]!;
    try {
      values.push(parseField(token, spec));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      throw invalid(expression, `field ${i + 1}${offset ? " of 5" : ""} (${spec.label}) '${token}': ${err.message}`);
    }
  });
  const [seconds, minutes, hours, days, months, daysOfWeek] = values as [number[], number[], number[], number[], number[], number[]];
  if (!months.some((m) => days.some((d) => d <= MAX_DAYS[m]!))) {
    throw invalid(expression, `it never occurs: no month it allows (${months.map((m) => MONTH_NAMES[m - 1]).join(", ")}) has day ${days.join(", ")}`);
  }
  return { kind: "cron", expression, seconds, minutes, hours, days, months, daysOfWeek };
}

class FieldError extends Error {}

function parseField(token: string, spec: FieldSpec): number[] {
  const set = new Set<number>();
  for (const part of token.split(",")) {
    if (part === "") throw new FieldError("an element of the list is empty");
    const pieces = part.split("/");
    if (pieces.length > 2) throw new FieldError(`'${part}' has more than one '/'`);
    const [range, stepText] = pieces as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) throw new FieldError(`the step '${stepText}' is not a whole number`);
      step = Number(stepText);
      if (step < 1) throw new FieldError("a step must be at least 1");
    }
    let lo: number;
    let hi: number;
    if (range === "*") {
      lo = spec.min;
      hi = spec.max;
    } else if (range.includes("-")) {
      const ends = range.split("-");
      if (ends.length !== 2) throw new FieldError(`'${range}' is not a range (write a-b)`);
      lo = fieldValue(ends[0]!, spec);
      hi = fieldValue(ends[1]!, spec);
      if (lo > hi) {
        const wrap = `${lo === spec.max ? lo : `${lo}-${spec.max}`},${hi === spec.min ? hi : `${spec.min}-${hi}`}`;
        throw new FieldError(`the range ${range} goes backwards (NCrontab would read it as ${hi}-${lo}); write ${hi}-${lo}, or the list ${wrap} for a range that wraps around`);
      }
    } else {
      lo = fieldValue(range, spec);
      hi = stepText === undefined ? lo : spec.max;
    }
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  return [...set].sort((a, b) => a - b);
}

function fieldValue(text: string, spec: FieldSpec): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < spec.min || n > spec.max) {
      const sunday = spec.names === DAY_NAMES && n === 7 ? " (use 0 for Sunday: NCrontab does not accept 7)" : "";
      throw new FieldError(`${n} is out of range ${spec.min}-${spec.max}${sunday}`);
    }
    return n;
  }
  if (text === "") throw new FieldError("a value is missing");
  if (spec.names && /^[A-Za-z]+$/.test(text)) {
    const lower = text.toLowerCase();
    const i = spec.names.findIndex((name) => name.toLowerCase().startsWith(lower));
    if (i >= 0) return i + spec.min;
    throw new FieldError(`'${text}' is not a ${spec.label} name (${spec.namesHint})`);
  }
  if (text === "?") throw new FieldError("'?' is not NCRONTAB (it is Quartz syntax): use '*'");
  if (/[LW#]/.test(text)) throw new FieldError(`'${text}' uses L, W or #, which NCRONTAB does not have`);
  const names = spec.names ? ` or a name (${spec.namesHint})` : "";
  throw new FieldError(`'${text}' is not a number between ${spec.min} and ${spec.max}${names}`);
}

function parseInterval(expression: string, text: string): IntervalSchedule {
  // d.hh:mm[:ss[.f]], d:hh:mm:ss[.f], hh:mm[:ss[.f]] (.NET's TimeSpan forms, as Azure reads them).
  const m =
    /^(\d+)\.(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?$/.exec(text) ??
    /^(\d+):(\d+):(\d+):(\d+)(?:\.(\d{1,7}))?$/.exec(text) ??
    /^()(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?$/.exec(text);
  if (!m) throw invalid(expression, "it is neither an NCRONTAB expression nor a TimeSpan (hh:mm:ss or d.hh:mm:ss)");
  const [, d, h, mi, s, frac] = m;
  const days = Number(d || 0);
  const hours = Number(h);
  const minutes = Number(mi);
  const seconds = Number(s ?? 0);
  if (hours > 23) {
    throw invalid(expression, `${hours} hours: a TimeSpan's hours are 0-23; for whole days write d.hh:mm:ss, e.g. '1.00:00:00'`);
  }
  if (minutes > 59) throw invalid(expression, `${minutes} minutes: a TimeSpan's minutes are 0-59`);
  if (seconds > 59) throw invalid(expression, `${seconds} seconds: a TimeSpan's seconds are 0-59`);
  const fraction = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const intervalMs = ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000 + fraction;
  if (!(intervalMs > 0)) throw invalid(expression, "the interval is zero");
  return { kind: "interval", expression, intervalMs };
}

/** Whether the schedule recurs more than once a minute (Azure then keeps no schedule status: no past-due runs). */
export function isSubMinuteSchedule(schedule: TimerSchedule): boolean {
  return schedule.kind === "interval" ? schedule.intervalMs < 60_000 : schedule.seconds.length > 1;
}

/** Whether the name is a time zone Intl knows; throws InvalidArgumentError otherwise. `source` names where it came from. */
export function checkTimeZone(timeZone: string, source = "time zone"): string {
  try {
    formatter(timeZone);
    return timeZone;
  } catch {
    throw new InvalidArgumentError(
      `Unknown ${source} '${timeZone}': use an IANA time zone name such as 'Europe/Paris' or 'America/New_York' (Windows names such as 'Eastern Standard Time' are not supported), or leave it unset for UTC.`,
    );
  }
}

/**
 * The first occurrence strictly after `afterMs`, in ms since the epoch; undefined if the schedule
 * never occurs again (within 400 years). `timeZone`: an IANA name; default UTC.
 */
export function nextOccurrence(schedule: TimerSchedule | string, afterMs: number, timeZone?: string): number | undefined {
  const s = typeof schedule === "string" ? parseSchedule(schedule) : schedule;
  if (s.kind === "interval") return (Math.floor(afterMs / s.intervalMs) + 1) * s.intervalMs;
  const fields = compiled(s);
  if (timeZone === undefined || isUtc(timeZone)) return nextWall(fields, afterMs);
  return nextInZone(fields, afterMs, timeZone);
}

/**
 * The latest occurrence at or before `atOrBeforeMs` and after `afterMs`; undefined if there is none.
 * `afterMs` bounds the search (an occurrence known to be handled, such as the last one that ran).
 */
export function latestOccurrence(schedule: TimerSchedule | string, afterMs: number, atOrBeforeMs: number, timeZone?: string): number | undefined {
  const s = typeof schedule === "string" ? parseSchedule(schedule) : schedule;
  const first = nextOccurrence(s, afterMs, timeZone);
  if (first === undefined || first > atOrBeforeMs) return undefined;
  // next() is non-decreasing: find the last x in [afterMs, atOrBeforeMs) whose next occurrence is still due.
  let lo = afterMs;
  let hi = atOrBeforeMs;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const n = nextOccurrence(s, mid, timeZone);
    if (n !== undefined && n <= atOrBeforeMs) lo = mid;
    else hi = mid;
  }
  return nextOccurrence(s, lo, timeZone);
}

// ---- evaluation in wall-clock time ----

interface Compiled {
  second: Uint8Array;
  minute: Uint8Array;
  hour: Uint8Array;
  day: Uint8Array;
  month: Uint8Array;
  dow: Uint8Array;
  s: CronSchedule;
  /** The hour field is `*`: the schedule keeps running through a repeated (fall-back) hour. */
  everyHour: boolean;
}

const compiledCache = new WeakMap<CronSchedule, Compiled>();

function compiled(s: CronSchedule): Compiled {
  let c = compiledCache.get(s);
  if (!c) {
    const bits = (values: readonly number[], size: number): Uint8Array => {
      const a = new Uint8Array(size);
      for (const v of values) a[v] = 1;
      return a;
    };
    c = {
      second: bits(s.seconds, 60),
      minute: bits(s.minutes, 60),
      hour: bits(s.hours, 24),
      day: bits(s.days, 32),
      month: bits(s.months, 13),
      dow: bits(s.daysOfWeek, 7),
      s,
      everyHour: s.hours.length === 24,
    };
    compiledCache.set(s, c);
  }
  return c;
}

function firstAtLeast(values: readonly number[], v: number): number | undefined {
  for (const x of values) if (x >= v) return x;
  return undefined;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * The first wall-clock time strictly after `afterWall` that matches, both as "UTC" milliseconds (a
 * wall time read as if it were UTC). Whole seconds.
 */
function nextWall(c: Compiled, afterWall: number): number | undefined {
  const start = new Date(Math.floor(afterWall / 1000) * 1000 + 1000);
  let y = start.getUTCFullYear();
  let mo = start.getUTCMonth() + 1;
  let d = start.getUTCDate();
  let h = start.getUTCHours();
  let mi = start.getUTCMinutes();
  let s = start.getUTCSeconds();
  const lastYear = y + SEARCH_YEARS;
  const { s: sched } = c;
  for (;;) {
    if (s > 59) {
      s = 0;
      mi++;
    }
    if (mi > 59) {
      mi = 0;
      h++;
    }
    if (h > 23) {
      h = 0;
      d++;
    }
    if (d > daysIn(y, mo)) {
      d = 1;
      mo++;
    }
    if (mo > 12) {
      mo = 1;
      y++;
    }
    if (y > lastYear) return undefined;
    if (!c.month[mo]) {
      const next = firstAtLeast(sched.months, mo);
      if (next === undefined) {
        y++;
        mo = sched.months[0]!;
      } else mo = next;
      d = 1;
      h = mi = s = 0;
      continue;
    }
    if (!c.day[d]) {
      const next = firstAtLeast(sched.days, d);
      if (next === undefined) d = 32; // past the month's end: the carry moves to the next month
      else d = next;
      h = mi = s = 0;
      continue;
    }
    if (!c.dow[new Date(Date.UTC(y, mo - 1, d)).getUTCDay()]) {
      d++;
      h = mi = s = 0;
      continue;
    }
    if (!c.hour[h]) {
      const next = firstAtLeast(sched.hours, h);
      if (next === undefined) h = 24;
      else h = next;
      mi = s = 0;
      continue;
    }
    if (!c.minute[mi]) {
      const next = firstAtLeast(sched.minutes, mi);
      if (next === undefined) mi = 60;
      else mi = next;
      s = 0;
      continue;
    }
    if (!c.second[s]) {
      const next = firstAtLeast(sched.seconds, s);
      s = next === undefined ? 60 : next;
      continue;
    }
    return Date.UTC(y, mo - 1, d, h, mi, s);
  }
}

// ---- time zones ----

function isUtc(timeZone: string): boolean {
  return /^(utc|etc\/utc|gmt|etc\/gmt|z|zulu|universal|etc\/universal)$/i.test(timeZone);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `t` (wall time = t + offset), in ms. */
function offsetAt(timeZone: string, t: number): number {
  const whole = Math.floor(t / 1000) * 1000;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(whole))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour! % 24, parts.minute, parts.second);
  return wall - whole;
}

/** The first instant in (lo, hi] whose offset is not `o` (offsets at least a day apart are probed daily), or undefined. */
function firstChange(timeZone: string, lo: number, hi: number, o: number): number | undefined {
  let from = lo;
  while (from < hi) {
    const probe = Math.min(from + DAY_MS, hi);
    if (offsetAt(timeZone, probe) !== o) {
      let a = from;
      let b = probe;
      while (b - a > 1) {
        const mid = a + Math.floor((b - a) / 2);
        if (offsetAt(timeZone, mid) === o) a = mid;
        else b = mid;
      }
      return b;
    }
    from = probe;
  }
  return undefined;
}

function nextInZone(c: Compiled, after: number, timeZone: string): number | undefined {
  let cur = after; // instants after this one are candidates
  let o = offsetAt(timeZone, cur); // the offset from just after `cur` to the next change
  let wallFrom = cur + o; // wall times after this one are candidates
  // Wall times below this were already lived once (before a fall-back): they count again only for
  // schedules that run every hour.
  let repeatBelow = -Infinity;
  const dayBefore = offsetAt(timeZone, cur - DAY_MS);
  if (dayBefore > o) {
    const back = firstChange(timeZone, cur - DAY_MS, cur, dayBefore);
    if (back !== undefined) repeatBelow = back + dayBefore;
  }
  for (let i = 0; i < 4 * SEARCH_YEARS; i++) {
    let wall = nextWall(c, wallFrom);
    if (wall === undefined) return undefined;
    if (wall < repeatBelow && !c.everyHour) {
      wall = nextWall(c, repeatBelow - 1);
      if (wall === undefined) return undefined;
    }
    const instant = wall - o;
    const change = firstChange(timeZone, cur, instant, o);
    if (change === undefined) return instant;
    const o2 = offsetAt(timeZone, change);
    if (o2 > o) {
      // Spring forward: wall times [change + o, change + o2) do not exist; one that matches occurs at the change.
      if (wall < change + o2) return change;
    } else {
      // Fall back: wall times [change + o2, change + o) come round again.
      repeatBelow = change + o;
    }
    cur = change - 1;
    o = o2;
    wallFrom = change + o2 - 1;
  }
  return undefined;
}
