/**
 * The app's orchestrations under Jest, with perdure/testing: a test host with a manual clock (the
 * 72-hour timeout runs at once), a mocked activity with its call records, and runOrchestrator.
 */
import { afterEach, describe, expect, test } from "@jest/globals";
import { createTestHost, mockSequence, runOrchestrator, type TestHost } from "perdure/testing";
import { app, approval, HOUR } from "../src/app.js";

// The repository's own test sets this to check that a failing assertion fails the run.
const BROKEN = process.env.PERDURE_EXAMPLE_BREAK === "1";

let host: TestHost | undefined;
afterEach(async () => {
  await host?.dispose();
  host = undefined;
});

describe("approval", () => {
  test("approved within the deadline", async () => {
    host = createTestHost({ app });
    const id = await host.start("approval", { request: "Expense #42", approver: "ann" });
    await host.advanceTime(24 * HOUR);
    await host.raiseEvent(id, "Approval", true);

    expect((await host.waitForStatus(id, "Completed")).output).toBe("approved");
    // The real activity ran, and was recorded.
    expect(host.calls("sendApprovalRequest")).toEqual([
      {
        input: { request: "Expense #42", approver: "ann", deadline: "2026-01-04T00:00:00.000Z" },
        result: 'asked ann to approve "Expense #42" by 2026-01-04T00:00:00.000Z',
      },
    ]);
  });

  test("times out after 72 hours", async () => {
    host = createTestHost({ app });
    const id = await host.start("approval", { request: "Expense #43", approver: "ann" });
    await host.advanceTime(71 * HOUR);
    expect((await host.waitForStatus(id, "Running")).runtimeStatus).toBe("Running");

    await host.advanceTime(1 * HOUR);
    const status = await host.waitForStatus(id, "Completed");
    expect(status.output).toBe(BROKEN ? "approved" : "timed out");
    expect(host.now()).toEqual(new Date("2026-01-04T00:00:00Z"));
  });
});

describe("monitor", () => {
  test("polls hourly until the job is done (checkJob mocked)", async () => {
    host = createTestHost({ app });
    host.mockActivity("checkJob", mockSequence(false, false, false, false, true));
    const input = { jobId: "j1", statusUrl: "http://jobs.invalid/j1" };
    const id = await host.start("monitor", input);

    const status = await host.waitForStatus(id, "Completed", { advanceTimeUpTo: 24 * HOUR });
    expect(status.output).toEqual({ done: true, checks: 5 });
    expect(host.now()).toEqual(new Date("2026-01-01T04:00:00Z"));
    const calls = host.calls("checkJob");
    expect(calls).toHaveLength(5);
    expect(calls[0]).toEqual({ input, result: false });
    expect(calls[4]).toEqual({ input, result: true });
  });

  test("gives up after a day", async () => {
    host = createTestHost({ app });
    host.mockActivity("checkJob", false);
    const id = await host.start("monitor", { jobId: "j2", statusUrl: "http://jobs.invalid/j2" });

    await host.advanceTime(24 * HOUR);
    expect((await host.waitForStatus(id, "Completed")).output).toEqual({ done: false, checks: 24 });
  });
});

test("runOrchestrator: the approval's timer wins over a late answer, no host needed", async () => {
  const r = await runOrchestrator(approval, {
    input: { request: "Expense #44", approver: "bob" },
    results: { sendApprovalRequest: "sent" },
    events: [{ name: "Approval", data: true, afterMs: 73 * HOUR }],
  });
  expect(r.status).toBe("Completed");
  expect(r.output).toBe("timed out");
  expect(r.actions).toEqual([
    { kind: "activity", name: "sendApprovalRequest", input: { request: "Expense #44", approver: "bob", deadline: "2026-01-04T00:00:00.000Z" } },
    { kind: "timer", fireAt: new Date("2026-01-04T00:00:00Z") },
  ]);
});
