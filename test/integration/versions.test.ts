import assert from "node:assert/strict";
import { it } from "node:test";
import { forEachStore, storedHistory } from "../helpers/hosts.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import { createRemoteClient } from "../../src/client/remote-client.js";
import type { DurableApp } from "../../src/app.js";

function register(app: DurableApp): void {
  app.orchestration("reportVersion", function* (ctx) {
    return ctx.df.version;
  });
  app.orchestration("parent", function* (ctx) {
    const explicit: unknown = yield ctx.df.callSubOrchestrator("reportVersion", undefined, undefined, "0.9");
    const inherited: unknown = yield ctx.df.callSubOrchestrator("reportVersion");
    const retried: unknown = yield ctx.df.callSubOrchestratorWithRetry("reportVersion", new RetryOptions(100, 2), undefined, undefined, "0.8");
    return { own: ctx.df.version, explicit, inherited, retried };
  });
  app.orchestration("badChildVersion", function* (ctx) {
    return yield ctx.df.callSubOrchestrator("reportVersion", undefined, undefined, "x".repeat(101));
  });
  app.orchestration("eternal", function* (ctx) {
    const n = ctx.df.getInput<number>();
    if (n < 2) ctx.df.continueAsNew(n + 1);
    return `${n}:${ctx.df.version}`;
  });
}

forEachStore("versions", (start) => {
  it("stamps the host's version on new instances and children; a start or a call may override it", async () => {
    // Stamping, not matching: this host runs every version (the strategies are tested in version-strategies.test.ts).
    const host = await start(register, { version: "1.0", versionMatch: "None" });
    const id = await host.client.startNew("parent");
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, { own: "1.0", explicit: "0.9", inherited: "1.0", retried: "0.8" });
    const history = await storedHistory(host, id);
    const created = history.filter((e) => e.type === "SubOrchestrationInstanceCreated").map((e) => (e as { version?: string }).version);
    assert.deepEqual(created, ["0.9", "1.0", "0.8"], "the version each child got is in the parent's history");

    const pinned = await host.client.startNew("reportVersion", { version: "2.0-beta" });
    assert.equal((await host.client.waitForCompletion(pinned)).output, "2.0-beta");
    await assert.rejects(host.client.startNew("reportVersion", { version: 2 as never }), { code: "INVALID_ARGUMENT", message: /^The version of the new instance must be a string of at most 100 printable characters, got number/ });
    await assert.rejects(host.client.startNew("reportVersion", { version: "a\nb" }), { code: "INVALID_ARGUMENT" });
    const badChild = await host.client.startNew("badChildVersion");
    const failed = await host.client.waitForCompletion(badChild);
    assert.equal(failed.runtimeStatus, "Failed");
    assert.match(String(failed.output), /The version of sub-orchestration 'reportVersion' must be a string of at most 100 printable characters/);
  });

  it("a remote client's start carries its version over HTTP", async () => {
    const host = await start(register, { version: "1.0", versionMatch: "None", port: 0 });
    const remote = createRemoteClient(host.url!);
    const pinned = await remote.startNew("reportVersion", { version: "4.2" });
    assert.equal((await remote.waitForCompletion(pinned)).output, "4.2");
    const plain = await remote.startNew("reportVersion");
    assert.equal((await remote.waitForCompletion(plain)).output, "1.0");
    const refused = await fetch(`${host.url!}/runtime/webhooks/durabletask/orchestrators/reportVersion?version=${"v".repeat(101)}`, { method: "POST" });
    assert.equal(refused.status, 400);
  });

  it("keeps the version across continueAsNew, and is empty without one", async () => {
    const host = await start(register, { version: "3" });
    const id = await host.client.startNew("eternal", { input: 0 });
    assert.equal((await host.client.waitForCompletion(id)).output, "2:3");
    const bare = await start(register);
    const plain = await bare.client.startNew("reportVersion");
    assert.equal((await bare.client.waitForCompletion(plain)).output, "");
  });

  it("shows each instance's version in its status and filters lists and counts by it, in process and over HTTP", async () => {
    const host = await start(register, { version: "1.0", versionMatch: "None", port: 0 });
    const parent = await host.client.startNew("parent");
    await host.client.waitForCompletion(parent);
    const pinned = await host.client.startNew("reportVersion", { version: "2.0" });
    await host.client.waitForCompletion(pinned);
    const status = await host.client.getStatus(parent);
    assert.equal(status.version, "1.0");
    assert.equal((await host.client.getStatus(pinned)).version, "2.0");

    const remote = createRemoteClient(host.url!);
    assert.equal((await remote.getStatus(pinned)).version, "2.0", "the wire carries it");
    for (const client of [host.client, remote]) {
      const ids = async (version: string): Promise<string[]> => (await client.getStatusBy({ version })).map((s) => s.instanceId).sort();
      // The parent and its inherited child are 1.0; the explicit children 0.9 and 0.8; the pinned start 2.0.
      assert.equal((await ids("1.0")).length, 2);
      assert.ok((await ids("1.0")).includes(parent));
      assert.deepEqual(await ids("2.0"), [pinned]);
      assert.equal((await ids("0.9")).length, 1);
      assert.deepEqual(await ids("1"), [], "exact, not a prefix");
      const page = await client.listInstances({ version: "1.0", runtimeStatus: ["Completed"], pageSize: 1 });
      assert.equal(page.instances.length, 1);
      assert.ok(page.continuationToken, "more than a page of 1.0 instances");
      const counts = await client.countInstances({ version: "1.0" });
      assert.equal(counts.Completed, 2);
      assert.equal(counts.Running, 0);
      await assert.rejects(client.getStatusBy({ version: 1 as never }), { code: "INVALID_ARGUMENT", message: /^version must be a non-empty string/ });
    }
    // The management API's own parameter, and the status payload.
    const raw = (await (await fetch(`${host.url!}/runtime/webhooks/durabletask/instances?version=2.0`)).json()) as { instanceId: string; version?: string }[];
    assert.deepEqual(raw.map((r) => [r.instanceId, r.version]), [[pinned, "2.0"]]);
    const one = (await (await fetch(`${host.url!}/runtime/webhooks/durabletask/instances/${parent}`)).json()) as { version?: string };
    assert.equal(one.version, "1.0");
  });

  it("an instance without a version has no version field in its status", async () => {
    const host = await start(register, { port: 0 });
    const id = await host.client.startNew("reportVersion");
    await host.client.waitForCompletion(id);
    assert.equal((await host.client.getStatus(id)).version, undefined);
    const raw = (await (await fetch(`${host.url!}/runtime/webhooks/durabletask/instances/${id}`)).json()) as Record<string, unknown>;
    assert.equal("version" in raw, false);
  });

  it("refuses a version that is not a short string", async () => {
    await assert.rejects(start(register, { version: 7 as never }), { code: "INVALID_ARGUMENT", message: /^The host's version must be a string/ });
    await assert.rejects(start(register, { version: "x".repeat(101) }), { code: "INVALID_ARGUMENT" });
  });
});
