/**
 * A private PostgreSQL cluster for tests that stop and restart the server: its own data directory in
 * a temp dir, its own port, its socket in that directory, never the shared server. The binaries are
 * PostgreSQL 15's (PERDURE_PG_BIN overrides); as root, they run as the `postgres` user.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.PERDURE_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/** Why no private cluster can be made here, or undefined when one can. */
export function privateClusterProblem(): string | undefined {
  if (!existsSync(join(BIN, "initdb")) || !existsSync(join(BIN, "pg_ctl"))) return `no initdb/pg_ctl in ${BIN} (set PERDURE_PG_BIN)`;
  if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0) return "running as root, but there is no postgres user to run the server as";
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function run(args: string[]): SpawnSyncReturns<string> {
  const [cmd, ...rest] = args as [string, ...string[]];
  // initdb refuses to run as root: as root, run the tools as the postgres user.
  const r =
    process.getuid?.() === 0
      ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...rest], { encoding: "utf8", timeout: 60_000 })
      : spawnSync(cmd, rest, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r;
}

export class PrivateCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb and start a new cluster; `url` names its `postgres` database. */
  static async create(): Promise<PrivateCluster> {
    const problem = privateClusterProblem();
    if (problem) throw new Error(`cannot make a private PostgreSQL cluster: ${problem}`);
    const dir = mkdtempSync(join(tmpdir(), "perdure-pg-"));
    if (process.getuid?.() === 0) {
      const pg = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
      const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
      chownSync(dir, Number(pg.stdout.trim()), Number(gid.stdout.trim()));
    }
    run([join(BIN, "initdb"), "-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const cluster = new PrivateCluster(dir, await freePort());
    cluster.start();
    return cluster;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    run([join(BIN, "pg_ctl"), "-D", join(this.dir, "data"), "-l", join(this.dir, "server.log"), "-w", "-t", "60", "-o", `-p ${this.port} -h 127.0.0.1 -k ${this.dir} -c max_connections=200`, "start"]);
  }

  /** Stops the server: `fast` ends every session at once (what a restart does to the hosts). */
  stop(mode: "fast" | "immediate" = "fast"): void {
    run([join(BIN, "pg_ctl"), "-D", join(this.dir, "data"), "-w", "-t", "60", "-m", mode, "stop"]);
  }

  get running(): boolean {
    return existsSync(join(this.dir, "data", "postmaster.pid"));
  }

  destroy(): void {
    try {
      if (this.running) this.stop("immediate");
    } catch {
      // already down
    }
    if (statSync(this.dir, { throwIfNoEntry: false })) rmSync(this.dir, { recursive: true, force: true });
  }
}
