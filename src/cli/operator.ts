import { parseArgs, type ParseArgsConfig } from "node:util";
import { EntityId } from "../core/entity-id.js";
import { DurableError } from "../core/errors.js";
import { connectClient, type OperatorClient, type OperatorTarget } from "../host/operator-client.js";
import { exportHistories } from "./export.js";
import { CliError, type CliIo } from "./io.js";
import { Progress } from "./progress.js";
import { fields, show, table, time } from "./table.js";

export const OPERATOR_USAGE = `Operator commands, against a running host (--url http://host:port [--key <secret>]) or a store (--store <url>):

  perdure instances list [--status Running,Failed] [--prefix <id prefix>] [--name <orchestrator>] [--app-version <v>]
                         [--created-from <time>] [--created-to <time>] [--top 100] [--all] [--continuation <token>]
  perdure instances count [the filters of list]
  perdure instances show <id>
  perdure instances history <id>
  perdure instances raise <id> <event> [--data <json>]
  perdure instances terminate|suspend|resume|rewind <id>... [--reason <text>]
  perdure instances restart <id>... [--same-id]
  perdure instances purge <id>...
  perdure instances export <id>... --out <dir>    (or a filter, or --all): histories to JSON files, for perdure replay
  perdure entities list [--name <entity name>] [--state] [--top 100] [--all] [--continuation <token>]
  perdure entities show <name> <key>
  perdure entities signal <name> <key> <operation> [--data <json>] [--at <time>]

  terminate, suspend, resume, rewind and purge also take the instances a filter selects instead of
  IDs (--status, --prefix, --name, --app-version, --created-from, --created-to), with --yes.
  --app-version selects the instances started with that orchestration version (context.df.version).
  --json      print JSON for scripts instead of tables
  --url       the host's URL (env PERDURE_URL); --key its management key (env PERDURE_KEY)
  --store     a store URL (env PERDURE_STORE): sqlite:<path>, postgres://...`;

