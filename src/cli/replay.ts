import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { app } from "../app.js";
import { HISTORY_EXPORT_FORMAT, replayHistories, type ExportedHistory, type ReplayResult } from "../runtime/replay-check.js";
import { entryFiles, loadEntryFiles } from "./entry.js";
import { CliError, type CliIo } from "./io.js";
import { installPackageAliases } from "./package-aliases.js";

export const REPLAY_USAGE = `Safe deploys: replay exported histories against the app's current code (a CI check):

  perdure replay <entry> <file.json | folder>... [--json]

  <entry> is the app, as for perdure start (a file, or a folder with a package.json); the files are
  histories written by 'perdure instances export'. Exit code 0: every history replays; 1: the code
  diverges from at least one history (each divergence is printed: event index, what the history
  recorded, what the code does now, and where); 2: a mistake in the command.`;

/** A history file read and checked: the instance and its events. */
interface HistoryFile extends ExportedHistory {
  file: string;
}

/** Runs `perdure replay <entry> <files...>`; returns the exit code. */
export async function replay(argv: string[], io: CliIo, cwd: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { json: { type: "boolean" } } });
  } catch (err) {
    throw new CliError(`perdure replay: ${(err as Error).message.split("\n")[0]} ('perdure --help' shows the command).`, 2);
  }
  const [entry, ...paths] = parsed.positionals;
  if (entry === undefined) throw new CliError("perdure replay: missing <entry>: perdure replay <entry> <history files or folders>... (write them with perdure instances export).", 2);
  if (paths.length === 0) throw new CliError("perdure replay: missing history files: perdure replay <entry> <history files or folders>... (write them with perdure instances export).", 2);
  const histories = await readHistories(paths, cwd);
  const files = await entryFiles(entry, cwd);
  await installPackageAliases();
  await loadEntryFiles(files, entry);
  const results = replayHistories(app, histories);
  const diverged = results.filter((r) => !r.ok).length;
  if (parsed.values.json === true) {
    io.out(`${JSON.stringify({ ok: results.length - diverged, diverged, results: results.map((r, i) => ({ file: histories[i]!.file, ...r })) }, null, 2)}\n`);
  } else {
    for (const [i, r] of results.entries()) io.out(line(r, histories[i]!.file));
    io.err(`${results.length} histor${results.length === 1 ? "y" : "ies"} replayed: ${results.length - diverged} ok, ${diverged} diverged\n`);
  }
  return diverged > 0 ? 1 : 0;
}

function line(r: ReplayResult, file: string): string {
  const who = `${r.instanceId} (${r.name || "?"})`;
  if (r.ok) return `ok       ${who}\n`;
  const rows = [`DIVERGED ${who} at event ${r.eventIndex} (${r.code}), ${file}`, `  recorded: ${r.recorded}`, `  now:      ${r.now}`];
  if (r.source) rows.push(`  source:   ${r.source}`);
  return `${rows.join("\n")}\n`;
}

/** The history files named (folders: their .json files, in name order), read and checked. */
async function readHistories(paths: readonly string[], cwd: string): Promise<HistoryFile[]> {
  const files: string[] = [];
  for (const p of paths) {
    const full = resolve(cwd, p);
    const s = await stat(full).catch(() => undefined);
    if (!s) throw new CliError(`perdure replay: '${p}' not found (looked for ${full}).`, 2, "HISTORY_FILE_NOT_FOUND");
    if (!s.isDirectory()) {
      files.push(full);
      continue;
    }
    const inside = (await readdir(full)).filter((f) => f.endsWith(".json")).sort();
    if (inside.length === 0) throw new CliError(`perdure replay: the folder '${p}' holds no .json history files (write them with perdure instances export --out ${p}).`, 2, "HISTORY_FILE_NOT_FOUND");
    files.push(...inside.map((f) => join(full, f)));
  }
  const out: HistoryFile[] = [];
  for (const full of files) out.push(parseHistoryFile(relative(cwd, full) || full, await readFile(full, "utf8")));
  return out;
}

function parseHistoryFile(file: string, text: string): HistoryFile {
  const bad = (why: string): CliError => new CliError(`perdure replay: ${file} ${why}.`, 2, "HISTORY_FILE_INVALID");
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (err) {
    throw bad(`is not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad(`is not a history file: a JSON object with format "${HISTORY_EXPORT_FORMAT}" is expected (write them with perdure instances export)`);
  const d = doc as Record<string, unknown>;
  if (d.format !== HISTORY_EXPORT_FORMAT) throw bad(`has format ${JSON.stringify(d.format)}, not "${HISTORY_EXPORT_FORMAT}" (write history files with perdure instances export)`);
  if (typeof d.instanceId !== "string" || d.instanceId === "") throw bad(`has no "instanceId"`);
  if (!Array.isArray(d.history)) throw bad(`has no "history" array`);
  const at = d.history.findIndex((e) => typeof e !== "object" || e === null || typeof (e as { type?: unknown }).type !== "string");
  if (at >= 0) throw bad(`holds an event that is not a history event (an object with a "type") at index ${at}`);
  return { file, format: HISTORY_EXPORT_FORMAT, instanceId: d.instanceId, ...(typeof d.name === "string" ? { name: d.name } : {}), history: d.history as ExportedHistory["history"] };
}
