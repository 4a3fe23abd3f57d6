/**
 * Orchestration versioning as Durable Functions defines it, with two `perdure start` processes of
 * different versions on one SQLite file and on one PostgreSQL schema: CurrentOrOlder + Reject (the
 * defaults) runs every instance on a host that may run it and fails none; Strict + Fail fails a
 * mismatched instance with a clear message and never runs it. Each process is started in its own process group and only those are killed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { compareVersions, versionMismatch } from "../../src/core/version.js";
import { eventually, postgresUrl } from "../helpers/hosts.js";
import { newSchema, withPostgresSync } from "../helpers/pg.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "perdure.js");
const APP = fileURLToPath(new URL("./fixtures/versioned-app.ts", import.meta.url));

interface Host {
  tag: string;
  proc: ChildProcess;
  out: string;
  url?: string | undefined;
}

interface HostSpec {
  tag: string;
  args: string[];
}

function startHosts(
  t: TestContext,
  specs: HostSpec[],
  store: StoreKind = "sqlite",
): { hosts: Host[]; output: () => string; add: (spec: HostSpec) => Host } {
  const dir = mkdtempSync(join(tmpdir(), "perdure-versions-"));
  const url = store === "sqlite" ? `sqlite:${join(dir, "store.db")}` : postgresUrl(newSchema("vs"));
  const hosts: Host[] = [];
  t.after(async () => {
    for (const h of hosts) {
      if (h.proc.exitCode === null && h.proc.signalCode === null) {
        process.kill(-h.proc.pid!, "SIGKILL");
        await new Promise((r) => h.proc.once("exit", r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const add = ({ tag, args }: HostSpec): Host => {
    const proc = spawn(process.execPath, [BIN, "start", APP, "--store", url, "--port", "0", ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PERDURE_CLI_FROM_SOURCE: "1", PERDURE_HOST_TAG: tag, PERDURE_LOG_FORMAT: "json" },
    });
    const host: Host = { tag, proc, out: "" };
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      host.out += d;
      host.url ??= /running on (http:\/\/\S+)/.exec(host.out)?.[1];
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (host.out += d));
    hosts.push(host);
    return host;
  };
  for (const spec of specs) add(spec);
  return { hosts, output: () => hosts.map((h) => `--- ${h.tag}\n${h.out}`).join("\n"), add };
}

async function start(url: string, version: string): Promise<string> {
  const r = await fetch(`${url}/runtime/webhooks/durabletask/orchestrators/versioned?version=${encodeURIComponent(version)}`, { method: "POST" });
  assert.equal(r.status, 202);
  return ((await r.json()) as { id: string }).id;
}

interface Status {
  runtimeStatus: string;
  output: unknown;
}
async function status(url: string, id: string): Promise<Status> {
  return (await (await fetch(`${url}/runtime/webhooks/durabletask/instances/${id}`)).json()) as Status;
}

describe("version order and match strategies", () => {
  it("orders versions as Durable Functions does: none oldest, dotted numbers as numbers, else text", () => {
    assert.ok(compareVersions("", "0.1") < 0);
    assert.ok(compareVersions("1.10", "1.9") > 0);
    assert.ok(compareVersions("1.0", "1.0.0") < 0, "a missing part is lower");
    assert.equal(compareVersions("Beta", "beta"), 0);
    assert.ok(compareVersions("alpha", "beta") < 0);
    assert.equal(versionMismatch("2.0", "1.0", "None"), undefined);
    assert.equal(versionMismatch("1.0", "2.0", "CurrentOrOlder"), undefined);
    assert.match(versionMismatch("2.0", "1.0", "CurrentOrOlder")!, /newer than this host's '1\.0'/);
    assert.match(versionMismatch("1.0", "2.0", "Strict")!, /is not this host's '2\.0' \(version match strategy Strict\)/);
    assert.match(versionMismatch("", "2.0", "Strict")!, /version none/);
  });
});

type StoreKind = "sqlite" | "postgres";

/** The rolling-deploy case, on one SQLite file and on one PostgreSQL schema. */
function rollingDeploy(store: StoreKind): void {
  it(`CurrentOrOlder + Reject on ${store}: each instance completes on a host that may run it; none fails`, async (t) => {
    // The old host first, alone: a 2.0 instance started through it is claimed by it and parked as
    // VERSION_MISMATCH, as in a rolling deploy before any new host is up.
    const { hosts, output, add } = startHosts(t, [{ tag: "old", args: ["--app-version", "1.0", "--log-level", "debug"] }], store);
    await eventually(async () => hosts.every((h) => h.url), 60_000, `the old host to start\n${output()}`);
    const [old] = hosts as [Host];
    const ids = { "1.0": [] as string[], "2.0": [] as string[] };
    ids["2.0"].push(await start(old.url!, "2.0"));
    const parked = /parked: VERSION_MISMATCH .*the instance's version '2\.0' is newer than this host's '1\.0' \(version match strategy CurrentOrOlder\)/;
    await eventually(async () => parked.test(old.out), 30_000, `the old host to park the 2.0 instance\n${output()}`);
    assert.equal((await status(old.url!, ids["2.0"][0]!)).runtimeStatus, "Pending", "a parked instance has not run");
    // Offered again every second, it is parked again each time: said once at warn, then at debug.
    const parkLines = (level: string): number =>
      old.out.split("\n").filter((l) => l.startsWith("{") && parked.test(l) && (JSON.parse(l) as { level?: string }).level === level).length;
    await eventually(async () => parkLines("debug") >= 2, 30_000, `the old host to park the 2.0 instance again\n${output()}`);
    assert.equal(parkLines("warn"), 1, "the wait for a host of its version is said once");
    add({ tag: "new", args: ["--app-version", "2.0"] });
    await eventually(async () => hosts.every((h) => h.url), 60_000, `the new host to start\n${output()}`);
    // More of both, still started through the old host: the newer ones must wait for the new one.
    for (let i = 0; i < 4; i++) {
      ids["1.0"].push(await start(old.url!, "1.0"));
      ids["2.0"].push(await start(old.url!, "2.0"));
    }
    for (const [version, list] of Object.entries(ids)) {
      for (const id of list) {
        const s = await eventually(async () => {
          const st = await status(old.url!, id);
          return st.runtimeStatus === "Running" || st.runtimeStatus === "Pending" ? undefined : st;
        }, 60_000, `instance ${id} (${version}) to finish\n${output()}`);
        assert.equal(s.runtimeStatus, "Completed", `${id}: ${JSON.stringify(s)}`);
        const out = s.output as { version: string; ranOn: string };
        assert.equal(out.version, version);
        if (version === "2.0") assert.equal(out.ranOn, "new", "a 2.0 instance never runs on the 1.0 host");
      }
    }
  });
}

