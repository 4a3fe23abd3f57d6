/**
 * Runs the fan-out/fan-in example on the embedded SQLite store: backs up this repository's `examples/`
 * folder into `.perdure/examples/backup/`. `npm run example -- fan-out-fan-in`
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createHost } from "../../src/index.js";
import { type BackupInput, ORCHESTRATOR } from "./functions.js";

const input: BackupInput = {
  directory: resolve(fileURLToPath(new URL("..", import.meta.url))),
  backupDirectory: resolve(".perdure/examples/backup"),
};

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();
try {
  const instanceId = await host.client.startNew(ORCHESTRATOR, { input });
  console.log(`Started ${ORCHESTRATOR} as ${instanceId}: backing up ${input.directory} to ${input.backupDirectory}`);
  const status = await host.client.waitForCompletion(instanceId, { timeoutInMilliseconds: 60_000 });
  console.log(`${status.runtimeStatus}: ${JSON.stringify(status.output)} bytes in ${JSON.stringify(status.customStatus)}`);
  if (status.runtimeStatus !== "Completed") process.exitCode = 1;
} finally {
  await host.stop();
}
