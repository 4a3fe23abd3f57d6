/**
 * Runs the human-interaction example on the embedded SQLite store: `npm run example -- human-interaction`.
 * Two approvals: the first is answered by the demo after a second; nobody answers the second, so it
 * times out after two seconds and is escalated. Notifications land in `.perdure/examples/outbox/`.
 */
import { resolve } from "node:path";
import { createHost } from "../../src/index.js";
import { APPROVAL_EVENT, type ApprovalInput, type ApprovalResponse, ORCHESTRATOR } from "./functions.js";

const outbox = resolve(".perdure/examples/outbox");
const answered: ApprovalInput = { request: "Expense report #42 (1,250 EUR)", approver: "manager", escalateTo: "director", timeoutMs: 30_000, outbox };
const ignored: ApprovalInput = { request: "Expense report #43 (80 EUR)", approver: "manager", escalateTo: "director", timeoutMs: 2_000, outbox };

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();
try {
  const first = await host.client.startNew(ORCHESTRATOR, { input: answered });
  const second = await host.client.startNew(ORCHESTRATOR, { input: ignored });
  console.log(`Started ${ORCHESTRATOR} as ${first} (answered after 1 s) and ${second} (never answered, 2 s deadline)`);

  await new Promise((r) => setTimeout(r, 1_000));
  const answer: ApprovalResponse = { approved: true, by: "manager" };
  await host.client.raiseEvent(first, APPROVAL_EVENT, answer);
  console.log(`Raised '${APPROVAL_EVENT}' ${JSON.stringify(answer)} on ${first}`);

  for (const id of [first, second]) {
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    console.log(`${id}: ${status.runtimeStatus} ${JSON.stringify(status.output)} ${JSON.stringify(status.customStatus)}`);
    if (status.runtimeStatus !== "Completed") process.exitCode = 1;
  }
} finally {
  await host.stop();
}
