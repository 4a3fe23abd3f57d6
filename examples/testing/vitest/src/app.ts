/**
 * The app under test: an approval that waits for an "Approval" event or a 72-hour durable timer,
 * whichever comes first, and a monitor that checks a job every hour until it is done (a day at
 * most). Serve it with `perdure start` as any app; the tests run it on perdure/testing's host.
 */
import * as df from "perdure";
import type { OrchestrationContext, Task } from "perdure";

export const HOUR = 60 * 60 * 1000;

export const app = df.createApp();

export interface ApprovalRequest {
  request: string;
  approver: string;
}

export type ApprovalOutcome = "approved" | "rejected" | "timed out";

// Stands in for an e-mail or chat message to the approver.
app.activity("sendApprovalRequest", {
  handler: (input: ApprovalRequest & { deadline: string }) => `asked ${input.approver} to approve "${input.request}" by ${input.deadline}`,
});

export function* approval(context: OrchestrationContext): Generator<Task, ApprovalOutcome, unknown> {
  const input = context.df.getInput<ApprovalRequest>();
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + 72 * HOUR);
  yield context.df.callActivity("sendApprovalRequest", { ...input, deadline: deadline.toISOString() });

  const timeout = context.df.createTimer(deadline);
  const answer = context.df.waitForExternalEvent("Approval");
  const winner = yield context.df.Task.any([answer, timeout]);
  if (winner === timeout) return "timed out";
  timeout.cancel();
  return answer.result === true ? "approved" : "rejected";
}
app.orchestration("approval", approval);

export interface MonitorInput {
  jobId: string;
  statusUrl: string;
}

export interface MonitorOutput {
  done: boolean;
  checks: number;
}

// Asks the job's service whether it is done (the tests mock it).
app.activity("checkJob", {
  handler: async (input: MonitorInput): Promise<boolean> => {
    const response = await fetch(input.statusUrl);
    return ((await response.json()) as { done: boolean }).done;
  },
});

export function* monitor(context: OrchestrationContext): Generator<Task, MonitorOutput, unknown> {
  const input = context.df.getInput<MonitorInput>();
  const expiry = context.df.currentUtcDateTime.getTime() + 24 * HOUR;
  let checks = 0;
  while (context.df.currentUtcDateTime.getTime() < expiry) {
    checks++;
    const done = yield context.df.callActivity("checkJob", input);
    if (done === true) return { done: true, checks };
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + HOUR));
  }
  return { done: false, checks };
}
app.orchestration("monitor", monitor);