/** Strict + Fail, one host and then two of different versions on one store. */
function strictFail(store: StoreKind): void {
  it(`Strict + Fail on ${store}: an instance of another version fails with a clear message, never runs`, async (t) => {
    const strict = ["--version-match", "strict", "--version-failure", "fail"];
    const { hosts, output, add } = startHosts(t, [{ tag: "v1", args: ["--app-version", "1.0", ...strict] }], store);
    await eventually(async () => hosts.every((h) => h.url), 60_000, `the host to start\n${output()}`);
    const [host] = hosts as [Host];
    const finished = async (id: string): Promise<Status> =>
      eventually(async () => {
        const st = await status(host.url!, id);
        return st.runtimeStatus === "Running" || st.runtimeStatus === "Pending" ? undefined : st;
      }, 30_000, `instance ${id} to finish\n${output()}`);
    const message = (version: string, hostVersion: string): RegExp =>
      new RegExp(`^Orchestrator function 'versioned' failed: Orchestration 'versioned' cannot run on this host: the instance's version '${version.replace(".", "\\.")}' is not this host's '${hostVersion.replace(".", "\\.")}' \\(version match strategy Strict\\)\\. \\(version failure strategy Fail\\)$`);

    // One host: its own version runs, another fails.
    const same = await start(host.url!, "1.0");
    const other = await start(host.url!, "1.1");
    const done = await finished(same);
    assert.equal(done.runtimeStatus, "Completed");
    assert.deepEqual(done.output, { version: "1.0", ranOn: "v1" });
    const failed = await finished(other);
    assert.equal(failed.runtimeStatus, "Failed");
    assert.match(String(failed.output), message("1.1", "1.0"));

    // Two hosts, 1.0 and 2.0: an instance runs only on the host of its version; whichever host of
    // the other version takes it first fails it, naming both versions. One of neither always fails.
    add({ tag: "v2", args: ["--app-version", "2.0", ...strict] });
    await eventually(async () => hosts.every((h) => h.url), 60_000, `the second host to start\n${output()}`);
    const started: [string, string][] = [];
    for (let i = 0; i < 4; i++) for (const version of ["1.0", "2.0", "3.0"]) started.push([version, await start(host.url!, version)]);
    const outcomes = { completed: 0, failed: 0 };
    for (const [version, id] of started) {
      const s = await finished(id);
      if (s.runtimeStatus === "Completed") {
        outcomes.completed++;
        assert.notEqual(version, "3.0", `${id}: a 3.0 instance ran: ${JSON.stringify(s)}`);
        assert.deepEqual(s.output, { version, ranOn: version === "1.0" ? "v1" : "v2" }, `${id} ran on its own version's host`);
      } else {
        outcomes.failed++;
        assert.equal(s.runtimeStatus, "Failed", `${id}: ${JSON.stringify(s)}`);
        const hostVersion = /is not this host's '([^']+)'/.exec(String(s.output))?.[1];
        assert.ok(hostVersion !== undefined && hostVersion !== version, `${id} (${version}): ${String(s.output)}`);
        assert.match(String(s.output), message(version, hostVersion));
      }
    }
    assert.ok(outcomes.failed >= 4, `the four 3.0 instances failed: ${JSON.stringify(outcomes)}`);
    t.diagnostic(`12 instances on two strict hosts: ${outcomes.completed} completed on their version's host, ${outcomes.failed} failed`);
  });
}

describe("two host processes of different versions on one PostgreSQL schema", () => {
  withPostgresSync("versions on PostgreSQL", () => {
    rollingDeploy("postgres");
    strictFail("postgres");
  });
});

describe("two host processes of different versions on one SQLite file", () => {
  rollingDeploy("sqlite");
  strictFail("sqlite");

  it("a bad strategy is one line with a code", async (t) => {
    const { hosts } = startHosts(t, [{ tag: "bad", args: ["--app-version", "1.0", "--version-match", "newest"] }]);
    const [host] = hosts as [Host];
    const code = await new Promise<number | null>((resolve) => host.proc.once("exit", resolve));
    assert.equal(code, 2);
    assert.match(host.out, /perdure: invalid --version-match 'newest': use none, strict, current-or-older\. \(USAGE\)/);
  });
});
