import type { IncomingMessage, ServerResponse } from "node:http";
import type { DurableClientCore } from "../client/client-core.js";
import { createCheckStatus, type HttpEndpoint } from "../client/http-helpers.js";
import { type DurableOrchestrationStatus, payloadFromStatus } from "../client/status.js";
import { dfTime } from "../client/wire.js";
import { planControl } from "../core/control.js";
import { EntityId } from "../core/entity-id.js";
import { validateEventName, validateInstanceId } from "../core/instance-id.js";
import { ALL_RUNTIME_STATUSES, isTerminalStatus, type OrchestrationRuntimeStatus } from "../core/status.js";
import { errorBody, HttpError, sendJson } from "./http-error.js";
import { bodyText, isJsonContentType, parseJsonBody, Query, readBody, truncate } from "./request.js";

/** What the management API needs from the host: it calls the client and nothing else. */
export interface ManagementContext {
  client: DurableClientCore;
  endpoint: HttpEndpoint;
  maxBodyBytes: number;
  /** Whether an entity function of this name is registered. */
  entityExists: (name: string) => boolean;
}

type Handler = (ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, url: URL, params: string[]) => Promise<void>;

interface Route {
  method: string;
  /** Path segments after the base; `:x` captures one (decoded, non-empty) segment. */
  pattern: string[];
  handler: Handler;
}

const notFound = (what: string): HttpError => new HttpError(404, "INSTANCE_NOT_FOUND", what);
const gone = (id: string, status: string): HttpError =>
  new HttpError(410, "INSTANCE_GONE", `Instance '${id}' is already ${status}; it cannot be changed any more.`);

async function requireStatus(ctx: ManagementContext, id: string, options: { showInput?: boolean; showHistory?: boolean; showHistoryOutput?: boolean } = { showInput: false }): Promise<DurableOrchestrationStatus> {
  validateInstanceId(id);
  try {
    return await ctx.client.getStatus(id, options);
  } catch (err) {
    if ((err as { code?: string }).code === "INSTANCE_NOT_FOUND") throw notFound(`No instance with ID '${id}' found.`);
    throw err;
  }
}

