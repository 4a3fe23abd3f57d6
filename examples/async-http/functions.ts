/**
 * Pattern 3, async HTTP APIs: a long-running operation started by an HTTP call, with a status
 * endpoint the caller polls. `httpStart` (POST /api/orchestrators/{orchestratorName}) starts any
 * orchestration with the JSON body as its input and answers `202 Accepted` with the management
 * payload: `Location` points at the status URL, which answers 202 while the instance runs and 200
 * with the output once it is done. `httpSyncStart` (POST /api/orchestrators/wait/{orchestratorName})
 * waits up to `timeout` seconds and answers 200 with the output when the orchestration finishes in
 * time, the same 202 payload otherwise. These are the `httpStart` and `httpSyncStart` samples of
 * durable-functions.
 *
 * Two orchestrations to start with them: `processReport`, which takes a few seconds (three
 * activities with durable timers between them, and optionally an "Approve" event to wait for), and
 * `helloSequence`, which finishes at once.
 */
import * as df from "../../src/index.js";
import type { ActivityContext, DurableApp } from "../../src/index.js";

export const LONG_ORCHESTRATOR = "processReport";
export const QUICK_ORCHESTRATOR = "helloSequence";
/** The event `processReport` waits for when started with `requireApproval: true`. */
export const APPROVAL_EVENT = "Approve";

export interface ReportInput {
  /** The report's title. Default "Monthly sales". */
  report?: string;
  /** How long each of the two pauses between the steps lasts (a durable timer). Default 2000 ms. */
  stepDelayMs?: number;
  /** Wait for an "Approve" event (payload `{ by }`) before publishing, instead of the second pause. */
  requireApproval?: boolean;
}

export interface SalesRow {
  region: string;
  units: number;
}

export interface ReportOutput {
  report: string;
  rows: number;
  total: number;
  summary: string;
  location: string;
  approvedBy?: string;
}

/** The custom status `processReport` shows while it runs: what it is doing, and how many of its 3 steps are done. */
export interface ReportProgress {
  stage: "collecting data" | "rendering" | "waiting for approval" | "publishing" | "done";
  stepsDone: number;
  steps: 3;
}

/** The data `collectData` returns: a stand-in for a database query. */
export const SALES: readonly SalesRow[] = [
  { region: "North", units: 120 },
  { region: "South", units: 95 },
  { region: "East", units: 143 },
  { region: "West", units: 88 },
];

const DEFAULT_STEP_DELAY_MS = 2_000;

export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "report";
}

/** The error body of the host (`{ Message, error: { code, message } }`), for the answers the starters build themselves. */
function badRequest(code: string, message: string): { status: number; jsonBody: unknown } {
  return { status: 400, jsonBody: { Message: message, error: { code, message } } };
}

/** The request body as the orchestration input: empty means no input; anything else must be JSON. */
async function readInput(request: Request): Promise<{ input?: unknown } | { status: number; jsonBody: unknown }> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return { input: JSON.parse(text) as unknown };
  } catch (err) {
    return badRequest("INVALID_JSON", `The request body must be JSON (or empty for no input): ${(err as Error).message}`);
  }
}

/** A query parameter in seconds, as in the httpSyncStart sample; decimals allowed. */
function seconds(query: URLSearchParams, name: string, fallback: number): number | { status: number; jsonBody: unknown } {
  const text = query.get(name);
  if (text === null || text === "") return fallback;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0)) {
    return badRequest("INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be a positive number of seconds (got ${JSON.stringify(text.slice(0, 100))}).`);
  }
  return value;
}