const COMMON = {
  url: { type: "string" },
  key: { type: "string" },
  store: { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

const FILTER = {
  status: { type: "string" },
  prefix: { type: "string" },
  name: { type: "string" },
  "app-version": { type: "string" },
  "created-from": { type: "string" },
  "created-to": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

const PAGING = {
  top: { type: "string" },
  all: { type: "boolean" },
  continuation: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

const STATUSES = ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Suspended"] as const;
type Status = (typeof STATUSES)[number];

type Values = Record<string, string | boolean | undefined>;

interface Parsed {
  values: Values;
  positionals: string[];
}

function parse(command: string, argv: string[], options: ParseArgsConfig["options"]): Parsed {
  try {
    const r = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...COMMON, ...options } });
    return { values: r.values, positionals: r.positionals };
  } catch (err) {
    throw new CliError(`perdure ${command}: ${(err as Error).message}. See 'perdure --help'.`, 2);
  }
}

function text(v: Values, flag: string): string | undefined {
  const x = v[flag];
  return typeof x === "string" ? x : undefined;
}

function targetOf(command: string, v: Values, env: NodeJS.ProcessEnv, cwd: string): OperatorTarget {
  const url = text(v, "url") ?? (text(v, "store") === undefined ? env.PERDURE_URL : undefined);
  const store = text(v, "store") ?? (url === undefined ? env.PERDURE_STORE : undefined);
  if (url !== undefined && store !== undefined) throw new CliError(`perdure ${command}: give --url or --store, not both.`, 2);
  if (url !== undefined) {
    const key = text(v, "key") ?? env.PERDURE_KEY;
    return key ? { url, key } : { url };
  }
  if (store !== undefined) return { store, cwd };
  throw new CliError(`perdure ${command}: name the host (--url http://127.0.0.1:7071, or PERDURE_URL) or the store (--store sqlite:.perdure/perdure.db, or PERDURE_STORE).`, 2);
}

function dateFlag(command: string, v: Values, flag: string): Date | undefined {
  const x = text(v, flag);
  if (x === undefined) return undefined;
  const d = new Date(x);
  if (Number.isNaN(d.getTime())) throw new CliError(`perdure ${command}: invalid --${flag} '${x}': use an ISO time such as 2026-12-06T10:00:00Z.`, 2);
  return d;
}

function statusFlag(command: string, v: Values): Status[] | undefined {
  const x = text(v, "status");
  if (x === undefined) return undefined;
  return x.split(",").map((s) => {
    const found = STATUSES.find((k) => k.toLowerCase() === s.trim().toLowerCase());
    if (!found) throw new CliError(`perdure ${command}: unknown status '${s}': use ${STATUSES.join(", ")}.`, 2);
    return found;
  });
}

function topFlag(command: string, v: Values): number {
  const x = text(v, "top");
  if (x === undefined) return 100;
  if (!/^\d+$/.test(x) || Number(x) < 1 || Number(x) > 1000) throw new CliError(`perdure ${command}: invalid --top '${x}': use a number from 1 to 1000 (--all follows every page).`, 2);
  return Number(x);
}

function dataFlag(command: string, v: Values): unknown {
  const x = text(v, "data");
  if (x === undefined) return undefined;
  try {
    return JSON.parse(x) as unknown;
  } catch {
    throw new CliError(`perdure ${command}: --data must be JSON (a string is quoted: --data '"text"').`, 2);
  }
}

function filterOf(command: string, v: Values): { runtimeStatus?: Status[]; instanceIdPrefix?: string; createdTimeFrom?: Date; createdTimeTo?: Date; name?: string; version?: string } {
  const runtimeStatus = statusFlag(command, v);
  const prefix = text(v, "prefix");
  const name = text(v, "name");
  const version = text(v, "app-version");
  const from = dateFlag(command, v, "created-from");
  const to = dateFlag(command, v, "created-to");
  return {
    ...(runtimeStatus ? { runtimeStatus } : {}),
    ...(prefix ? { instanceIdPrefix: prefix } : {}),
    ...(from ? { createdTimeFrom: from } : {}),
    ...(to ? { createdTimeTo: to } : {}),
    ...(name ? { name } : {}),
    ...(version ? { version } : {}),
  };
}

/** Runs `perdure instances ...` or `perdure entities ...`; returns the exit code. */
export async function operator(group: "instances" | "entities", argv: string[], io: CliIo, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const [verb, ...rest] = argv;
  const command = `${group} ${verb ?? ""}`.trim();
  const run = group === "instances" ? INSTANCE_COMMANDS[verb ?? ""] : ENTITY_COMMANDS[verb ?? ""];
  if (!run) {
    const verbs = Object.keys(group === "instances" ? INSTANCE_COMMANDS : ENTITY_COMMANDS).join(", ");
    throw new CliError(`perdure ${group}: ${verb === undefined ? "missing command" : `unknown command '${verb}'`}: use ${verbs}.`, 2);
  }
  const parsed = parse(command, rest, run.options);
  const target = targetOf(command, parsed.values, env, cwd);
  let client: OperatorClient;
  try {
    client = await connectClient(target);
  } catch (err) {
    throw new CliError(`perdure ${command}: ${(err as Error).message}`);
  }
  try {
    return await run.run({ command, io, client, json: parsed.values.json === true, values: parsed.values, args: parsed.positionals, cwd });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`perdure ${command}: ${describe(err, client.where)}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

function describe(err: unknown, where: string): string {
  if (err instanceof DurableError) {
    const status = (err as { status?: unknown }).status;
    if (err.code === "HTTP_ERROR" && status === undefined) return `cannot reach ${where}: ${err.message}`;
    return `${err.message} (${err.code})`;
  }
  return (err as Error)?.message ?? String(err);
}

interface Ctx {
  command: string;
  io: CliIo;
  client: OperatorClient;
  json: boolean;
  values: Values;
  args: string[];
  cwd: string;
}

interface Command {
  options: ParseArgsConfig["options"];
  run(ctx: Ctx): Promise<number>;
}

function args(ctx: Ctx, names: string[], more = false): string[] {
  if (ctx.args.length < names.length) throw new CliError(`perdure ${ctx.command}: missing <${names[ctx.args.length]}>.`, 2);
  if (!more && ctx.args.length > names.length) throw new CliError(`perdure ${ctx.command}: unexpected argument '${ctx.args[names.length]}'.`, 2);
  return ctx.args;
}

/** A history field as text: strings as they are, anything else as JSON. */
function plain(v: unknown): string {
  return v === undefined || v === null ? "" : typeof v === "string" ? v : show(v);
}

function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

// ---- instances ----

const INSTANCE_COMMANDS: Record<string, Command> = {
  list: {
    options: { ...FILTER, ...PAGING },
    async run(ctx) {
      const filter = filterOf(ctx.command, ctx.values);
      const top = topFlag(ctx.command, ctx.values);
      let token = text(ctx.values, "continuation");
      const rows = [];
      do {
        const page = await ctx.client.client.listInstances({ ...filter, pageSize: top, showInput: false, ...(token ? { continuationToken: token } : {}) });
        rows.push(...page.instances);
        token = page.continuationToken;
      } while (token && ctx.values.all === true);
      if (ctx.json) {
        printJson(ctx.io, { instances: rows.map(statusJson), ...(token ? { continuationToken: token } : {}) });
        return 0;
      }
      // The version column only when some instance has one: an app that does not version reads as before.
      const versioned = rows.some((s) => s.version !== undefined);
      ctx.io.out(
        table(
          ctx.io,
          ["INSTANCE", "NAME", "STATUS", ...(versioned ? ["VERSION"] : []), "CREATED", "UPDATED"],
          rows.map((s) => [
            s.instanceId,
            s.name,
            s.parked ? `${s.runtimeStatus} (parked: ${s.parked.code})` : s.runtimeStatus,
            ...(versioned ? [s.version ?? "-"] : []),
            time(s.createdTime),
            time(s.lastUpdatedTime),
          ]),
        ),
      );
      ctx.io.err(`${rows.length} instance${rows.length === 1 ? "" : "s"}${token ? `; more with --continuation ${token} (or --all)` : ""}\n`);
      return 0;
    },
  },
  count: {
    options: FILTER,
    async run(ctx) {
      args(ctx, []);
      const counts = await ctx.client.client.countInstances(filterOf(ctx.command, ctx.values));
      if (ctx.json) {
        printJson(ctx.io, counts);
        return 0;
      }
      const rows = Object.entries(counts).filter(([, n]) => n > 0);
      const total = rows.reduce((a, [, n]) => a + n, 0);
      ctx.io.out(table(ctx.io, ["STATUS", "INSTANCES"], [...rows.map(([s, n]) => [s, String(n)]), ["total", String(total)]]));
      return 0;
    },
  },
  show: {
    options: {},
    async run(ctx) {
      const [id] = args(ctx, ["id"]);
      const s = await ctx.client.client.getStatus(id!);
      if (ctx.json) {
        printJson(ctx.io, statusJson(s));
        return 0;
      }
      const f = s.failureDetails;
      ctx.io.out(
        fields([
          ["Instance", s.instanceId],
          ["Name", s.name],
          ["Status", s.runtimeStatus],
          ["Execution", s.executionId],
          ["Version", s.version],
          ["Created", time(s.createdTime)],
          ["Updated", time(s.lastUpdatedTime)],
          ["Parent", s.parentInstanceId],
          ["Parked", s.parked ? `${s.parked.code} since ${time(s.parked.since)}, ${s.parked.attempts} attempts${s.parked.retryAt ? `, next retry ${time(s.parked.retryAt)}` : ""}: ${s.parked.message}` : undefined],
          ["Input", s.input === undefined ? undefined : show(s.input, ctx.io.isTTY)],
          ["Output", s.output === undefined || s.output === null ? undefined : show(s.output, ctx.io.isTTY)],
          ["Custom status", s.customStatus === undefined || s.customStatus === null ? undefined : show(s.customStatus, ctx.io.isTTY)],
          ["Failure", f ? `${f.errorType ?? "Error"}: ${f.errorMessage}${f.stackTrace ? `\n${f.stackTrace}` : ""}` : undefined],
        ]),
      );
      return 0;
    },
  },
  history: {
    options: {},
    async run(ctx) {
      const [id] = args(ctx, ["id"]);
      const s = await ctx.client.client.getStatus(id!, { showHistory: true, showHistoryOutput: true });
      const history = s.history ?? [];
      if (ctx.json) {
        printJson(ctx.io, history);
        return 0;
      }
      ctx.io.out(
        table(
          ctx.io,
          ["#", "TIME", "EVENT", "NAME", "DETAILS"],
          history.map((row, i) => {
            const { Timestamp, EventType, FunctionName, Name, ...rest } = row;
            return [String(i), plain(Timestamp), plain(EventType), plain(FunctionName ?? Name), Object.keys(rest).length > 0 ? show(rest) : ""];
          }),
        ),
      );
      return 0;
    },
  },
  raise: {
    options: { data: { type: "string" } },
    async run(ctx) {
      const [id, event] = args(ctx, ["id", "event"]);
      await ctx.client.client.raiseEvent(id!, event!, dataFlag(ctx.command, ctx.values));
      return report(ctx, "raised", [{ instanceId: id!, ok: true, message: `event '${event}'` }]);
    },
  },
  terminate: control("terminate", "terminated", (c, id, reason) => c.terminate(id, reason)),
  suspend: control("suspend", "suspended", (c, id, reason) => c.suspend(id, reason)),
  resume: control("resume", "resumed", (c, id, reason) => c.resume(id, reason)),
  rewind: control("rewind", "rewound", (c, id, reason) => c.rewind(id, reason)),
  restart: {
    options: { "same-id": { type: "boolean" } },
    async run(ctx) {
      const ids = args(ctx, ["id"], true);
      const same = ctx.values["same-id"] === true;
      return bulk(ctx, ids, "restarted", async (id) => {
        const next = await ctx.client.client.restart(id, { restartWithNewInstanceId: !same });
        return `as ${next}`;
      });
    },
  },
  purge: {
    options: { ...FILTER, yes: { type: "boolean" } },
    async run(ctx) {
      const ids = await selection(ctx);
      return bulk(ctx, ids, "purged", async (id) => {
        const r = await ctx.client.client.purgeInstanceHistory(id);
        if (r.instancesDeleted === 0) throw new DurableError("INSTANCE_NOT_FOUND", `No instance '${id}' to purge (purge takes finished instances).`);
        return undefined;
      });
    },
  },
  export: {
    options: { ...FILTER, out: { type: "string" }, all: { type: "boolean" } },
    run: (ctx) => exportHistories(ctx, filterOf(ctx.command, ctx.values)),
  },
};

type ClientOf = OperatorClient["client"];

function control(verb: string, done: string, op: (c: ClientOf, id: string, reason: string) => Promise<void>): Command {
  return {
    options: { ...FILTER, reason: { type: "string" }, yes: { type: "boolean" } },
    async run(ctx) {
      const ids = await selection(ctx);
      const reason = text(ctx.values, "reason") ?? `${verb} from the perdure CLI`;
      return bulk(ctx, ids, done, async (id) => {
        await op(ctx.client.client, id, reason);
        return undefined;
      });
    },
  };
}

/** The instances a bulk command acts on: the IDs given, or those a filter selects (with --yes). */
async function selection(ctx: Ctx): Promise<string[]> {
  const filter = filterOf(ctx.command, ctx.values);
  const filtered = Object.keys(filter).length > 0;
  if (ctx.args.length > 0 && filtered) throw new CliError(`perdure ${ctx.command}: give instance IDs or a filter (--status, --prefix, --name, --app-version, --created-from, --created-to), not both.`, 2);
  if (ctx.args.length > 0) return ctx.args;
  if (!filtered) throw new CliError(`perdure ${ctx.command}: missing <id>, or a filter (--status, --prefix, --name, --app-version, --created-from, --created-to) with --yes.`, 2);
  const ids = (await ctx.client.client.getStatusBy({ ...filter, showInput: false })).map((s) => s.instanceId);
  if (ctx.values.yes !== true) {
    throw new CliError(`perdure ${ctx.command}: the filter selects ${ids.length} instance${ids.length === 1 ? "" : "s"}; add --yes to go ahead.`, 2);
  }
  return ids;
}

interface Outcome {
  instanceId: string;
  ok: boolean;
  message?: string;
  code?: string;
}

async function bulk(ctx: Ctx, ids: string[], done: string, op: (id: string) => Promise<string | undefined>): Promise<number> {
  const progress = new Progress(ctx.io, ids.length, done);
  const outcomes: Outcome[] = [];
  // A few at a time: fast over HTTP, gentle on the host.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        const message = await op(id);
        outcomes.push({ instanceId: id, ok: true, ...(message ? { message } : {}) });
        progress.tick(true);
      } catch (err) {
        outcomes.push({ instanceId: id, ok: false, message: (err as Error).message, ...(err instanceof DurableError ? { code: err.code } : {}) });
        progress.tick(false);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
  progress.finish();
  const order = new Map(ids.map((id, i) => [id, i]));
  outcomes.sort((a, b) => order.get(a.instanceId)! - order.get(b.instanceId)!);
  return report(ctx, done, outcomes);
}

function report(ctx: Ctx, done: string, outcomes: Outcome[]): number {
  const failed = outcomes.filter((o) => !o.ok);
  if (ctx.json) {
    printJson(ctx.io, {
      [done]: outcomes.filter((o) => o.ok).map((o) => (o.message ? { instanceId: o.instanceId, message: o.message } : { instanceId: o.instanceId })),
      failed: failed.map((o) => ({ instanceId: o.instanceId, code: o.code, message: o.message })),
    });
  } else {
    for (const o of outcomes) ctx.io.out(o.ok ? `${done} ${o.instanceId}${o.message ? ` ${o.message}` : ""}\n` : `failed ${o.instanceId}: ${o.message}\n`);
    if (outcomes.length > 1) ctx.io.err(`${outcomes.length - failed.length} of ${outcomes.length} ${done}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

function statusJson(s: Awaited<ReturnType<ClientOf["getStatus"]>>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
}

// ---- entities ----

const ENTITY_COMMANDS: Record<string, Command> = {
  list: {
    options: { name: { type: "string" }, state: { type: "boolean" }, ...PAGING },
    async run(ctx) {
      const name = text(ctx.values, "name");
      const top = topFlag(ctx.command, ctx.values);
      let token = text(ctx.values, "continuation");
      const rows = [];
      do {
        const page = await ctx.client.client.listEntities({ ...(name ? { entityName: name } : {}), pageSize: top, fetchState: ctx.values.state === true, ...(token ? { continuationToken: token } : {}) });
        rows.push(...page.entities);
        token = page.continuationToken;
      } while (token && ctx.values.all === true);
      if (ctx.json) {
        printJson(ctx.io, {
          entities: rows.map((e) => ({ name: e.entityId.name, key: e.entityId.key, lastOperationTime: e.lastOperationTime, ...("state" in e ? { state: e.state } : {}) })),
          ...(token ? { continuationToken: token } : {}),
        });
        return 0;
      }
      const withState = ctx.values.state === true;
      ctx.io.out(
        table(
          ctx.io,
          ["NAME", "KEY", "LAST OPERATION", ...(withState ? ["STATE"] : [])],
          rows.map((e) => [e.entityId.name, e.entityId.key, time(e.lastOperationTime), ...(withState ? [show(e.state)] : [])]),
        ),
      );
      ctx.io.err(`${rows.length} entit${rows.length === 1 ? "y" : "ies"}${token ? `; more with --continuation ${token} (or --all)` : ""}\n`);
      return 0;
    },
  },
  show: {
    options: {},
    async run(ctx) {
      const id = entityIdOf(ctx);
      const r = await ctx.client.client.readEntityState(id);
      if (ctx.json) {
        printJson(ctx.io, { name: id.name, key: id.key, ...r });
        return r.entityExists ? 0 : 1;
      }
      if (!r.entityExists) {
        ctx.io.err(`perdure ${ctx.command}: entity ${id.toString()} does not exist (or holds no state).\n`);
        return 1;
      }
      ctx.io.out(fields([["Entity", id.toString()], ["State", show(r.entityState, ctx.io.isTTY)]]));
      return 0;
    },
  },
  signal: {
    options: { data: { type: "string" }, at: { type: "string" } },
    async run(ctx) {
      const [name, key, operation] = args(ctx, ["name", "key", "operation"]);
      const id = entity(ctx, name!, key!);
      const at = dateFlag(ctx.command, ctx.values, "at");
      await ctx.client.client.signalEntity(id, operation!, dataFlag(ctx.command, ctx.values), at ? { signalTime: at } : {});
      const what = id.toString();
      if (ctx.json) printJson(ctx.io, { signaled: { name: id.name, key: id.key, operation, ...(at ? { signalTime: at } : {}) } });
      else ctx.io.out(`signaled ${what} ${operation}${at ? ` at ${time(at)}` : ""}\n`);
      return 0;
    },
  },
};

/** `<name> <key>`, or the instance ID form `@name@key`. */
function entityIdOf(ctx: Ctx): EntityId {
  if (ctx.args.length === 1 && ctx.args[0]!.startsWith("@")) {
    try {
      return EntityId.fromInstanceId(ctx.args[0]!);
    } catch (err) {
      throw new CliError(`perdure ${ctx.command}: ${(err as Error).message}`, 2);
    }
  }
  const [name, key] = args(ctx, ["name", "key"]);
  return entity(ctx, name!, key!);
}

function entity(ctx: Ctx, name: string, key: string): EntityId {
  try {
    return new EntityId(name, key);
  } catch (err) {
    throw new CliError(`perdure ${ctx.command}: ${(err as Error).message}`, 2);
  }
}
