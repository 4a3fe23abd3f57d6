/**
 * Runs the async-HTTP example: `npm run example -- async-http`. Starts a host with its HTTP listener
 * on a free port and the embedded SQLite store, then acts as a plain HTTP client with fetch:
 * POST /api/orchestrators/processReport, print the 202 payload, poll its status URL (following
 * Location and Retry-After, capped short for the demo) until the instance is done, print the output.
 * Then the same through the synchronous starter with helloSequence, which answers 200 at once.
 */
import { createHost } from "../../src/index.js";
import { LONG_ORCHESTRATOR, QUICK_ORCHESTRATOR, type ReportInput } from "./functions.js";

const MAX_POLL_DELAY_MS = 500; // Retry-After says 10 s (starts) and 5 s (status); a demo does not wait that long
const DEADLINE_MS = 60_000;

const host = createHost({ port: 0 }); // a free port on 127.0.0.1; default store: sqlite:.perdure/perdure.db, default df.app
await host.start();
try {
  const input: ReportInput = { report: "Q3 sales", stepDelayMs: 1_000 };
  const startUrl = `${host.url}/api/orchestrators/${LONG_ORCHESTRATOR}`;
  console.log(`POST ${startUrl} ${JSON.stringify(input)}`);
  const started = await fetch(startUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(input) });
  const payload = (await started.json()) as { id: string; statusQueryGetUri: string };
  console.log(`${started.status} ${started.statusText}, Location: ${started.headers.get("location")}, Retry-After: ${started.headers.get("retry-after")}`);
  console.log(JSON.stringify(payload, null, 2));
  if (started.status !== 202) throw new Error(`expected 202 Accepted, got ${started.status}`);

  let url = payload.statusQueryGetUri;
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const res = await fetch(url);
    const status = (await res.json()) as { runtimeStatus: string; customStatus: unknown; output: unknown };
    console.log(`GET status → ${res.status} ${status.runtimeStatus} ${JSON.stringify(status.customStatus)}`);
    if (res.status !== 202) {
      console.log(`Output: ${JSON.stringify(status.output, null, 2)}`);
      if (res.status !== 200 || status.runtimeStatus !== "Completed") process.exitCode = 1;
      break;
    }
    if (Date.now() > deadline) throw new Error(`instance ${payload.id} still running after ${DEADLINE_MS} ms`);
    url = res.headers.get("location") ?? url;
    const retryAfterMs = Number(res.headers.get("retry-after") ?? "1") * 1000;
    await new Promise((r) => setTimeout(r, Math.min(retryAfterMs, MAX_POLL_DELAY_MS)));
  }

  const syncUrl = `${host.url}/api/orchestrators/wait/${QUICK_ORCHESTRATOR}?timeout=10`;
  const sync = await fetch(syncUrl, { method: "POST" });
  console.log(`POST ${syncUrl} → ${sync.status} ${await sync.text()}`);
  if (sync.status !== 200) process.exitCode = 1;
} finally {
  await host.stop();
}
