import assert from "node:assert/strict";
import { it } from "node:test";
import { EntityId } from "../../src/core/entity-id.js";
import { forEachStore } from "../helpers/hosts.js";
import { completed, eid, stateEventually } from "./helpers.js";

interface AddInput {
  sender: string;
  seq: number;
  amount: number;
}

interface Ledger {
  sum: number;
  ops: number;
  /** Per sender, the seq numbers in the order they were applied. */
  seqs: Record<string, number[]>;
  /** Senders whose seq did not follow the previous one directly (should stay empty). */
  outOfOrder: string[];
}

const CLIENTS = 10;
const SIGNALS_PER_CLIENT = 100;
const ORCHESTRATIONS = 20;
const CALLS_PER_ORCHESTRATION = 10;

/** Deterministic, distinct amounts, so a lost or doubled operation changes the sum. */
const amountOf = (senderIndex: number, seq: number): number => senderIndex * 1000 + seq + 1;

forEachStore("entity concurrency", (start) => {
  it("10 clients x 100 signals and 20 orchestrations x 10 calls on one counter: exact sum, each sender's order kept", { timeout: 60_000 }, async () => {
    const host = await start((app) => {
      app.entity<Ledger>("ledger", (ctx) => {
        const s = ctx.df.getState(() => ({ sum: 0, ops: 0, seqs: {}, outOfOrder: [] }));
        if (ctx.df.operationName === "get") {
          ctx.df.return(s);
          return;
        }
        const { sender, seq, amount } = ctx.df.getInput<AddInput>();
        const seen = (s.seqs[sender] ??= []);
        if (seq !== (seen.at(-1) ?? -1) + 1 && !s.outOfOrder.includes(sender)) s.outOfOrder.push(sender);
        seen.push(seq);
        s.sum += amount;
        s.ops += 1;
        ctx.df.setState(s);
        ctx.df.return(s.sum);
      });
      app.orchestration("adder", function* (ctx) {
        const { sender, index } = ctx.df.getInput<{ sender: string; index: number }>();
        const id = new EntityId("ledger", "one");
        const sums: number[] = [];
        for (let seq = 0; seq < CALLS_PER_ORCHESTRATION; seq++) {
          const input: AddInput = { sender, seq, amount: amountOf(index, seq) };
          sums.push((yield ctx.df.callEntity(id, "add", input)) as number);
        }
        return sums;
      });
    });
    const id = eid("ledger", "one");

    const orchestrations: { sender: string; index: number; instanceId: string }[] = [];
    const starting = (async () => {
      for (let o = 0; o < ORCHESTRATIONS; o++) {
        const sender = `orch-${o}`;
        const index = CLIENTS + o;
        orchestrations.push({ sender, index, instanceId: await host.client.startNew("adder", { instanceId: sender, input: { sender, index } }) });
      }
    })();
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      const sender = `client-${c}`;
      for (let seq = 0; seq < SIGNALS_PER_CLIENT; seq++) {
        const input: AddInput = { sender, seq, amount: amountOf(c, seq) };
        await host.client.signalEntity(id, "add", input);
      }
    });
    await Promise.all([starting, ...clients]);

    const totalOps = CLIENTS * SIGNALS_PER_CLIENT + ORCHESTRATIONS * CALLS_PER_ORCHESTRATION;
    let expectedSum = 0;
    for (let c = 0; c < CLIENTS; c++) for (let seq = 0; seq < SIGNALS_PER_CLIENT; seq++) expectedSum += amountOf(c, seq);
    for (let o = 0; o < ORCHESTRATIONS; o++) for (let seq = 0; seq < CALLS_PER_ORCHESTRATION; seq++) expectedSum += amountOf(CLIENTS + o, seq);

    for (const o of orchestrations) {
      const sums = (await completed(host.client, o.instanceId, 45_000)).output as number[];
      assert.equal(sums.length, CALLS_PER_ORCHESTRATION);
      for (let i = 1; i < sums.length; i++) assert.ok(sums[i]! > sums[i - 1]!, `${o.sender}: each call sees a larger running sum`);
    }
    const state = (await stateEventually<Ledger>(host.client, id, (v) => (v?.ops ?? 0) >= totalOps, 45_000, `all ${totalOps} operations`))!;

    assert.equal(state.ops, totalOps, "no operation applied twice");
    assert.equal(state.sum, expectedSum, "the sum is exact");
    assert.deepEqual(state.outOfOrder, [], "every sender's operations were applied in its sending order");
    const senders = [...Array.from({ length: CLIENTS }, (_, c) => [`client-${c}`, SIGNALS_PER_CLIENT] as const), ...Array.from({ length: ORCHESTRATIONS }, (_, o) => [`orch-${o}`, CALLS_PER_ORCHESTRATION] as const)];
    assert.deepEqual(Object.keys(state.seqs).sort(), senders.map(([s]) => s).sort());
    for (const [sender, n] of senders) {
      assert.deepEqual(state.seqs[sender], Array.from({ length: n }, (_, i) => i), `${sender}: strictly increasing, none missing, none duplicated`);
    }
    // Nothing more arrives later (no duplicate delivery after the fact).
    const again = await host.client.readEntityState<Ledger>(id);
    assert.equal(again.entityState!.ops, totalOps);
  });
});
