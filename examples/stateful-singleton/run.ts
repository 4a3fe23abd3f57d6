/**
 * Runs the stateful-singleton example on the embedded SQLite store: `npm run example -- stateful-singleton`.
 * Starts the counter under its fixed ID (or reuses it if it is already running), sends a burst of ten
 * "add" events, a "reset", another "add", reads the value back with the `readCounter` orchestration,
 * and stops the counter with "end".
 */
import { createHost, type DurableClient, InstanceNotFoundError } from "../../src/index.js";
import { COUNTER_ID, type CounterState, ORCHESTRATOR, READER } from "./functions.js";

const host = createHost({ port: false }); // default store: sqlite:.perdure/perdure.db, default df.app
await host.start();

/** Waits until the counter has applied `operations` operations, and returns its state. */
async function applied(client: DurableClient, operations: number): Promise<CounterState> {
  for (;;) {
    const state = (await client.getStatus(COUNTER_ID)).customStatus as CounterState | null;
    if (state && state.operations >= operations) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

try {
  // The singleton check: start the counter only if it is not already running.
  const current = await host.client.getStatus(COUNTER_ID).catch((err: unknown) => {
    if (err instanceof InstanceNotFoundError) return undefined;
    throw err;
  });
  if (current && ["Running", "Pending", "ContinuedAsNew", "Suspended"].includes(current.runtimeStatus)) {
    console.log(`${COUNTER_ID} is already ${current.runtimeStatus}: ${JSON.stringify(current.customStatus)}`);
  } else {
    await host.client.startNew(ORCHESTRATOR, { instanceId: COUNTER_ID });
    console.log(`Started ${ORCHESTRATOR} as ${COUNTER_ID}`);
  }
  const start = (await applied(host.client, 0)).operations;

  await Promise.all(Array.from({ length: 10 }, (_, i) => host.client.raiseEvent(COUNTER_ID, "add", i + 1)));
  console.log(`Raised 10 'add' events (1..10) at once -> ${JSON.stringify(await applied(host.client, start + 10))}`);
  await host.client.raiseEvent(COUNTER_ID, "reset");
  console.log(`Raised 'reset'                    -> ${JSON.stringify(await applied(host.client, start + 11))}`);
  await host.client.raiseEvent(COUNTER_ID, "add", 42);
  console.log(`Raised 'add' 42                   -> ${JSON.stringify(await applied(host.client, start + 12))}`);

  const reader = await host.client.startNew(READER, { input: COUNTER_ID });
  const read = await host.client.waitForCompletion(reader, { timeoutInMilliseconds: 30_000 });
  console.log(`${READER} (a 'get' answered with a 'counterValue' event) -> ${JSON.stringify(read.output)}`);

  await host.client.raiseEvent(COUNTER_ID, "end");
  const status = await host.client.waitForCompletion(COUNTER_ID, { timeoutInMilliseconds: 30_000 });
  console.log(`Raised 'end' -> ${status.runtimeStatus}: ${JSON.stringify(status.output)}`);
  if (status.runtimeStatus !== "Completed" || status.output !== 42) process.exitCode = 1;
} finally {
  await host.stop();
}
