import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { EntityOperationFailedError } from "../../src/core/errors.js";
import { eventually, forEachStore } from "../helpers/hosts.js";
import { type CaughtError, caught, completed, eid, stateEventually } from "./helpers.js";

interface Probe {
  entityName: string;
  entityKey: string;
  entityId: string;
  entityIdIsEntityId: boolean;
  operationName: string | undefined;
  isNewlyConstructed: boolean;
  input: unknown;
}

interface Box {
  value: number;
}

/** An entity that answers with everything its context says, and a few state helpers. */
function registerProbe(app: DurableApp): void {
  app.entity<Box>("Probe", (ctx) => {
    const df = ctx.df;
    const probe: Probe = {
      entityName: df.entityName,
      entityKey: df.entityKey,
      entityId: df.entityId.toString(),
      entityIdIsEntityId: df.entityId instanceof EntityId,
      operationName: df.operationName,
      isNewlyConstructed: df.isNewlyConstructed,
      input: df.getInput() ?? "(none)",
    };
    switch (df.operationName === "Probe" ? "probe" : df.operationName) {
      case "probe":
        df.return(probe);
        break;
      case "set":
        df.setState({ value: df.getInput<number>() });
        df.return(probe);
        break;
      case "getNoInit":
        df.return({ state: df.getState() ?? "(undefined)" });
        break;
      case "getWithInit":
        // The initializer's value is returned but not stored (no setState).
        df.return({ state: df.getState(() => ({ value: 42 })) });
        break;
      case "incrWithInit": {
        const s = df.getState(() => ({ value: 100 }));
        s.value += 1;
        df.setState(s);
        df.return(s.value);
        break;
      }
      case "noReturn":
        break;
      case "destroy":
        df.setState({ value: -1 }); // destructOnExit wins over a setState in the same operation
        df.destructOnExit();
        df.return("bye");
        break;
    }
  });
}

function registerCaller(app: DurableApp): void {
  /** Calls each operation of its input in turn and returns their results (or caught errors). */
  app.orchestration("callMany", function* (ctx) {
    const { name, key, ops } = ctx.df.getInput<{ name: string; key: string; ops: { op: string; input?: unknown }[] }>();
    const id = new EntityId(name, key);
    const results: unknown[] = [];
    for (const { op, input } of ops) {
      try {
        // An operation without a return value gives undefined, which an array cannot store as JSON.
        results.push((yield ctx.df.callEntity(id, op, input)) ?? null);
      } catch (err) {
        results.push({ error: caught(err) });
      }
    }
    return results;
  });
}

