import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HistoryEventView, storedHistory } from "../helpers/hosts.js";
import { createApp, createHost, type DurableApp, type Host } from "../../src/index.js";
import { assertAllReplayCleanly } from "../helpers/determinism.js";

/** Every example test runs on both embedded stores. */
export const STORES = ["memory", "sqlite"] as const;
export type StoreKind = (typeof STORES)[number];

export interface ExampleHarness {
  host: Host;
  app: DurableApp;
  /** A fresh temporary directory for the test's files (removed afterwards). */
  dir: string;
}

const quiet = { info: (): void => undefined, warn: (): void => undefined, error: (): void => undefined };

/**
 * Registers an example's functions on a fresh app, runs `body` against a started host on the given
 * store (memory: or a temporary SQLite file), then runs the determinism self-check on every instance
 * the test created and cleans up.
 */
export async function withExampleHost(kind: StoreKind, register: (app: DurableApp) => void, body: (h: ExampleHarness) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "perdure-example-"));
  const app = createApp();
  register(app);
  const store = kind === "memory" ? "memory:" : `sqlite:${join(dir, "store", "perdure.db")}`;
  const host = createHost({ app, store, port: false, logger: quiet });
  await host.start();
  try {
    await body({ host, app, dir });
    const replayed = await assertAllReplayCleanly(host.provider, app.registry);
    assert.ok(replayed > 0, "the determinism self-check replayed at least one instance");
  } finally {
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value other than undefined (or fails after `timeoutMs`). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The current execution's stored history, payloads parsed (the client shows the Durable Functions projection). */
export async function historyOf(host: Pick<Host, "provider">, instanceId: string): Promise<HistoryEventView[]> {
  const history = await storedHistory(host, instanceId);
  assert.ok(history.length > 0, `instance ${instanceId} has a history`);
  return history;
}
