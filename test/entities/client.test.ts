import assert from "node:assert/strict";
import { it } from "node:test";
import { eventually, forEachStore } from "../helpers/hosts.js";
import { clientEntityTests, registerClientEntities } from "./client-cases.js";
import { completed, eid, stateEventually } from "./helpers.js";

forEachStore("entity client (in process)", (start) => {
  clientEntityTests(async () => {
    const host = await start(registerClientEntities);
    return { client: host.client, local: host.client };
  });

  it("cleanEntityStorage through host.client: an orphan of a finished-and-replaced owner is released too", async () => {
    const host = await start(registerClientEntities);
    const client = host.client;
    const holder = await client.startNew("holdLock", { instanceId: "holder", input: ["reused"] });
    await eventually(async () => (await client.getStatus(holder)).customStatus === "locked");
    await client.purgeInstanceHistory(holder);
    // A new instance under the same ID (another execution) does not own the old lock.
    await client.startNew("lockAndAdd", { instanceId: "holder", input: "other-key" });
    await completed(client, "holder");
    // The new holder's release travels separately from its completion: wait until the entity has it,
    // or the clean-up would (harmlessly) count that lock as orphaned too.
    await eventually(async () => {
      const row = await host.provider.getInstance("@counter@other-key");
      return row?.entityState !== undefined && (JSON.parse(row.entityState) as { lock?: unknown }).lock === undefined;
    });
    assert.equal((await client.cleanEntityStorage()).numberOfOrphanedLocksRemoved, 1);
    const next = await client.startNew("lockAndAdd", { input: "reused" });
    assert.equal((await completed(client, next)).output, 10);
  });

  it("cleanEntityStorage counts only entities it really removes (a row waiting for a scheduled signal stays and is not counted)", async () => {
    const host = await start(registerClientEntities);
    const due = Date.now() + 1_000;
    await host.client.signalEntity(eid("counter", "scheduled"), "addLater", { amount: 1, notBefore: due }, { signalTime: new Date(due) });
    const first = await host.client.cleanEntityStorage();
    const second = await host.client.cleanEntityStorage();
    assert.ok(await host.provider.getInstance("@counter@scheduled"), "the row stays: a signal waits for it");
    assert.deepEqual([first, second], [
      { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 0 },
      { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 0 },
    ]);
    await stateEventually<{ n: number }>(host.client, eid("counter", "scheduled"), (v) => v?.n === 1);
  });
});