function runtimeStatuses(q: Query): OrchestrationRuntimeStatus[] | undefined {
  const values = q.list("runtimeStatus");
  if (!values) return undefined;
  for (const v of values) {
    if (!(ALL_RUNTIME_STATUSES as string[]).includes(v)) {
      throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Unknown runtimeStatus ${JSON.stringify(truncate(v))}. Use one or more of: ${ALL_RUNTIME_STATUSES.join(", ")}.`);
    }
  }
  return values as OrchestrationRuntimeStatus[];
}

/** The shortest interval a synchronous start looks at storage again when nothing woke it. */
export const MIN_POLLING_INTERVAL_MS = 100;

interface StartOptions {
  wait?: { timeoutMs: number; intervalMs: number };
  failOn500: boolean;
}

/** Reads and checks a start's or restart's query before anything is started. */
function startOptions(q: Query): StartOptions {
  const timeout = q.seconds("timeout");
  const polling = q.seconds("pollingInterval");
  const failOn500 = q.boolean("returnInternalServerErrorOnFailure", false);
  if (timeout === undefined || polling === undefined) return { failOn500 };
  if (polling > timeout) throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Total timeout ${timeout} should be bigger than retry timeout ${polling}.`);
  const timeoutMs = timeout * 1000;
  // The commit that finishes the instance wakes the wait; the interval only bounds how long a commit
  // by another process goes unseen, so a tiny one would only load storage: it has a floor.
  return { failOn500, wait: { timeoutMs, intervalMs: Math.min(Math.max(MIN_POLLING_INTERVAL_MS, polling * 1000), Math.max(1, timeoutMs)) } };
}

/** Answers a start/restart: the 202 payload, or with timeout+pollingInterval the wait semantics. */
async function startedAnswer(ctx: ManagementContext, req: Request, res: ServerResponse, id: string, options: StartOptions): Promise<void> {
  let answer: Response;
  if (options.wait) {
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    answer = await ctx.client.waitForCompletionOrCreateCheckStatusResponse(
      req,
      id,
      { timeoutInMilliseconds: Math.max(options.wait.timeoutMs, options.wait.intervalMs), retryIntervalInMilliseconds: options.wait.intervalMs },
      gone.signal,
    );
    if (answer.status === 500 && !options.failOn500) answer = new Response(answer.body, { status: 200, headers: answer.headers });
  } else {
    answer = createCheckStatus(ctx.endpoint, req, id);
  }
  await pipeResponse(answer, res);
}

export async function pipeResponse(answer: Response, res: ServerResponse): Promise<void> {
  const body = Buffer.from(await answer.arrayBuffer());
  const headers: Record<string, string | string[]> = {};
  answer.headers.forEach((v, k) => (headers[k] = v));
  // Several cookies are several headers; Headers.forEach would keep only the last.
  const cookies = answer.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  headers["content-length"] = String(body.length);
  res.writeHead(answer.status, headers);
  res.end(body);
}

/** The WHATWG request the client helpers need to build URLs from the caller's origin. */
export function originRequest(req: IncomingMessage, url: URL): Request {
  return new Request(url, { method: "GET", headers: { host: req.headers.host ?? url.host } });
}

const routes: Route[] = [
  ...[["orchestrators", ":name"], ["orchestrators", ":name", ":id"]].map(
    (pattern): Route => ({
      method: "POST",
      pattern,
      handler: async (ctx, req, res, url, [name, instanceId]) => {
        // Every parameter is checked before anything is started: a bad one must not leave an instance behind.
        const started = startOptions(new Query(url.searchParams));
        if (instanceId !== undefined) validateInstanceId(instanceId);
        const body = parseJsonBody(await readBody(req, ctx.maxBodyBytes));
        const options: { instanceId?: string; input?: unknown; version?: string } = {};
        if (instanceId !== undefined) options.instanceId = instanceId;
        // Perdure's own: the instance's version, for remote clients that pass one (default: the host's).
        const version = url.searchParams.get("version");
        if (version !== null) options.version = version;
        if (body.present) options.input = body.value;
        const id = await ctx.client.startNew(name!, options);
        await startedAnswer(ctx, originRequest(req, url), res, id, started);
      },
    }),
  ),
  {
    method: "GET",
    pattern: ["instances", ":id"],
    handler: async (ctx, _req, res, url, [id]) => {
      const q = new Query(url.searchParams);
      const showHistory = q.boolean("showHistory", false);
      const showHistoryOutput = q.boolean("showHistoryOutput", false);
      const showInput = q.boolean("showInput", true);
      const failOn500 = q.boolean("returnInternalServerErrorOnFailure", false);
      const status = await requireStatus(ctx, id!, { showInput, showHistory, showHistoryOutput });
      const body = payloadFromStatus(status);
      if (!isTerminalStatus(status.runtimeStatus)) {
        sendJson(res, 202, body, { location: url.href, "retry-after": "5" });
      } else if (status.runtimeStatus === "Failed" && failOn500) {
        sendJson(res, 500, body);
      } else {
        sendJson(res, 200, body);
      }
    },
  },
  {
    method: "GET",
    pattern: ["instances"],
    handler: async (ctx, req, res, url) => {
      const q = new Query(url.searchParams);
      const filter = listFilter(q);
      const top = q.positiveInt("top");
      const showInput = q.boolean("showInput", true);
      const header = req.headers["x-ms-continuation-token"];
      const token = (Array.isArray(header) ? header[0] : header) || undefined;
      const page = await ctx.client.listInstances({
        ...filter,
        ...(token ? { continuationToken: token } : {}),
        pageSize: top ?? 100,
        showInput,
      });
      const headers: Record<string, string> = page.continuationToken ? { "x-ms-continuation-token": page.continuationToken } : {};
      sendJson(res, 200, page.instances.map((s) => payloadFromStatus(s)), headers);
    },
  },
  {
    // Perdure's own: a long history in pages, as stored (a timeline reads it so).
    method: "GET",
    pattern: ["instances", ":id", "history"],
    handler: async (ctx, _req, res, url, [id]) => {
      const q = new Query(url.searchParams);
      const from = q.position("from") ?? 0;
      const limit = q.positiveInt("limit") ?? 500;
      if (limit > 5_000) throw new HttpError(400, "INVALID_QUERY_PARAMETER", "Query parameter 'limit' must be at most 5000.");
      const page = await ctx.client.getHistoryPage(id!, { from, limit });
      sendJson(res, 200, page.nextFrom === undefined ? { events: page.events } : { events: page.events, nextFrom: page.nextFrom });
    },
  },
  {
    // Perdure's own: the counts a dashboard shows next to its list, computed by the store.
    method: "GET",
    pattern: ["counts"],
    handler: async (ctx, _req, res, url) => {
      const counts = await ctx.client.countInstances(listFilter(new Query(url.searchParams)));
      sendJson(res, 200, counts);
    },
  },
  {
    method: "DELETE",
    pattern: ["instances", ":id"],
    handler: async (ctx, _req, res, _url, [id]) => {
      validateInstanceId(id);
      const result = await ctx.client.purgeInstanceHistory(id!);
      if (result.instancesDeleted === 0) throw notFound(`No instance with ID '${id}' found.`);
      sendJson(res, 200, result);
    },
  },
  {
    method: "DELETE",
    pattern: ["instances"],
    handler: async (ctx, _req, res, url) => {
      const q = new Query(url.searchParams);
      const from = q.date("createdTimeFrom");
      if (!from) throw new HttpError(400, "INVALID_QUERY_PARAMETER", "Please provide value for 'createdTimeFrom' parameter.");
      const to = q.date("createdTimeTo") ?? new Date();
      const statuses = runtimeStatuses(q);
      const result = await ctx.client.purgeInstanceHistoryBy({ createdTimeFrom: from, createdTimeTo: to, ...(statuses ? { runtimeStatus: statuses } : {}) });
      if (result.instancesDeleted === 0) {
        sendJson(res, 404, { ...errorBody("INSTANCE_NOT_FOUND", "No finished instances matched the filter."), instancesDeleted: 0 });
        return;
      }
      sendJson(res, 200, result);
    },
  },
  {
    method: "POST",
    pattern: ["instances", ":id", "raiseEvent", ":event"],
    handler: async (ctx, req, res, _url, [id, event]) => {
      validateEventName(event);
      const status = await requireStatus(ctx, id!);
      if (planControl("raiseEvent", { ...status, instanceId: id! }).kind === "finished") throw gone(id!, status.runtimeStatus);
      const raw = await readBody(req, ctx.maxBodyBytes);
      if (!isJsonContentType(req)) throw new HttpError(400, "UNSUPPORTED_CONTENT_TYPE", "Only application/json request content is supported.");
      const body = parseJsonBody(raw);
      await ctx.client.raiseEvent(id!, event!, body.present ? body.value : undefined);
      res.writeHead(202, { "content-length": "0" }).end();
    },
  },
  ...(["terminate", "suspend", "resume", "rewind"] as const).map(
    (op): Route => ({
      method: "POST",
      pattern: ["instances", ":id", op],
      handler: async (ctx, req, res, url, [id]) => {
        await readBody(req, ctx.maxBodyBytes);
        const reason = url.searchParams.get("reason") ?? "";
        const status = await requireStatus(ctx, id!);
        // The same rule as the client's; the blocker of a failed rewind is the client's to check.
        const decision = planControl(op, { ...status, instanceId: id! });
        if (decision.kind === "finished") throw gone(id!, status.runtimeStatus);
        if (decision.kind === "refuse") throw decision.error;
        await ctx.client[op](id!, reason);
        res.writeHead(202, { "content-length": "0" }).end();
      },
    }),
  ),
  {
    method: "POST",
    pattern: ["instances", ":id", "restart"],
    handler: async (ctx, req, res, url, [id]) => {
      await readBody(req, ctx.maxBodyBytes);
      const q = new Query(url.searchParams);
      const newId = q.boolean("restartWithNewInstanceId", true);
      const started = startOptions(q);
      validateInstanceId(id);
      let restarted: string;
      try {
        restarted = await ctx.client.restart(id!, { restartWithNewInstanceId: newId });
      } catch (err) {
        if ((err as { code?: string }).code === "INSTANCE_NOT_FOUND") {
          throw new HttpError(400, "INVALID_ARGUMENT", "InstanceId does not match a valid orchestration instance.");
        }
        throw err;
      }
      await startedAnswer(ctx, originRequest(req, url), res, restarted, started);
    },
  },
  {
    method: "GET",
    pattern: ["entities", ":name", ":key"],
    handler: async (ctx, _req, res, _url, [name, key]) => {
      const id = new EntityId(name!, key!);
      const state = await ctx.client.readEntityState(id);
      if (!state.entityExists) {
        sendJson(res, 404, errorBody("ENTITY_NOT_FOUND", `Entity ${id.toString()} does not exist.`));
        return;
      }
      sendJson(res, 200, state.entityState ?? null);
    },
  },
  ...(["POST", "DELETE"] as const).map(
    (method): Route => ({
      method,
      pattern: ["entities", ":name", ":key"],
      handler: async (ctx, req, res, url, [name, key]) => {
        const q = new Query(url.searchParams);
        const signalTime = q.date("signalTime");
        const raw = await readBody(req, ctx.maxBodyBytes);
        const id = new EntityId(name!, key!);
        if (!ctx.entityExists(id.name)) {
          throw new HttpError(400, "FUNCTION_NOT_FOUND", `The function '${name}' doesn't exist, is disabled, or is not an entity function.`);
        }
        let op = "delete";
        let input: unknown;
        if (method === "POST") {
          op = url.searchParams.get("op") ?? "";
          if (op === "") throw new HttpError(400, "INVALID_QUERY_PARAMETER", "Query parameter 'op' (the operation name) is required.");
          if (raw.length > 0) {
            if (isJsonContentType(req)) {
              try {
                input = parseJsonBody(raw).value;
              } catch (err) {
                throw new HttpError(400, "INVALID_JSON", `Could not parse JSON content: ${(err as Error).message}`);
              }
            } else input = bodyText(raw);
          }
        }
        await ctx.client.signalEntity(id, op, input, signalTime ? { signalTime } : {});
        res.writeHead(202, { "content-length": "0" }).end();
      },
    }),
  ),
  ...[["entities"], ["entities", ":name"]].map(
    (pattern): Route => ({
      method: "GET",
      pattern,
      handler: async (ctx, req, res, url, [name]) => {
        const q = new Query(url.searchParams);
        const from = q.date("lastOperationTimeFrom");
        const to = q.date("lastOperationTimeTo");
        const top = q.positiveInt("top");
        const fetchState = q.boolean("fetchState", false);
        const header = req.headers["x-ms-continuation-token"];
        const token = (Array.isArray(header) ? header[0] : header) || undefined;
        const page = await ctx.client.listEntities({
          ...(name ? { entityName: name } : {}),
          ...(from ? { lastOperationTimeFrom: from } : {}),
          ...(to ? { lastOperationTimeTo: to } : {}),
          ...(token ? { continuationToken: token } : {}),
          pageSize: top ?? 100,
          fetchState,
        });
        const rows = page.entities.map((e) => ({
          entityId: { name: e.entityId.name, key: e.entityId.key },
          lastOperationTime: dfTime(e.lastOperationTime),
          ...(fetchState ? { state: e.state ?? null } : {}),
        }));
        sendJson(res, 200, rows, page.continuationToken ? { "x-ms-continuation-token": page.continuationToken } : {});
      },
    }),
  ),
  {
    // Perdure's own route (Durable Functions has it only on the .NET client): release orphaned locks, remove empty entities.
    method: "POST",
    pattern: ["entities"],
    handler: async (ctx, req, res) => {
      await readBody(req, ctx.maxBodyBytes);
      sendJson(res, 200, await ctx.client.cleanEntityStorage());
    },
  },
];

/** Matches the path after the base against the route table; method mismatches are 404 as in Durable Functions. */
export function matchRoute(method: string, segments: string[]): { handler: Handler; params: string[] } | undefined {
  for (const r of routes) {
    if (r.method !== method || r.pattern.length !== segments.length) continue;
    const params: string[] = [];
    let ok = true;
    r.pattern.forEach((p, i) => {
      const seg = segments[i]!;
      if (p.startsWith(":")) {
        if (seg === "") ok = false;
        params.push(seg);
      } else if (p !== seg) ok = false;
    });
    if (ok) return { handler: r.handler, params };
  }
  return undefined;
}

/** The list's filters from its query parameters (the list and the counts read them alike). */
function listFilter(q: Query): { runtimeStatus?: OrchestrationRuntimeStatus[]; createdTimeFrom?: Date; createdTimeTo?: Date; instanceIdPrefix?: string; name?: string; version?: string } {
  const statuses = runtimeStatuses(q);
  const from = q.date("createdTimeFrom");
  const to = q.date("createdTimeTo");
  const prefix = q.string("instanceIdPrefix");
  // Perdure's own: the orchestrator's name (Durable Functions' list has no such filter).
  const name = q.string("name");
  // Perdure's own too: the orchestration version the instances were started with, exactly.
  const version = q.string("version");
  return {
    ...(statuses ? { runtimeStatus: statuses } : {}),
    ...(from ? { createdTimeFrom: from } : {}),
    ...(to ? { createdTimeTo: to } : {}),
    ...(prefix ? { instanceIdPrefix: prefix } : {}),
    ...(name ? { name } : {}),
    ...(version ? { version } : {}),
  };
}
