import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isDurableError } from "../core/errors.js";
import type { HistoryEvent } from "../core/history.js";
import type { OperatorClient } from "../host/operator-client.js";
import { HISTORY_EXPORT_FORMAT } from "../runtime/replay-check.js";
import { CliError, type CliIo } from "./io.js";
import { Progress } from "./progress.js";

type Client = OperatorClient["client"];

/** What `perdure instances export` gets from the operator CLI. */
export interface ExportContext {
  command: string;
  io: CliIo;
  client: OperatorClient;
  json: boolean;
  values: Record<string, string | boolean | undefined>;
  args: string[];
  cwd: string;
}

/** The file name of an instance's history: the ID with anything unsafe in a file name percent-encoded. */
export function historyFileName(instanceId: string): string {
  const safe = instanceId.replace(/[^A-Za-z0-9_.-]|^\./g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  if (safe.length <= 200) return `${safe}.json`;
  return `${safe.slice(0, 150)}~${createHash("sha256").update(instanceId).digest("hex").slice(0, 16)}.json`;
}

interface Exported {
  instanceId: string;
  name: string;
  events: number;
  file: string;
}

/**
 * `perdure instances export`: the stored history (the current execution's events, as the store keeps
 * them) of each instance given or selected, one JSON file per instance in --out, for `perdure replay`.
 */
export async function exportHistories(ctx: ExportContext, filter: Omit<Parameters<Client["getStatusBy"]>[0], "showInput">): Promise<number> {
  const out = ctx.values.out;
  if (typeof out !== "string" || out === "") throw new CliError(`perdure ${ctx.command}: missing --out <dir>: the folder to write the history files to.`, 2);
  const filtered = Object.keys(filter).length > 0;
  const all = ctx.values.all === true;
  if (ctx.args.length > 0 && (filtered || all)) throw new CliError(`perdure ${ctx.command}: give instance IDs or a filter (--status, --prefix, --name, --created-from, --created-to, --all), not both.`, 2);
  if (ctx.args.length === 0 && !filtered && !all) {
    throw new CliError(`perdure ${ctx.command}: missing <id>, or a filter (--status, --prefix, --name, --created-from, --created-to), or --all for every instance.`, 2);
  }
  const selected: { instanceId: string; name?: string }[] =
    ctx.args.length > 0 ? ctx.args.map((instanceId) => ({ instanceId })) : (await ctx.client.client.getStatusBy({ ...filter, showInput: false })).map((s) => ({ instanceId: s.instanceId, name: s.name }));
  const dir = resolve(ctx.cwd, out);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`perdure ${ctx.command}: cannot create the folder '${out}': ${(err as Error).message}`, 1, "EXPORT_FAILED");
  }
  const progress = new Progress(ctx.io, selected.length, "exported");
  const done: Exported[] = [];
  const failed: { instanceId: string; code?: string; message: string }[] = [];
  const taken = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < selected.length) {
      const { instanceId, name } = selected[next++]!;
      try {
        const history = await readHistory(ctx.client.client, instanceId);
        const started = history.find((e) => e.type === "ExecutionStarted");
        const fnName = started?.type === "ExecutionStarted" ? started.name : (name ?? (await ctx.client.client.getStatus(instanceId, { showInput: false })).name);
        let file = historyFileName(instanceId);
        // IDs differing only in case would share a file on a case-insensitive file system.
        if (taken.has(file.toLowerCase())) file = file.replace(/\.json$/, `~${createHash("sha256").update(instanceId).digest("hex").slice(0, 8)}.json`);
        taken.add(file.toLowerCase());
        await writeFile(join(dir, file), `${JSON.stringify({ format: HISTORY_EXPORT_FORMAT, instanceId, name: fnName, history }, null, 2)}\n`);
        done.push({ instanceId, name: fnName, events: history.length, file: join(out, file) });
        progress.tick(true);
      } catch (err) {
        failed.push({ instanceId, message: (err as Error)?.message ?? String(err), ...(isDurableError(err) ? { code: err.code } : {}) });
        progress.tick(false);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, selected.length) }, worker));
  progress.finish();
  const order = new Map(selected.map((s, i) => [s.instanceId, i]));
  done.sort((a, b) => order.get(a.instanceId)! - order.get(b.instanceId)!);
  failed.sort((a, b) => order.get(a.instanceId)! - order.get(b.instanceId)!);
  if (ctx.json) {
    ctx.io.out(`${JSON.stringify({ out: dir, exported: done, failed }, null, 2)}\n`);
  } else {
    for (const e of done) ctx.io.out(`exported ${e.instanceId} (${e.name}, ${e.events} events) to ${e.file}\n`);
    for (const f of failed) ctx.io.out(`failed ${f.instanceId}: ${f.message}\n`);
    ctx.io.err(`${done.length} of ${selected.length} histor${selected.length === 1 ? "y" : "ies"} exported to ${out}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

/** Every event of an instance's stored history, page by page (1,000 a page: the client asks the HTTP route for one more than the page, and the route takes at most 5,000). */
async function readHistory(client: Client, instanceId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let from: number | undefined = 0;
  while (from !== undefined) {
    const page: { events: HistoryEvent[]; nextFrom?: number } = await client.getHistoryPage(instanceId, { from, limit: 1_000 });
    events.push(...page.events);
    from = page.nextFrom;
  }
  return events;
}