forEachStore("entity context", (start) => {
  it("exposes entityName, entityKey, entityId, operationName, isNewlyConstructed and getInput", async () => {
    const host = await start((app) => {
      registerProbe(app);
      registerCaller(app);
    });
    const id = await host.client.startNew("callMany", {
      input: {
        name: "PROBE",
        key: "Key-1",
        ops: [{ op: "probe" }, { op: "probe", input: { a: [1, "x"] } }, { op: "set", input: 5 }, { op: "probe", input: 0 }, { op: "Probe" }],
      },
    });
    const [first, second, set, after, upper] = (await completed(host.client, id)).output as Probe[];
    assert.deepEqual(first, {
      entityName: "probe",
      entityKey: "Key-1",
      entityId: "@probe@Key-1",
      entityIdIsEntityId: true,
      operationName: "probe",
      isNewlyConstructed: true,
      input: "(none)",
    });
    assert.deepEqual(second!.input, { a: [1, "x"] }, "getInput returns the parsed input");
    assert.equal(second!.isNewlyConstructed, true, "an operation that stored nothing leaves the entity unconstructed");
    assert.equal(set!.isNewlyConstructed, true);
    assert.equal(set!.input, 5);
    assert.equal(after!.isNewlyConstructed, false, "after setState the entity exists");
    assert.equal(after!.input, 0, "a falsy input is still an input");
    assert.equal(upper!.operationName, "Probe", "operationName is passed as sent");
    assert.deepEqual(await host.client.readEntityState(eid("probe", "Key-1")), { entityExists: true, entityState: { value: 5 } });
  });

  it("getState with and without an initializer; the initializer's value is not stored until setState", async () => {
    const host = await start((app) => {
      registerProbe(app);
      registerCaller(app);
    });
    const id = await host.client.startNew("callMany", {
      input: { name: "probe", key: "s", ops: [{ op: "getNoInit" }, { op: "getWithInit" }, { op: "getNoInit" }, { op: "incrWithInit" }, { op: "incrWithInit" }, { op: "getWithInit" }, { op: "noReturn" }] },
    });
    const out = (await completed(host.client, id)).output as unknown[];
    assert.deepEqual(out.slice(0, 6), [{ state: "(undefined)" }, { state: { value: 42 } }, { state: "(undefined)" }, 101, 102, { state: { value: 102 } }]);
    assert.equal(out[6], null, `an operation without return gives the caller nothing (got ${JSON.stringify(out[6])})`);
    assert.deepEqual(await host.client.readEntityState(eid("probe", "s")), { entityExists: true, entityState: { value: 102 } });

    // Only reads, with an initializer: nothing is stored.
    const readOnly = await host.client.startNew("callMany", { input: { name: "probe", key: "ro", ops: [{ op: "getWithInit" }] } });
    assert.deepEqual((await completed(host.client, readOnly)).output, [{ state: { value: 42 } }]);
    assert.deepEqual(await host.client.readEntityState(eid("probe", "ro")), { entityExists: false });
  });

  it("destructOnExit deletes state and existence; the next operation starts newly constructed", async () => {
    const host = await start((app) => {
      registerProbe(app);
      registerCaller(app);
    });
    const id = await host.client.startNew("callMany", {
      input: { name: "probe", key: "d", ops: [{ op: "set", input: 7 }, { op: "destroy" }, { op: "getNoInit" }, { op: "probe" }] },
    });
    const [, bye, state, probe] = (await completed(host.client, id)).output as [unknown, string, unknown, Probe];
    assert.equal(bye, "bye", "a destructing operation still returns its result");
    assert.deepEqual(state, { state: "(undefined)" });
    assert.equal(probe.isNewlyConstructed, true);
    assert.deepEqual(await host.client.readEntityState(eid("probe", "d")), { entityExists: false });
    const page = await host.client.listEntities({ entityName: "probe" });
    assert.equal(
      page.entities.some((e) => e.entityId.key === "d"),
      false,
      "a destructed entity is not listed",
    );
  });

  it("sync and async handlers (an async handler awaiting a timer) both work and run serially", async () => {
    const host = await start((app) => {
      app.entity<number>("syncCounter", (ctx) => {
        ctx.df.setState((ctx.df.getState(() => 0) ?? 0) + ctx.df.getInput<number>());
        ctx.df.return(ctx.df.getState());
      });
      app.entity<{ log: string[] }>("slowLog", async (ctx) => {
        const s = ctx.df.getState(() => ({ log: [] }));
        s.log.push(`start ${ctx.df.getInput<number>()}`);
        await new Promise((r) => setTimeout(r, 5));
        s.log.push(`end ${ctx.df.getInput<number>()}`);
        ctx.df.setState(s);
        ctx.df.return(s.log.length);
      });
      app.orchestration("both", function* (ctx) {
        const a: number = yield ctx.df.callEntity(new EntityId("syncCounter", "x"), "add", 2);
        const b: number = yield ctx.df.callEntity(new EntityId("slowLog", "x"), "append", 1);
        return [a, b];
      });
    });
    const id = await host.client.startNew("both");
    assert.deepEqual((await completed(host.client, id)).output, [2, 2]);
    // Signals to the async entity: each operation finishes before the next starts.
    for (let i = 2; i <= 6; i++) await host.client.signalEntity(eid("slowLog", "x"), "append", i);
    const s = await stateEventually<{ log: string[] }>(host.client, eid("slowLog", "x"), (v) => (v?.log.length ?? 0) === 12);
    assert.deepEqual(
      s!.log,
      [1, 2, 3, 4, 5, 6].flatMap((i) => [`start ${i}`, `end ${i}`]),
    );
  });

  it("signalEntity from an entity, immediate and scheduled (arrives later, never earlier)", async () => {
    const host = await start((app) => {
      app.entity<{ got: unknown[]; at: number[] }>("sink", (ctx) => {
        const s = ctx.df.getState(() => ({ got: [], at: [] }));
        s.got.push(ctx.df.getInput());
        s.at.push(Date.now());
        ctx.df.setState(s);
      });
      app.entity<number>("relay", (ctx) => {
        const { to, value, delayMs } = ctx.df.getInput<{ to: string; value: unknown; delayMs?: number }>();
        if (delayMs === undefined) {
          ctx.df.signalEntity(new EntityId("sink", to), "take", value);
        } else {
          const when = Date.now() + delayMs;
          ctx.df.signalEntity(new EntityId("sink", to), "take", { value, notBefore: when }, new Date(when));
        }
        ctx.df.setState((ctx.df.getState(() => 0) ?? 0) + 1);
      });
    });
    await host.client.signalEntity(eid("relay", "r"), "forward", { to: "now", value: "hello" });
    const now = await stateEventually<{ got: unknown[] }>(host.client, eid("sink", "now"), (v) => (v?.got.length ?? 0) === 1);
    assert.deepEqual(now!.got, ["hello"]);

    await host.client.signalEntity(eid("relay", "r"), "forward", { to: "later", value: "late", delayMs: 400 });
    await stateEventually<number>(host.client, eid("relay", "r"), (v) => v === 2);
    // The relay has run; the sink must not have it yet (the signal is due ~400 ms after the relay ran).
    const early = await host.client.readEntityState<{ got: unknown[] }>(eid("sink", "later"));
    assert.equal(early.entityExists, false, "a scheduled signal is not delivered early");
    const later = await stateEventually<{ got: { value: string; notBefore: number }[]; at: number[] }>(host.client, eid("sink", "later"), (v) => (v?.got.length ?? 0) === 1);
    assert.equal(later!.got[0]!.value, "late");
    assert.ok(later!.at[0]! >= later!.got[0]!.notBefore, `delivered at ${later!.at[0]}, scheduled for ${later!.got[0]!.notBefore}`);
  });

  it("signals from one entity to another arrive in the order they were sent, also to itself", async () => {
    const host = await start((app) => {
      app.entity<number[]>("seqSink", (ctx) => ctx.df.setState([...(ctx.df.getState(() => []) ?? []), ctx.df.getInput<number>()]));
      app.entity<number>("burst", (ctx) => {
        const round = ctx.df.getInput<number>();
        for (let i = 0; i < 10; i++) ctx.df.signalEntity(new EntityId("seqSink", "s"), "append", round * 10 + i);
        // A signal to itself runs in a later batch, after this operation committed.
        if (round < 4) ctx.df.signalEntity(ctx.df.entityId, "burst", round + 1);
        ctx.df.setState(round);
      });
    });
    await host.client.signalEntity(eid("burst", "b"), "burst", 0);
    const got = await stateEventually<number[]>(host.client, eid("seqSink", "s"), (v) => (v?.length ?? 0) === 50);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
    assert.equal((await host.client.readEntityState(eid("burst", "b"))).entityState, 4);
  });

  it("orchestrations signal entities (one-way) and call them (two-way)", async () => {
    const host = await start((app) => {
      app.entity<number>("counter", (ctx) => {
        const v = ctx.df.getState(() => 0);
        if (ctx.df.operationName === "add") ctx.df.setState(v + ctx.df.getInput<number>());
        else ctx.df.return(v);
      });
      app.orchestration("signaller", function* (ctx) {
        const id = new EntityId("counter", "o");
        for (let i = 1; i <= 5; i++) ctx.df.signalEntity(id, "add", i);
        // Messages from one sender arrive in order: the get sees all five adds.
        return yield ctx.df.callEntity(id, "get");
      });
    });
    const id = await host.client.startNew("signaller");
    assert.equal((await completed(host.client, id)).output, 15);
  });

  it("the built-in delete operation removes the entity, whatever the entity function does", async () => {
    const host = await start((app) => {
      registerProbe(app);
      registerCaller(app);
    });
    await host.client.signalEntity(eid("probe", "del"), "set", 3);
    await stateEventually(host.client, eid("probe", "del"), (_v, exists) => exists);
    await host.client.signalEntity(eid("probe", "del"), "delete");
    await stateEventually(host.client, eid("probe", "del"), (_v, exists) => !exists, 10_000, "deleted");
    // Called from an orchestration; the entity then starts afresh.
    const id = await host.client.startNew("callMany", { input: { name: "probe", key: "del2", ops: [{ op: "set", input: 1 }, { op: "delete" }, { op: "probe" }] } });
    const [, deleted, probe] = (await completed(host.client, id)).output as [unknown, unknown, Probe];
    assert.ok(deleted === null || deleted === undefined);
    assert.equal(probe.isNewlyConstructed, true);
    assert.deepEqual(await host.client.readEntityState(eid("probe", "del2")), { entityExists: false });
  });

  it("an operation that throws: the caller gets EntityOperationFailedError, its state change and its signals are rolled back", async () => {
    const host = await start((app) => {
      app.entity<{ n: number }>("fragile", (ctx) => {
        const s = ctx.df.getState(() => ({ n: 0 }));
        switch (ctx.df.operationName) {
          case "add":
            s.n += ctx.df.getInput<number>();
            ctx.df.setState(s);
            ctx.df.signalEntity(new EntityId("tally", "t"), "count", "add");
            ctx.df.return(s.n);
            break;
          case "breakAfterChanges":
            s.n += 1000;
            ctx.df.setState(s); // rolled back
            ctx.df.signalEntity(new EntityId("tally", "t"), "count", "break"); // rolled back
            ctx.df.destructOnExit(); // rolled back too
            throw new Error(`cannot add ${ctx.df.getInput<number>()}`);
          case "get":
            ctx.df.return(s.n);
            break;
        }
      });
      app.entity<string[]>("tally", (ctx) => {
        ctx.df.setState([...(ctx.df.getState(() => []) ?? []), ctx.df.getInput<string>()]);
      });
      app.orchestration("tryIt", function* (ctx) {
        const id = new EntityId("fragile", "f");
        const out: unknown[] = [];
        out.push(yield ctx.df.callEntity(id, "add", 1));
        try {
          yield ctx.df.callEntity(id, "breakAfterChanges", 7);
          out.push("no error");
        } catch (err) {
          out.push({ ...caught(err), isEntityOperationFailed: err instanceof EntityOperationFailedError });
        }
        out.push(yield ctx.df.callEntity(id, "add", 2));
        out.push(yield ctx.df.callEntity(id, "get"));
        return out;
      });
    });
    const id = await host.client.startNew("tryIt");
    const [one, error, three, get] = (await completed(host.client, id)).output as [number, CaughtError & { isEntityOperationFailed: boolean }, number, number];
    assert.equal(one, 1);
    assert.equal(error.isEntityOperationFailed, true);
    assert.equal(error.code, "ENTITY_OPERATION_FAILED");
    assert.equal(error.entityId, "@fragile@f");
    assert.equal(error.operationName, "breakAfterChanges");
    assert.equal(error.failureMessage, "cannot add 7");
    assert.match(error.message, /breakAfterChanges.*@fragile@f.*cannot add 7/);
    assert.equal(three, 3, "the failed operation's +1000 was rolled back");
    assert.equal(get, 3);
    const tally = await stateEventually<string[]>(host.client, eid("tally", "t"), (v) => (v?.length ?? 0) >= 2);
    assert.deepEqual(tally, ["add", "add"], "the failed operation's signal was never sent");
    assert.deepEqual(await host.client.readEntityState(eid("fragile", "f")), { entityExists: true, entityState: { n: 3 } });
  });

  it("an async operation that rejects after awaiting is rolled back like a sync throw", async () => {
    const host = await start((app) => {
      app.entity<number[]>("asyncList", async (ctx) => {
        const list = ctx.df.getState(() => []);
        list.push(ctx.df.getInput<number>());
        ctx.df.setState(list);
        await new Promise((r) => setTimeout(r, 1));
        if (ctx.df.getInput<number>() < 0) throw new Error("no negatives");
        ctx.df.return(list.length);
      });
      app.orchestration("pushAll", function* (ctx) {
        const out: unknown[] = [];
        for (const n of [1, -1, 2]) {
          try {
            out.push(yield ctx.df.callEntity(new EntityId("asyncList", "l"), "push", n));
          } catch (err) {
            out.push(caught(err).failureMessage);
          }
        }
        return out;
      });
    });
    const id = await host.client.startNew("pushAll");
    assert.deepEqual((await completed(host.client, id)).output, [1, "no negatives", 2]);
    assert.deepEqual((await host.client.readEntityState(eid("asyncList", "l"))).entityState, [1, 2]);
  });

  it("a signalled operation that throws does not break the entity; an uncaught call failure fails the orchestration", async () => {
    const host = await start((app) => {
      app.entity<number>("picky", (ctx) => {
        const v = ctx.df.getState(() => 0);
        const n = ctx.df.getInput<number>();
        if (ctx.df.operationName === "get") return ctx.df.return(v);
        ctx.df.setState(v + n);
        if (n < 0) throw new Error("negative");
      });
      app.orchestration("getPicky", function* (ctx) {
        const { op, n } = ctx.df.getInput<{ op: string; n?: number }>();
        return yield ctx.df.callEntity(new EntityId("picky", "p"), op, n);
      });
    });
    for (const n of [1, -5, 2, -7, 3]) await host.client.signalEntity(eid("picky", "p"), "add", n);
    await stateEventually<number>(host.client, eid("picky", "p"), (v) => v === 6, 10_000, "1+2+3 with the negative ones rolled back");
    const id = await host.client.startNew("getPicky", { input: { op: "get" } });
    assert.equal((await completed(host.client, id)).output, 6);

    // Not caught: the orchestration fails with the entity's error.
    const failing = await host.client.startNew("getPicky", { input: { op: "add", n: -1 } });
    const status = await host.client.waitForCompletion(failing);
    assert.equal(status.runtimeStatus, "Failed");
    assert.match(JSON.stringify(status.output), /picky/);
    assert.equal(status.failureDetails?.code, "ENTITY_OPERATION_FAILED");
  });

  it("a call to an entity no host registers waits for a host that has it (marked stranded, logged); terminate ends the caller", async () => {
    const warnings: string[] = [];
    const host = await start(
      (app) => {
        registerProbe(app);
        registerCaller(app);
      },
      { strandedAfterMs: 100, logger: { info: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined } },
    );
    const id = await host.client.startNew("callMany", { input: { name: "NoSuchThing", key: "k", ops: [{ op: "go" }] } });
    const stranded = await eventually(async () => (await host.provider.getInstance("@nosuchthing@k"))?.parked, 10_000, "the entity to be marked stranded");
    assert.equal(stranded.code, "FUNCTION_NOT_FOUND");
    assert.match(stranded.message, /No entity function named 'nosuchthing' is registered on host/);
    assert.ok(warnings.some((w) => w.includes("@nosuchthing@k") && w.includes("waits for a host that has it")), warnings.join("\n"));
    assert.equal((await host.client.getStatus(id)).runtimeStatus, "Running", "the caller waits, nothing failed");
    assert.deepEqual(await host.client.readEntityState(eid("NoSuchThing", "k")), { entityExists: false });
    await host.client.terminate(id, "no such entity");
    assert.equal((await host.client.waitForCompletion(id)).runtimeStatus, "Terminated");
  });
});
