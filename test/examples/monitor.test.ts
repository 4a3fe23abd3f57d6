import assert from "node:assert/strict";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type MonitorInput, type MonitorStatus, ORCHESTRATOR, register } from "../../examples/monitor/functions.js";
import type { DurableClient } from "../../src/index.js";
import { eventually, historyOf, STORES, withExampleHost } from "./harness.js";

/** Writes the job file atomically, as a real job would, so the monitor never reads half a file. */
async function writeJob(file: string, job: { status: string; progress?: number }): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(job));
  await rename(`${file}.tmp`, file);
}

async function customStatusWhen(client: DurableClient, id: string, what: string, ok: (s: MonitorStatus) => boolean): Promise<MonitorStatus> {
  return eventually(what, async () => {
    const s = (await client.getStatus(id)).customStatus as MonitorStatus | null;
    return s && ok(s) ? s : undefined;
  });
}

for (const store of STORES) {
  describe(`example monitor (${store})`, () => {
    it("polls the job on a durable timer, reports progress, and alerts once it is ready", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const input: MonitorInput = { jobFile: join(dir, "job.json"), alertFile: join(dir, "alerts.log"), pollingIntervalMs: 200, timeoutMs: 30_000 };
        const id = await host.client.startNew(ORCHESTRATOR, { input });

        const first = await customStatusWhen(host.client, id, "the first check", (s) => s.checks >= 1);
        assert.equal(first.state, "waiting");
        assert.equal(first.lastStatus, "missing");
        assert.ok(first.nextCheck, "the status tells when the next check is");

        await writeJob(input.jobFile, { status: "running", progress: 40 });
        const running = await customStatusWhen(host.client, id, "the running job to be seen", (s) => s.lastStatus === "running");
        assert.equal(running.progress, 40);
        assert.equal(running.state, "waiting");
        assert.equal((await host.client.getStatus(id)).runtimeStatus, "Running");
        await assert.rejects(readFile(input.alertFile!), { code: "ENOENT" }, "no alert before the job is ready");

        await writeJob(input.jobFile, { status: "ready", progress: 100 });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.runtimeStatus, "Completed");
        const output = status.output as { outcome: string; checks: number };
        assert.equal(output.outcome, "ready");
        assert.ok(output.checks >= 3, `at least three checks (missing, running, ready), got ${output.checks}`);
        assert.deepEqual(status.customStatus, { state: "ready", checks: output.checks, lastStatus: "ready", progress: 100 });
        assert.equal(await readFile(input.alertFile!, "utf8"), `Job ${input.jobFile} is ready (after ${output.checks} checks).\n`);

        // One durable timer between two checks, each fired before the next check; one alert at the end.
        const history = await historyOf(host, id);
        const scheduled = history.filter((e) => e.type === "TaskScheduled").map((e) => (e.type === "TaskScheduled" ? e.name : ""));
        assert.deepEqual(scheduled, [...Array.from({ length: output.checks }, () => "getJobStatus"), "sendAlert"]);
        assert.equal(history.filter((e) => e.type === "TimerCreated").length, output.checks - 1);
        assert.equal(history.filter((e) => e.type === "TimerFired").length, output.checks - 1);
      });
    });

    it("gives up at the expiry time, never before it, without alerting", async () => {
      await withExampleHost(store, register, async ({ host, dir }) => {
        const input: MonitorInput = { jobFile: join(dir, "never.json"), alertFile: join(dir, "alerts.log"), pollingIntervalMs: 300, timeoutMs: 500 };
        await writeJob(input.jobFile, { status: "queued" });
        const id = await host.client.startNew(ORCHESTRATOR, { input });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.runtimeStatus, "Completed");
        const output = status.output as { outcome: string; checks: number };
        assert.equal(output.outcome, "expired");
        assert.deepEqual(status.customStatus, { state: "expired", checks: output.checks, lastStatus: "queued" });
        await assert.rejects(readFile(input.alertFile!), { code: "ENOENT" });

        const history = await historyOf(host, id);
        const startedAt = Date.parse(history.find((e) => e.type === "OrchestratorStarted")!.timestamp);
        const expiry = startedAt + 500;
        // Each timer is set at the check's time + the interval, cut short to the expiry time.
        let checkedAt = startedAt;
        const timers: number[] = [];
        for (const e of history) {
          if (e.type === "OrchestratorStarted") checkedAt = Date.parse(e.timestamp);
          if (e.type === "TimerCreated") {
            assert.equal(Date.parse(e.fireAt), Math.min(checkedAt + 300, expiry), "the timer is due one interval after the check, at most at the expiry time");
            timers.push(Date.parse(e.fireAt));
          }
        }
        assert.ok(timers.length <= 2, `at most two 300 ms timers fit in 500 ms, got ${timers.length}`);
        assert.equal(timers.length, output.checks - 1);
        const completedAt = Date.parse(history.find((e) => e.type === "ExecutionCompleted")!.timestamp);
        assert.ok(completedAt >= expiry, `completed at ${completedAt - startedAt} ms, not before the 500 ms expiry`);
      });
    });

    it("fails without a jobFile", async () => {
      await withExampleHost(store, register, async ({ host }) => {
        const id = await host.client.startNew(ORCHESTRATOR, { input: { pollingIntervalMs: 200 } });
        const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 5_000 });
        assert.equal(status.runtimeStatus, "Failed");
        assert.equal(status.failureDetails?.errorMessage, "A jobFile input is required.");
      });
    });
  });
}
