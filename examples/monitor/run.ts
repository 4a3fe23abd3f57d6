/**
 * Runs the monitor example on the embedded SQLite store: `npm run example -- monitor`. The demo plays
 * the job itself: it writes `.perdure/examples/monitor/job.json` as "running", advances its progress,
 * then marks it "ready", while the monitor checks the file every 500 ms.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createHost } from "../../src/index.js";
import { type MonitorInput, ORCHESTRATOR } from "./functions.js";

const dir = resolve(".perdure/examples/monitor");
await mkdir(dir, { recursive: true });
const input: MonitorInput = { jobFile: resolve(dir, "job.json"), pollingIntervalMs: 500, timeoutMs: 60_000 };
await rm(input.jobFile, { force: true });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();
try {
  const instanceId = await host.client.startNew(ORCHESTRATOR, { input });
  console.log(`Started ${ORCHESTRATOR} as ${instanceId}, watching ${input.jobFile}`);

  // The "job": runs for a few seconds, then becomes ready. Meanwhile, print the monitor's custom status.
  const job = (async () => {
    for (const progress of [0, 25, 50, 75]) {
      await sleep(700);
      await writeFile(input.jobFile, JSON.stringify({ status: "running", progress }));
    }
    await sleep(700);
    await writeFile(input.jobFile, JSON.stringify({ status: "ready", progress: 100 }));
  })();
  let last = "";
  for (;;) {
    const status = await host.client.getStatus(instanceId);
    const custom = JSON.stringify(status.customStatus);
    if (custom !== last) console.log(`  ${status.runtimeStatus} ${custom}`);
    last = custom;
    if (status.runtimeStatus !== "Running" && status.runtimeStatus !== "Pending") break;
    await sleep(100);
  }
  await job;
  const status = await host.client.waitForCompletion(instanceId);
  console.log(`${status.runtimeStatus}: ${JSON.stringify(status.output)}`);
  if (status.runtimeStatus !== "Completed") process.exitCode = 1;
} finally {
  await host.stop();
}
