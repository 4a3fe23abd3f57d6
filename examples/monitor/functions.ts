/**
 * Pattern 4, monitor: a recurring check with a durable timer, like the `weatherMonitor` sample, but
 * watching a local job file instead of a weather service. The orchestrator reads the job's status with
 * the `getJobStatus` activity every `pollingIntervalMs`; once the job is "ready" it calls `sendAlert`
 * and stops, and it gives up when the orchestration clock passes the expiry time. Progress is shown
 * with `setCustomStatus`, so `getStatus` (or the dashboard) tells how the monitor is doing.
 */
import { appendFile, readFile } from "node:fs/promises";
import * as df from "../../src/index.js";
import type { ActivityContext, DurableApp } from "../../src/index.js";

export const ORCHESTRATOR = "jobMonitor";

export interface MonitorInput {
  /** A JSON file `{ "status": "queued" | "running" | "ready" | ..., "progress"?: number }`; a missing file means "missing". */
  jobFile: string;
  /** Where the alert is appended, one line per alert. Default `<jobFile>.alert`. */
  alertFile?: string;
  /** Time between two checks. Default 30 s (as in the weatherMonitor sample). */
  pollingIntervalMs?: number;
  /** How long to keep watching, from the start of the orchestration. Default 6 hours. */
  timeoutMs?: number;
}

export interface JobStatus {
  status: string;
  ready: boolean;
  progress?: number;
}

export interface MonitorOutput {
  outcome: "ready" | "expired";
  checks: number;
}

export interface MonitorStatus {
  state: "waiting" | "ready" | "expired";
  checks: number;
  lastStatus: string;
  progress?: number;
  nextCheck?: string;
}

async function readJobStatus(jobFile: string): Promise<JobStatus> {
  let text: string;
  try {
    text = await readFile(jobFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { status: "missing", ready: false };
    throw err;
  }
  let job: { status?: unknown; progress?: unknown };
  try {
    job = JSON.parse(text) as typeof job;
  } catch {
    return { status: "unreadable", ready: false }; // e.g. caught in the middle of a write: look again next time
  }
  const status = typeof job.status === "string" ? job.status : "unknown";
  return typeof job.progress === "number" ? { status, ready: status === "ready", progress: job.progress } : { status, ready: status === "ready" };
}

export function register(app: DurableApp): void {
  app.activity("getJobStatus", { handler: (jobFile: string) => readJobStatus(jobFile) });

  app.activity("sendAlert", {
    handler: async ({ alertFile, message }: { alertFile: string; message: string }, context: ActivityContext) => {
      await appendFile(alertFile, `${message}\n`);
      context.log(message);
      return message;
    },
  });

  app.orchestration(ORCHESTRATOR, function* (context) {
    const input = context.df.getInput<MonitorInput | undefined>();
    if (!input?.jobFile) throw new Error("A jobFile input is required.");
    const interval = input.pollingIntervalMs ?? 30_000;
    const alertFile = input.alertFile ?? `${input.jobFile}.alert`;
    // currentUtcDateTime comes from the history: on every replay this line sees the same start time.
    const expiry = context.df.currentUtcDateTime.getTime() + (input.timeoutMs ?? 6 * 60 * 60 * 1000);

    let checks = 0;
    for (;;) {
      const job = (yield context.df.callActivity("getJobStatus", input.jobFile)) as JobStatus;
      checks++;
      const progress = job.progress === undefined ? {} : { progress: job.progress };
      if (job.ready) {
        context.df.setCustomStatus({ state: "ready", checks, lastStatus: job.status, ...progress } satisfies MonitorStatus);
        yield context.df.callActivity("sendAlert", { alertFile, message: `Job ${input.jobFile} is ready (after ${checks} checks).` });
        return { outcome: "ready", checks } satisfies MonitorOutput;
      }
      const now = context.df.currentUtcDateTime.getTime();
      if (now >= expiry) {
        context.df.setCustomStatus({ state: "expired", checks, lastStatus: job.status, ...progress } satisfies MonitorStatus);
        return { outcome: "expired", checks } satisfies MonitorOutput;
      }
      // Sleep durably until the next check, but never past the expiry time (a last check happens then).
      const nextCheck = new Date(Math.min(now + interval, expiry));
      context.df.setCustomStatus({ state: "waiting", checks, lastStatus: job.status, ...progress, nextCheck: nextCheck.toISOString() } satisfies MonitorStatus);
      yield context.df.createTimer(nextCheck);
    }
  });
}

register(df.app);
