import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { LockingRulesViolationError } from "../../src/core/errors.js";
import { LockHandle } from "../../src/core/entity-tasks.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import type { DurableClient } from "../../src/client/durable-client.js";
import { eventually, forEachStore } from "../helpers/hosts.js";
import { type CaughtError, caught, completed, eid, stateEventually } from "./helpers.js";

interface Account {
  balance: number;
  pending: boolean;
  audits: number;
  sawPending: number;
}

const ACCOUNTS = ["a", "b", "c", "d", "e"];
const acct = (key: string): EntityId => new EntityId("account", key);

function registerAccounts(app: DurableApp): void {
  app.entity<Account>("account", (ctx) => {
    const s = ctx.df.getState(() => ({ balance: 0, pending: false, audits: 0, sawPending: 0 }));
    const input = ctx.df.getInput<unknown>();
    switch (ctx.df.operationName) {
      case "get":
        ctx.df.return(s.balance);
        return;
      case "state":
        ctx.df.return(s);
        return;
      case "seed":
      case "deposit":
        s.balance += input as number;
        break;
      case "withdraw":
        if ((input as number) > s.balance) throw new Error(`insufficient funds: ${s.balance} < ${String(input)}`);
        s.balance -= input as number;
        break;
      case "setPending":
        s.pending = input as boolean;
        break;
      case "audit":
        // Runs only outside critical sections: it must never see a transfer half done.
        s.audits++;
        if (s.pending) s.sawPending++;
        break;
      default:
        throw new Error(`unknown operation ${String(ctx.df.operationName)}`);
    }
    ctx.df.setState(s);
    ctx.df.return(s.balance);
  });

  app.orchestration("transfer", function* (ctx) {
    const { lockOrder, from, to, amount } = ctx.df.getInput<{ lockOrder: string[]; from: string; to: string; amount: number }>();
    const src = acct(from);
    const dst = acct(to);
    const handle: LockHandle = yield ctx.df.lock(lockOrder.map(acct));
    const locked = ctx.df.lockedEntities.map((e) => e.key).sort();
    const [before1, before2]: number[] = yield ctx.df.Task.all([ctx.df.callEntity(src, "get"), ctx.df.callEntity(dst, "get")]);
    yield ctx.df.Task.all([ctx.df.callEntity(src, "setPending", true), ctx.df.callEntity(dst, "setPending", true)]);
    yield ctx.df.callEntity(src, "withdraw", amount);
    yield ctx.df.callEntity(dst, "deposit", amount);
    const after1: number = yield ctx.df.callEntity(src, "get");
    const after2: number = yield ctx.df.callEntity(dst, "get");
    yield ctx.df.Task.all([ctx.df.callEntity(src, "setPending", false), ctx.df.callEntity(dst, "setPending", false)]);
    handle.release();
    const stillLocked = ctx.df.lockedEntities.length;
    return {
      locked,
      handleEntities: handle.entities.map((e) => e.toString()),
      // Nobody else's operations interleaved: the balances moved exactly by this transfer.
      consistent: after1 === before1! - amount && after2 === before2! + amount,
      stillLocked,
    };
  });
}

