/**
 * Pattern 5, human interaction: an approval with a deadline. The orchestrator sends an approval
 * request (activity), then waits for whichever comes first: the "Approval" external event or a durable
 * timer at the deadline. If the approver answers in time, the timer is canceled and the answer decides
 * the output ("approved" or "rejected"); if the deadline passes first, the request is escalated
 * (activity) and the output is "timed out". Raise the event with the client
 * (`client.raiseEvent(instanceId, "Approval", { approved: true })`) or over HTTP.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as df from "../../src/index.js";
import type { ActivityContext, DurableApp } from "../../src/index.js";

export const ORCHESTRATOR = "approvalWorkflow";
export const APPROVAL_EVENT = "Approval";

export interface ApprovalInput {
  /** What needs approving, e.g. "Expense report #42 (1,250 EUR)". */
  request: string;
  approver: string;
  /** Who gets the request when the approver does not answer in time. */
  escalateTo: string;
  /** How long the approver has. Default 72 hours, as in the Durable Functions overview. */
  timeoutMs?: number;
  /** A folder where notifications are written as JSON files (`<instanceId>-<kind>.json`); without it they are only logged. */
  outbox?: string;
}

/** The payload of the "Approval" event: `{ approved, by? }`, or just `true` / `false`. */
export type ApprovalResponse = boolean | { approved: boolean; by?: string };

export type ApprovalOutcome = "approved" | "rejected" | "timed out";

export interface Notification {
  kind: "approval-request" | "escalation";
  instanceId: string;
  to: string;
  request: string;
  /** ISO time by which to answer (approval requests). */
  deadline?: string;
  outbox?: string;
}

export function register(app: DurableApp): void {
  // Both activities stand in for an e-mail or chat message: they write it to the outbox and log it.
  const notify = async (n: Notification, context: ActivityContext): Promise<string> => {
    const text =
      n.kind === "approval-request"
        ? `${n.to}: please approve "${n.request}" by ${n.deadline} (raise event '${APPROVAL_EVENT}' on instance ${n.instanceId}).`
        : `${n.to}: "${n.request}" was not approved in time; please take over (instance ${n.instanceId}).`;
    if (n.outbox) {
      await mkdir(n.outbox, { recursive: true });
      await writeFile(join(n.outbox, `${n.instanceId}-${n.kind}.json`), JSON.stringify({ ...n, text }, null, 2));
    }
    context.log(text);
    return text;
  };
  app.activity("requestApproval", { handler: notify });
  app.activity("escalate", { handler: notify });

  app.orchestration(ORCHESTRATOR, function* (context) {
    const input = context.df.getInput<ApprovalInput | undefined>();
    if (!input?.request || !input.approver || !input.escalateTo) throw new Error("An input with request, approver and escalateTo is required.");
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + (input.timeoutMs ?? 72 * 60 * 60 * 1000));
    const base = { instanceId: context.df.instanceId, request: input.request, ...(input.outbox ? { outbox: input.outbox } : {}) };

    yield context.df.callActivity("requestApproval", { ...base, kind: "approval-request", to: input.approver, deadline: deadline.toISOString() } satisfies Notification);
    context.df.setCustomStatus({ state: "waiting for approval", approver: input.approver, deadline: deadline.toISOString() });

    const timeout = context.df.createTimer(deadline);
    const approval = context.df.waitForExternalEvent(APPROVAL_EVENT);
    const winner = yield context.df.Task.any([approval, timeout]);

    if (winner === approval) {
      timeout.cancel(); // the orchestration must not wait for the loser timer
      const response = approval.result as ApprovalResponse;
      const approved = typeof response === "boolean" ? response : response?.approved === true;
      const outcome: ApprovalOutcome = approved ? "approved" : "rejected";
      const by = typeof response === "object" && response?.by ? response.by : input.approver;
      context.df.setCustomStatus({ state: outcome, by });
      return outcome;
    }

    context.df.setCustomStatus({ state: "escalated", to: input.escalateTo });
    yield context.df.callActivity("escalate", { ...base, kind: "escalation", to: input.escalateTo } satisfies Notification);
    return "timed out" satisfies ApprovalOutcome;
  });
}

register(df.app);
