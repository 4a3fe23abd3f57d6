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

  it("refuses a version that is not a short string", async () => {
    await assert.rejects(start(register, { version: 7 as never }), { code: "INVALID_ARGUMENT", message: /^The host's version must be a string/ });
    await assert.rejects(start(register, { version: "x".repeat(101) }), { code: "INVALID_ARGUMENT" });
  });
});