forEachStore("critical sections", (start) => {
  it("20 transfers in crossing lock orders over 5 accounts: all finish, the total is unchanged, no audit sees a half-done transfer", { timeout: 60_000 }, async () => {
    const host = await start(registerAccounts);
    for (const k of ACCOUNTS) await host.client.signalEntity(eid("account", k), "seed", 1000);
    for (const k of ACCOUNTS) await stateEventually<Account>(host.client, eid("account", k), (v) => v?.balance === 1000);

    const ids: string[] = [];
    const expected: Record<string, string[]> = {};
    for (let i = 0; i < 20; i++) {
      const x = ACCOUNTS[i % 5]!;
      const y = ACCOUNTS[((i % 5) + 1 + (Math.floor(i / 5) % 4)) % 5]!;
      assert.notEqual(x, y);
      // Crossing orders: half lock [x, y], half [y, x]; the direction of the transfer varies too.
      const lockOrder = i % 2 === 0 ? [x, y] : [y, x];
      const [from, to] = i % 3 === 0 ? [y, x] : [x, y];
      const instanceId = `transfer-${i}`;
      expected[instanceId] = [x, y].sort();
      ids.push(await host.client.startNew("transfer", { instanceId, input: { lockOrder, from, to, amount: 1 + i } }));
    }

    // Meanwhile, a stream of audits from outside any section.
    let audits = 0;
    let done = false;
    const auditor = (async () => {
      while (!done) {
        for (const k of ACCOUNTS) {
          await host.client.signalEntity(eid("account", k), "audit");
          audits++;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (const id of ids) {
        const out = (await completed(host.client, id, 45_000)).output as { locked: string[]; handleEntities: string[]; consistent: boolean; stillLocked: number };
        assert.deepEqual(out.locked, expected[id], `${id} held both accounts`);
        assert.deepEqual([...out.handleEntities].sort(), expected[id]!.map((k) => `@account@${k}`));
        assert.equal(out.consistent, true, `${id}: no one else's operation interleaved with the section`);
        assert.equal(out.stillLocked, 0, "release() ends the section");
      }
    } finally {
      done = true;
      await auditor;
    }
    assert.ok(audits >= 5);
    const states = await Promise.all(
      ACCOUNTS.map(async (k) => (await stateEventually<Account>(host.client, eid("account", k), (v) => v !== undefined && !v.pending && v.audits === audits / 5, 20_000, `audits of ${k}`))!),
    );
    assert.equal(
      states.reduce((t, s) => t + s.balance, 0),
      5000,
      "the total across accounts is unchanged",
    );
    for (const [i, s] of states.entries()) {
      assert.equal(s.sawPending, 0, `account ${ACCOUNTS[i]}: an audit ran inside a critical section`);
      assert.equal(s.pending, false);
    }
    assert.ok(
      states.some((s) => s.balance !== 1000),
      "money moved",
    );
  });

  it("locking rules: each violation is a LockingRulesViolationError, thrown where it happens", async () => {
    const host = await start((app) => {
      registerAccounts(app);
      app.orchestration("child", function* () {
        return "child ran";
      });
      app.orchestration("violations", function* (ctx) {
        const [a, b, c] = [acct("ra"), acct("rb"), acct("rc")];
        const errors: Record<string, CaughtError & { isLockingRulesViolation: boolean }> = {};
        const attempt = (name: string, fn: () => unknown): void => {
          try {
            fn();
            errors[name] = { name: "none", code: undefined, message: "no error", isLockingRulesViolation: false };
          } catch (err) {
            errors[name] = { ...caught(err), isLockingRulesViolation: err instanceof LockingRulesViolationError };
          }
        };
        const handle: LockHandle = yield ctx.df.lock(a, [b]);
        attempt("nestedLock", () => ctx.df.lock(c));
        attempt("nestedLockSame", () => ctx.df.lock(a));
        attempt("callNotLocked", () => ctx.df.callEntity(c, "get"));
        attempt("signalLocked", () => ctx.df.signalEntity(a, "deposit", 1));
        attempt("subOrchestration", () => ctx.df.callSubOrchestrator("child"));
        attempt("subOrchestrationWithRetry", () => ctx.df.callSubOrchestratorWithRetry("child", new RetryOptions(1000, 2)));
        // Parallel calls to different locked entities are fine, and so are sequential calls to one.
        const results: number[] = yield ctx.df.Task.all([ctx.df.callEntity(a, "deposit", 5), ctx.df.callEntity(b, "deposit", 7)]);
        const again: number = yield ctx.df.callEntity(a, "get");
        // Two parallel calls to one locked entity are refused (b is not called again in this section).
        try {
          yield ctx.df.Task.all([ctx.df.callEntity(b, "deposit", 1), ctx.df.callEntity(b, "get")]);
          errors.parallelSameEntity = { name: "none", code: undefined, message: "no error", isLockingRulesViolation: false };
        } catch (err) {
          errors.parallelSameEntity = { ...caught(err), isLockingRulesViolation: err instanceof LockingRulesViolationError };
        }
        ctx.df.signalEntity(c, "deposit", 3);
        handle.release();
        // After the release everything is allowed again.
        const unlocked: number = yield ctx.df.callEntity(c, "deposit", 4);
        ctx.df.signalEntity(a, "deposit", 100);
        const child: string = yield ctx.df.callSubOrchestrator("child");
        const relock: LockHandle = yield ctx.df.lock(c);
        const inSecond: number = yield ctx.df.callEntity(c, "get");
        relock.release();
        return { errors, results, again, unlocked, child, inSecond };
      });
    });
    const id = await host.client.startNew("violations");
    const out = (await completed(host.client, id)).output as {
      errors: Record<string, CaughtError & { isLockingRulesViolation: boolean }>;
      results: number[];
      again: number;
      unlocked: number;
      child: string;
      inSecond: number;
    };
    const expectations: Record<string, RegExp> = {
      nestedLock: /nested/i,
      nestedLockSame: /nested/i,
      callNotLocked: /only call the entities it locked.*@account@rc/,
      signalLocked: /must not signal an entity it locked.*@account@ra/,
      subOrchestration: /Sub-orchestrations/,
      subOrchestrationWithRetry: /Sub-orchestrations/,
      parallelSameEntity: /parallel.*@account@rb/,
    };
    for (const [name, message] of Object.entries(expectations)) {
      const e = out.errors[name]!;
      assert.equal(e.code, "LOCKING_RULES_VIOLATION", `${name}: ${JSON.stringify(e)}`);
      assert.equal(e.isLockingRulesViolation, true, name);
      assert.match(e.message, message, name);
    }
    assert.deepEqual(out.results, [5, 7]);
    assert.equal(out.again, 5);
    assert.equal(out.unlocked, 7, "the signal sent to c inside the section came first (one sender's messages keep their order)");
    assert.equal(out.child, "child ran");
    assert.equal(out.inSecond, 7);
    await stateEventually<Account>(host.client, eid("account", "rc"), (v) => v?.balance === 7);
    await stateEventually<Account>(host.client, eid("account", "ra"), (v) => v?.balance === 105);
  });

  it("a violation that is not caught fails the orchestration, and its locks are released", async () => {
    const host = await start((app) => {
      registerAccounts(app);
      app.orchestration("breaksRule", function* (ctx) {
        yield ctx.df.lock(acct("u1"));
        ctx.df.signalEntity(acct("u1"), "deposit", 1);
        return "unreachable";
      });
      app.orchestration("useBoth", function* (ctx) {
        const h: LockHandle = yield ctx.df.lock(acct("u1"), acct("u2"));
        const v: number = yield ctx.df.callEntity(acct("u1"), "deposit", 2);
        h.release();
        return v;
      });
    });
    const bad = await host.client.startNew("breaksRule");
    const status = await host.client.waitForCompletion(bad);
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.failureDetails?.code, "LOCKING_RULES_VIOLATION");
    assert.match(JSON.stringify(status.output), /must not signal/);
    const next = await host.client.startNew("useBoth");
    assert.equal((await completed(host.client, next)).output, 2);
    assert.deepEqual((await host.client.readEntityState<Account>(eid("account", "u1"))).entityState?.balance, 2, "the refused signal was never sent");
  });

  it("lock() refuses no entities and ignores duplicates", async () => {
    const host = await start((app) => {
      registerAccounts(app);
      app.orchestration("lockArgs", function* (ctx) {
        let empty: CaughtError | undefined;
        try {
          ctx.df.lock([]);
        } catch (err) {
          empty = caught(err);
        }
        const h: LockHandle = yield ctx.df.lock([acct("dup"), new EntityId("ACCOUNT", "dup")], acct("dup"));
        const v: number = yield ctx.df.callEntity(acct("dup"), "deposit", 1);
        h.release();
        return { empty, entities: h.entities.map((e) => e.toString()), v, isHandle: h instanceof LockHandle };
      });
    });
    const id = await host.client.startNew("lockArgs");
    const out = (await completed(host.client, id)).output as { empty: CaughtError; entities: string[]; v: number; isHandle: boolean };
    assert.equal(out.empty.code, "INVALID_ARGUMENT");
    assert.deepEqual(out.entities, ["@account@dup"]);
    assert.equal(out.v, 1);
    assert.equal(out.isHandle, true);
  });
});

/** An orchestration that locks its input's accounts and then obeys commands sent as events. */
function registerHolder(app: DurableApp): void {
  registerAccounts(app);
  app.orchestration("holder", function* (ctx) {
    const { keys, generation = 0 } = ctx.df.getInput<{ keys: string[]; generation?: number }>();
    const handle: LockHandle = yield ctx.df.lock(keys.map(acct));
    ctx.df.setCustomStatus({ locked: true, generation });
    for (;;) {
      const cmd: string = yield ctx.df.waitForExternalEvent("cmd");
      if (cmd === "peek") {
        const v: number = yield ctx.df.callEntity(acct(keys[0]!), "get");
        ctx.df.setCustomStatus({ locked: true, generation, peek: v });
      } else if (cmd === "release") {
        handle.release();
        return "released";
      } else if (cmd === "end") {
        return "ended holding the locks";
      } else if (cmd === "throw") {
        throw new Error("failing while holding the locks");
      } else if (cmd === "continue") {
        if (generation === 0) {
          ctx.df.continueAsNew({ keys, generation: 1 });
          return;
        }
        return `generation ${generation} ends`;
      }
    }
  });
  app.orchestration("lockAndDeposit", function* (ctx) {
    const keys = ctx.df.getInput<string[]>();
    const handle: LockHandle = yield ctx.df.lock(keys.map(acct));
    const out: number[] = [];
    for (const k of keys) out.push((yield ctx.df.callEntity(acct(k), "deposit", 10)) as number);
    handle.release();
    return out;
  });
}

forEachStore("critical sections end with the orchestration", (start) => {
  const locked = async (client: DurableClient, id: string, generation = 0): Promise<void> => {
    await eventually(async () => {
      const s = (await client.getStatus(id)).customStatus as { locked?: boolean; generation?: number } | null;
      return s?.locked === true && s.generation === generation;
    }, 10_000, `${id} to hold its locks`);
  };

  it("while a section holds an entity, others' operations wait; they run after the release", async () => {
    const host = await start(registerHolder);
    const h = await host.client.startNew("holder", { input: { keys: ["w1"] } });
    await locked(host.client, h);
    await host.client.signalEntity(eid("account", "w1"), "deposit", 50);
    const other = await host.client.startNew("lockAndDeposit", { input: ["w1"] });
    await host.client.raiseEvent(h, "cmd", "peek");
    await eventually(async () => ((await host.client.getStatus(h)).customStatus as { peek?: number }).peek !== undefined);
    assert.equal(((await host.client.getStatus(h)).customStatus as { peek: number }).peek, 0, "the holder's own call ran; the signal and the other lock waited");
    assert.ok(["Pending", "Running"].includes((await host.client.getStatus(other)).runtimeStatus), "the other section waits");
    await host.client.raiseEvent(h, "cmd", "release");
    assert.equal((await completed(host.client, h)).output, "released");
    assert.deepEqual((await completed(host.client, other)).output, [60], "the queued signal ran first, then the waiting section");
  });

  for (const [how, cmd, expectedStatus] of [
    ["ends normally without release()", "end", "Completed"],
    ["throws", "throw", "Failed"],
  ] as const) {
    it(`locks are released when the orchestration ${how}`, async () => {
      const host = await start(registerHolder);
      const h = await host.client.startNew("holder", { input: { keys: ["x1", "x2"] } });
      await locked(host.client, h);
      await host.client.signalEntity(eid("account", "x2"), "deposit", 1); // waits for the lock
      await host.client.raiseEvent(h, "cmd", cmd);
      assert.equal((await host.client.waitForCompletion(h)).runtimeStatus, expectedStatus);
      const next = await host.client.startNew("lockAndDeposit", { input: ["x1", "x2"] });
      assert.deepEqual((await completed(host.client, next)).output, [10, 11]);
    });
  }

  it("locks are released when the orchestration is terminated while holding them", async () => {
    const host = await start(registerHolder);
    const h = await host.client.startNew("holder", { input: { keys: ["t1", "t2"] } });
    await locked(host.client, h);
    await host.client.signalEntity(eid("account", "t1"), "deposit", 5);
    await host.client.terminate(h, "stop");
    assert.equal((await host.client.waitForCompletion(h)).runtimeStatus, "Terminated");
    await stateEventually<Account>(host.client, eid("account", "t1"), (v) => v?.balance === 5, 10_000, "the queued signal to run after the termination");
    const next = await host.client.startNew("lockAndDeposit", { input: ["t2", "t1"] });
    assert.deepEqual((await completed(host.client, next)).output, [10, 15]);
  });

  it("locks are released when a suspended orchestration holding them is terminated", async () => {
    const host = await start(registerHolder);
    const h = await host.client.startNew("holder", { input: { keys: ["s1"] } });
    await locked(host.client, h);
    await host.client.suspend(h, "pause");
    await eventually(async () => (await host.client.getStatus(h)).runtimeStatus === "Suspended");
    await host.client.terminate(h, "stop");
    assert.equal((await host.client.waitForCompletion(h)).runtimeStatus, "Terminated");
    const next = await host.client.startNew("lockAndDeposit", { input: ["s1"] });
    assert.deepEqual((await completed(host.client, next)).output, [10]);
  });

  it("a section terminated while still waiting for its locks does not block later ones", async () => {
    const host = await start(registerHolder);
    const first = await host.client.startNew("holder", { input: { keys: ["q1"] } });
    await locked(host.client, first);
    // The second waits behind the first, for q1 (and q2 after it in the global order).
    const waiting = await host.client.startNew("holder", { input: { keys: ["q2", "q1"] } });
    await eventually(async () => (await host.client.getStatus(waiting)).runtimeStatus === "Running");
    await host.client.terminate(waiting, "give up");
    assert.equal((await host.client.waitForCompletion(waiting)).runtimeStatus, "Terminated");
    await host.client.raiseEvent(first, "cmd", "release");
    await completed(host.client, first);
    const next = await host.client.startNew("lockAndDeposit", { input: ["q1", "q2"] });
    assert.deepEqual((await completed(host.client, next)).output, [10, 10]);
  });

  it("an orchestration that failed inside a critical section cannot be rewound (its locks were released); restart works", async () => {
    let failures = 1;
    const host = await start((app) => {
      registerHolder(app);
      app.activity("flaky", {
        handler: () => {
          if (failures-- > 0) throw new Error("flaky once");
          return "ok";
        },
      });
      app.orchestration("sectionWithFlakyStep", function* (ctx) {
        const id = acct("rw");
        const h: LockHandle = yield ctx.df.lock(id);
        yield ctx.df.callEntity(id, "deposit", 1);
        yield ctx.df.callActivity("flaky");
        const v: number = yield ctx.df.callEntity(id, "deposit", 10);
        h.release();
        return v;
      });
    });
    const id = await host.client.startNew("sectionWithFlakyStep");
    const failed = await host.client.waitForCompletion(id);
    assert.equal(failed.runtimeStatus, "Failed");
    await assert.rejects(host.client.rewind(id, "try again"), { code: "INVALID_INSTANCE_STATE", message: /failed inside a critical section.*Restart it instead/ });
    // The entity was released at the failure: others can use it, and a restart runs the section again.
    const next = await host.client.startNew("lockAndDeposit", { input: ["rw"] });
    assert.deepEqual((await completed(host.client, next)).output, [11]);
    const again = await host.client.restart(id);
    assert.equal((await completed(host.client, again)).output, 22);
  });

  it("locks are released when the orchestration continues as new; the next execution can lock them again", async () => {
    const host = await start(registerHolder);
    const h = await host.client.startNew("holder", { input: { keys: ["n1", "n2"] } });
    await locked(host.client, h, 0);
    await host.client.raiseEvent(h, "cmd", "continue");
    await locked(host.client, h, 1);
    await host.client.raiseEvent(h, "cmd", "peek");
    await eventually(async () => ((await host.client.getStatus(h)).customStatus as { peek?: number }).peek === 0);
    await host.client.raiseEvent(h, "cmd", "continue");
    assert.equal((await completed(host.client, h)).output, "generation 1 ends");
    const next = await host.client.startNew("lockAndDeposit", { input: ["n1", "n2"] });
    assert.deepEqual((await completed(host.client, next)).output, [10, 10]);
  });
});
