import { InvalidArgumentError } from "./errors.js";
import { TERMINAL_STATUSES } from "./status.js";

/** The statuses retention purges: the terminal ones (an instance in any other still runs, or may). */
export type RetainedStatus = "Completed" | "Failed" | "Terminated" | "Canceled";

/**
 * How long instances of each terminal status are kept after they finished (their last update), in
 * ms. A status left out is kept for ever.
 */
export type RetentionAges = Partial<Record<RetainedStatus, number>>;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** The ms of a duration text (`30d`, `12h`, `90m`, `45s`, `500ms`, `2w`); undefined when it is not one. */
function durationOfText(text: string): number | undefined {
  const m = DURATION.exec(text.trim().toLowerCase());
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : undefined;
}

/** A duration such as `30d`, `12h`, `90m`, `45s`, `500ms` or `2w`, in ms; a number is already ms. */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === "string") {
    const ms = durationOfText(value);
    if (ms !== undefined) return ms;
  }
  throw new InvalidArgumentError(`${what} must be a duration such as "30d", "12h", "90m" or "45s" (or a number of milliseconds >= 0), got ${JSON.stringify(value) ?? String(value)}.`);
}

/** A duration as its largest whole unit up to days, for logs and banners: 604800000 → "7d". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) if (ms >= UNITS[unit]! && ms % UNITS[unit]! === 0) return `${ms / UNITS[unit]!}${unit}`;
  return `${ms}ms`;
}

function retainedStatus(key: string, what: string): RetainedStatus {
  const found = TERMINAL_STATUSES.find((s) => s.toLowerCase() === key.trim().toLowerCase());
  if (!found) throw new InvalidArgumentError(`${what}: '${key}' is not a status retention purges: use ${TERMINAL_STATUSES.join(", ")} (instances in other statuses still run).`);
  return found as RetainedStatus;
}

/** The ages of `createHost({ retention })`: status names (any case) to durations. */
export function retentionAges(ages: Readonly<Record<string, unknown>>, what = "retention"): RetentionAges {
  const out: RetentionAges = {};
  for (const [key, value] of Object.entries(ages)) {
    if (value === undefined) continue;
    const status = retainedStatus(key, what);
    out[status] = parseDuration(value, `${what}.${status}`);
  }
  return out;
}

/** The `--retention` flag (and PERDURE_RETENTION): `completed=7d,failed=30d,terminated=7d`. */
export function parseRetentionFlag(text: string, what = "--retention"): RetentionAges {
  const out: RetentionAges = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) throw new InvalidArgumentError(`${what}: '${part.trim()}' has no age: write status=age, as in completed=7d,failed=30d.`);
    const status = retainedStatus(part.slice(0, eq), what);
    if (out[status] !== undefined) throw new InvalidArgumentError(`${what}: ${status} is given twice.`);
    const age = part.slice(eq + 1).trim();
    const ms = durationOfText(age);
    if (ms === undefined) throw new InvalidArgumentError(`${what}: the age of ${status}, '${age}', is not a duration such as 30d, 12h, 90m or 45s.`);
    out[status] = ms;
  }
  if (Object.keys(out).length === 0) throw new InvalidArgumentError(`${what}: no status given: write status=age, as in completed=7d,failed=30d.`);
  return out;
}

/** One purge a retention pass makes: instances of `status` last updated at or before `before`. */
export interface RetentionCutoff {
  status: RetainedStatus;
  before: number;
}

/** What a retention pass at `now` purges, status by status (in the order of TERMINAL_STATUSES). */
export function retentionCutoffs(ages: RetentionAges, now: number): RetentionCutoff[] {
  return TERMINAL_STATUSES.filter((s): s is RetainedStatus => ages[s as RetainedStatus] !== undefined)
    .map((status) => ({ status, before: now - ages[status]! }));
}

/** "Completed after 7d, Failed after 30d", for the banner and logs. */
export function describeRetention(ages: RetentionAges): string {
  return retentionCutoffs(ages, 0)
    .map((c) => `${c.status} after ${formatDuration(ages[c.status]!)}`)
    .join(", ");
}
