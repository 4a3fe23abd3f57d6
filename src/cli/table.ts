import type { CliIo } from "./io.js";

/**
 * Rows as aligned columns under a header. On a terminal the line is cut to its width: the widest
 * columns give up characters first (ending in "…"), so IDs and statuses stay readable.
 */
export function table(io: CliIo, headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((r) => r.map(oneLine));
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  if (io.isTTY) fit(widths, io.columns);
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => cut(cell, widths[c]!).padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return `${cells.map(line).join("\n")}\n`;
}

/** Label: value lines, the labels aligned. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length)) + 1;
  return (
    shown
      .map(([k, v]) => {
        // A value of several lines (a stack, pretty JSON) goes on under its label, indented.
        const [first, ...more] = v.split("\n");
        return `${`${k}:`.padEnd(width)} ${first}${more.length > 0 ? `\n${indent(more.join("\n"))}` : ""}`;
      })
      .join("\n") + "\n"
  );
}

/** A value as the CLI shows it: JSON text, pretty on several lines when asked. */
export function show(value: unknown, pretty = false): string {
  if (value === undefined) return "";
  return JSON.stringify(value, null, pretty ? 2 : undefined) ?? typeof value;
}

export function time(d: Date | undefined): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

function fit(widths: number[], columns: number): void {
  const gaps = 2 * (widths.length - 1);
  // The first column (an ID, a name) keeps more of itself than the others.
  const min = (c: number): number => (c === 0 ? 12 : 3);
  let over = widths.reduce((a, b) => a + b, 0) + gaps - columns;
  while (over > 0) {
    let widest = -1;
    for (let c = 0; c < widths.length; c++) if (widths[c]! > min(c) && (widest < 0 || widths[c]! > widths[widest]!)) widest = c;
    if (widest < 0) return;
    widths[widest]!--;
    over--;
  }
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Control characters and line breaks of user data never reach the terminal as such. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, " ");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
