/**
 * `new Date(ms).toISOString()`, remembering the last answer: a busy host stamps many events in the
 * same millisecond, and formatting one costs more than half a microsecond (a measurable share of a
 * step on the memory store).
 */
let lastMs = Number.NaN;
let lastText = "";

export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}