export function register(app: DurableApp): void {
  // ── The HTTP starters ────────────────────────────────────────────────────────────────────────
  // authLevel "function": once the host has a key (--key / PERDURE_KEY), starting needs it too.
  // The 202 payload carries the key in its URLs, so an anonymous starter would hand it to anyone.

  app.client.http("httpStart", {
    route: "orchestrators/{orchestratorName}",
    methods: ["POST"],
    authLevel: "function",
    handler: async (request, client, context) => {
      const body = await readInput(request);
      if ("status" in body) return body;
      const instanceId = await client.startNew(request.params.orchestratorName ?? "", body);
      context.log(`Started orchestration with ID = '${instanceId}'.`);
      // 202, the management payload as JSON, Location = statusQueryGetUri, Retry-After: 10.
      return client.createCheckStatusResponse(request, instanceId);
    },
  });

  app.client.http("httpSyncStart", {
    route: "orchestrators/wait/{orchestratorName}",
    methods: ["POST"],
    authLevel: "function",
    handler: async (request, client, context) => {
      // Checked before starting anything, so a bad query never leaves an instance behind.
      const timeout = seconds(request.query, "timeout", 30);
      if (typeof timeout !== "number") return timeout;
      const retryInterval = seconds(request.query, "retryInterval", Math.min(1, timeout));
      if (typeof retryInterval !== "number") return retryInterval;
      if (retryInterval > timeout) {
        return badRequest("INVALID_QUERY_PARAMETER", `retryInterval (${retryInterval} s) must not be longer than timeout (${timeout} s).`);
      }
      const body = await readInput(request);
      if ("status" in body) return body;
      const instanceId = await client.startNew(request.params.orchestratorName ?? "", body);
      context.log(`Started orchestration with ID = '${instanceId}'.`);
      // Completed in time → 200 with the output; Failed → 500 with the status; still running → the 202 payload.
      return client.waitForCompletionOrCreateCheckStatusResponse(request, instanceId, {
        timeoutInMilliseconds: timeout * 1000,
        retryIntervalInMilliseconds: retryInterval * 1000,
      });
    },
  });

  // ── The long-running orchestration ───────────────────────────────────────────────────────────

  app.activity("collectData", {
    handler: (report: string, context: ActivityContext) => {
      context.log(`Collecting data for "${report}"`);
      return SALES;
    },
  });

  app.activity("renderReport", {
    handler: ({ report, rows }: { report: string; rows: SalesRow[] }) => {
      const total = rows.reduce((sum, r) => sum + r.units, 0);
      const best = rows.reduce((a, b) => (b.units > a.units ? b : a));
      return { total, summary: `${report}: ${total} units over ${rows.length} regions, best ${best.region} (${best.units})` };
    },
  });

  app.activity("publishReport", {
    handler: ({ report, summary }: { report: string; summary: string }, context: ActivityContext) => {
      // Stands in for an upload; the location is where the report would be.
      const location = `reports/${slug(report)}.txt`;
      context.log(`Published ${location}: ${summary}`);
      return location;
    },
  });

  app.orchestration(LONG_ORCHESTRATOR, function* (context) {
    const input = context.df.getInput<ReportInput | null>() ?? {};
    const report = input.report ?? "Monthly sales";
    const delay = input.stepDelayMs ?? DEFAULT_STEP_DELAY_MS;
    if (typeof report !== "string" || report === "") throw new Error("'report' must be a non-empty string.");
    if (typeof delay !== "number" || !(delay >= 0) || delay > 3_600_000) throw new Error("'stepDelayMs' must be a number of milliseconds from 0 to 3600000.");
    const progress = (stage: ReportProgress["stage"], stepsDone: number): void => context.df.setCustomStatus({ stage, stepsDone, steps: 3 } satisfies ReportProgress);
    // A durable timer: nothing runs while it waits, and it fires even if the host restarts in between.
    const pause = () => context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));

    progress("collecting data", 0);
    const rows: SalesRow[] = yield context.df.callActivity("collectData", report);

    progress("rendering", 1);
    yield pause();
    const rendered: { total: number; summary: string } = yield context.df.callActivity("renderReport", { report, rows });

    let approvedBy: string | undefined;
    if (input.requireApproval) {
      progress("waiting for approval", 2);
      const answer = (yield context.df.waitForExternalEvent(APPROVAL_EVENT)) as { by?: unknown } | null;
      approvedBy = typeof answer?.by === "string" ? answer.by : "anonymous";
    } else {
      progress("publishing", 2);
      yield pause();
    }

    progress("publishing", 2);
    const location: string = yield context.df.callActivity("publishReport", { report, summary: rendered.summary });
    progress("done", 3);
    const output: ReportOutput = { report, rows: rows.length, total: rendered.total, summary: rendered.summary, location };
    if (approvedBy !== undefined) output.approvedBy = approvedBy;
    return output;
  });

  // ── The quick one (the helloSequence sample) ────────────────────────────────────────────────

  app.activity("sayHello", { handler: (name: string) => `Hello ${name}` });

  app.orchestration(QUICK_ORCHESTRATOR, function* (context) {
    const outputs: string[] = [];
    for (const city of ["Tokyo", "Seattle", "Cairo"]) outputs.push(yield context.df.callActivity("sayHello", city));
    return outputs;
  });
}

register(df.app);
