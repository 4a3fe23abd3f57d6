/**
 * A trace across two `perdure start` processes on one SQLite store, each with its own OpenTelemetry
 * SDK: one runs the orchestration and serves HTTP, the other runs the activities. A start over
 * HTTP with a `traceparent` header gives one trace in which the activity spans of the second
 * process are children of the step spans of the first.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "perdure-trace-proc-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface SpanLine {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  pid: number;
}

function host(role: string, spans: string, extra: string[]): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(root, "bin", "perdure.js"), "start", join(root, "test", "integration", "fixtures", "traced-app.ts"), "--store", `sqlite:${join(dir, "store.db")}`, ...extra], {
    cwd: root,
    env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1", PERDURE_ROLE: role, PERDURE_SPANS_FILE: spans },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /running on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => reject(new Error(`host (${role}) exited with ${code}:\n${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, url, exited };
}

const read = (file: string): SpanLine[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as SpanLine)
    : [];

it("one trace across two host processes, from the HTTP start to the last activity", { timeout: 60_000 }, async () => {
  const spansA = join(dir, "a.jsonl");
  const spansB = join(dir, "b.jsonl");
  const a = host("orchestrations", spansA, ["--port", "0"]);
  const b = host("activities", spansB, ["--workers-only"]);
  try {
    const url = await a.url;
    await b.url;
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const res = await fetch(`${url}/runtime/webhooks/durabletask/orchestrators/relay/relay-1`, {
      method: "POST",
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, "content-type": "application/json" },
      body: JSON.stringify("hi"),
    });
    assert.equal(res.status, 202);
    let status = "";
    for (let i = 0; i < 400 && status !== "Completed"; i++) {
      status = ((await (await fetch(`${url}/runtime/webhooks/durabletask/instances/relay-1`)).json()) as { runtimeStatus: string }).runtimeStatus;
      if (status !== "Completed") await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, "Completed");
  } finally {
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
  }
  const inA = read(spansA).filter((s) => s.traceId === "0af7651916cd43dd8448eb211c80319c");
  const inB = read(spansB);
  const steps = inA.filter((s) => s.name === "orchestration relay");
  const activities = inB.filter((s) => s.name === "activity shout");
  assert.equal(activities.length, 2, "both activities ran in the other process");
  assert.ok(steps.length >= 3, "the steps ran in the first process");
  assert.ok(new Set(steps.map((s) => s.pid)).size === 1 && new Set(activities.map((s) => s.pid)).size === 1 && steps[0]!.pid !== activities[0]!.pid);
  for (const s of activities) {
    assert.equal(s.traceId, "0af7651916cd43dd8448eb211c80319c", "the activities continue the caller's trace");
    assert.ok(steps.some((step) => step.spanId === s.parentSpanId), "each activity span is a child of the step that scheduled it, in the other process");
  }
  const server = inA.find((s) => s.name === "POST")!;
  assert.equal(server.parentSpanId, "b7ad6b7169203331");
  const start = inA.find((s) => s.name === "perdure.client startNew relay")!;
  assert.equal(start.parentSpanId, server.spanId);
  for (const s of steps) assert.equal(s.parentSpanId, start.spanId);
});
