/** Runs the function-chaining example on the embedded SQLite store: `npm run example -- chaining`. */
import { createHost } from "../../src/index.js";
import { ORCHESTRATOR } from "./functions.js";

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();
try {
  const instanceId = await host.client.startNew(ORCHESTRATOR);
  console.log(`Started ${ORCHESTRATOR} as ${instanceId}`);
  const status = await host.client.waitForCompletion(instanceId, { timeoutInMilliseconds: 30_000 });
  console.log(`${status.runtimeStatus}:`, JSON.stringify(status.output));
  if (status.runtimeStatus !== "Completed") process.exitCode = 1;
} finally {
  await host.stop();
}
