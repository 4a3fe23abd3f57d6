/**
 * The history limit (maxHistoryEvents): an execution whose history would grow past it fails with
 * HISTORY_TOO_LONG and a message that recommends continueAsNew; the step that crosses half of it
 * logs a warning, once; an eternal orchestration that calls continueAsNew never meets it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { checkHistoryLength } from "../../src/core/history-limit.js";
import { recordingLogger } from "../helpers/logger.js";
import { forEachStore, storedHistory } from "../helpers/hosts.js";

function register(app: DurableApp): void {
  app.activity("tick", { handler: (n: number) => n + 1 });
  app.orchestration("endless", function* (ctx) {
    let n = 0;
    for (;;) n = (yield ctx.df.callActivity("tick", n)) as number;
  });
  app.orchestration("eternal", function* (ctx) {
    const { round, total } = ctx.df.getInput<{ round: number; total: number }>();
    let n = total;
    for (let i = 0; i < 20; i++) n = (yield ctx.df.callActivity("tick", n)) as number;
    if (round < 5) ctx.df.continueAsNew({ round: round + 1, total: n });
    return n;
  });
}

forEachStore("history limit", (start) => {
  it("fails an execution whose history would pass the limit, after one warning at half of it", async () => {
    const logger = recordingLogger();
    // The failure is the host's, not the code's: replaying the code alone cannot reproduce it.
    const host = await start(register, { maxHistoryEvents: 200, logger, skipReplayCheck: true });
    const id = await host.client.startNew("endless");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.failureDetails?.code, "HISTORY_TOO_LONG");
    assert.equal(status.failureDetails?.errorType, "HistoryTooLongError");
    assert.match(String(status.output), /The history of orchestration 'endless' would reach 20\d events, over the limit of 200 \(maxHistoryEvents\)\. An orchestration that runs for ever must call context\.df\.continueAsNew/);
    const history = await storedHistory(host, id);
    assert.ok(history.length <= 200 + 5, `the failure adds only its own few events: ${history.length}`);
    assert.equal(history.filter((e) => e.type === "ExecutionCompleted").length, 1);
    const warned = logger.lines.filter((l) => l.level === "warn").map((l) => l.message);
    const halfway = warned.filter((m) => /has reached \d+ events, half of its limit of 200/.test(m));
    assert.equal(halfway.length, 1, warned.join("\n"));
  });

  it("an eternal orchestration that calls continueAsNew runs past the limit in total", async () => {
    const host = await start(register, { maxHistoryEvents: 200 });
    const id = await host.client.startNew("eternal", { input: { round: 0, total: 0 } });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    assert.equal(status.runtimeStatus, "Completed");
    assert.equal(status.output, 120, "6 executions of 20 activities: ~500 events in all, under 200 each");
  });
});

describe("history limit rule", () => {
  it("lets the step that ends an execution through, warns once at half, and refuses bad limits", () => {
    assert.equal(checkHistoryLength("o", 199, 203, 200, true).kind, "ok");
    assert.equal(checkHistoryLength("o", 199, 203, 200, false).kind, "fail");
    assert.equal(checkHistoryLength("o", 98, 101, 200, false).kind, "warn");
    assert.equal(checkHistoryLength("o", 100, 104, 200, false).kind, "ok", "only the step that crosses half warns");
  });
});
