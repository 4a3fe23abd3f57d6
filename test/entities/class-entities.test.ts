import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import * as df from "../../src/index.js";
import { forEachStore } from "../helpers/hosts.js";
import { type CaughtError, caught, completed, eid, stateEventually } from "./helpers.js";

class Counter {
  value = 0;
  calls = 0;
  add(amount: number): number {
    this.value += amount;
    this.calls++;
    return this.value;
  }
  reset(): void {
    this.value = 0;
    this.calls++;
  }
  get(): number {
    return this.value;
  }
  async slowDouble(): Promise<number> {
    await new Promise((r) => setTimeout(r, 2));
    this.value *= 2;
    return this.value;
  }
  fail(message: string): never {
    this.value = -999; // rolled back
    throw new Error(message);
  }
  /** Not an operation: leading underscore. */
  _secret(): string {
    return "hidden";
  }
}

/** Inherited methods are operations too. */
class NamedCounter extends Counter {
  name = "";
  rename(name: string): string {
    this.name = name;
    return this.name;
  }
}

function register(app: DurableApp): void {
  app.entity("Counter", Counter);
  app.entity("NamedCounter", NamedCounter);
  app.orchestration("useProxy", function* (ctx) {
    const key = ctx.df.getInput<string>();
    const id = new df.EntityId("Counter", key);
    const counter = df.entityProxy<Counter>(ctx.df, id);
    const afterAdd: number = yield counter.add(5);
    const again: number = yield ctx.df.callEntity(id, "ADD", 10); // case-insensitive operation names
    const doubled: number = yield counter.slowDouble();
    const got: number = yield counter.get();
    const reset: unknown = yield counter.reset();
    // Signals through the typed proxy from an orchestration.
    df.signalProxy<Counter>(ctx.df, id).add(1);
    const final: number = yield counter.get();
    return { afterAdd, again, doubled, got, reset: reset ?? null, final };
  });
  app.orchestration("badOps", function* (ctx) {
    const id = new df.EntityId("counter", "bad");
    const out: CaughtError[] = [];
    for (const op of ["nope", "_secret", "constructor"]) {
      try {
        yield ctx.df.callEntity(id, op);
      } catch (err) {
        out.push(caught(err));
      }
    }
    try {
      yield df.entityProxy<Counter>(ctx.df, id).fail("on purpose");
    } catch (err) {
      out.push(caught(err));
    }
    return out;
  });
  app.orchestration("named", function* (ctx) {
    const p = df.entityProxy<NamedCounter>(ctx.df, new df.EntityId("NamedCounter", "n"));
    yield p.add(3);
    return yield p.rename("ann");
  });
  app.orchestration("callCase", function* (ctx) {
    const { name, key, op, input } = ctx.df.getInput<{ name: string; key: string; op: string; input?: unknown }>();
    return yield ctx.df.callEntity(new df.EntityId(name, key), op, input);
  });
}

/** Compile-time checks of the typed proxies (never run). */
export function typedProxiesCompile(ctx: df.DurableOrchestrationContext, client: df.DurableClient): void {
  const id = new df.EntityId("Counter", "t");
  const p = df.entityProxy<Counter>(ctx, id);
  p.add(1);
  // @ts-expect-error -- add takes a number
  p.add("one");
  // @ts-expect-error -- not an operation of Counter
  p.nothing();
  // @ts-expect-error -- fields are state, not operations
  p.value();
  void df.signalProxy<Counter>(client, id).add(1);
  // @ts-expect-error -- typed for signals too
  void df.signalProxy<Counter>(client, id).add({});
}

forEachStore("class-based entities", (start) => {
  it("methods are operations (case-insensitive), fields are the state, return values reach callers; typed proxies", async () => {
    const host = await start(register);
    const id = await host.client.startNew("useProxy", { input: "p1" });
    const out = (await completed(host.client, id)).output;
    assert.deepEqual(out, { afterAdd: 5, again: 15, doubled: 30, got: 30, reset: null, final: 1 });
    assert.deepEqual(await host.client.readEntityState(eid("counter", "p1")), { entityExists: true, entityState: { value: 1, calls: 4 } });
  });

  it("signalProxy from a client", async () => {
    const host = await start(register);
    const proxy = df.signalProxy<Counter, Promise<void>>(host.client, eid("Counter", "sig"));
    for (let i = 1; i <= 4; i++) await proxy.add(i);
    await proxy.slowDouble();
    const s = await stateEventually<{ value: number; calls: number }>(host.client, eid("counter", "sig"), (v) => v?.value === 20);
    assert.deepEqual(s, { value: 20, calls: 4 });
  });

  it("an unknown operation fails with the list of operations; a throwing method rolls its field changes back", async () => {
    const host = await start(register);
    await host.client.signalEntity(eid("counter", "bad"), "add", 7);
    const id = await host.client.startNew("badOps");
    const [nope, secret, ctor, fail] = (await completed(host.client, id)).output as CaughtError[];
    for (const e of [nope, secret, ctor]) {
      assert.equal(e!.code, "ENTITY_OPERATION_FAILED");
      assert.match(e!.failureMessage!, /has no operation/);
      assert.match(e!.failureMessage!, /add, reset, get, slowDouble, fail/, e!.failureMessage);
      assert.doesNotMatch(e!.failureMessage!.split("Its operations are")[1]!, /_secret|constructor/);
    }
    assert.match(nope!.failureMessage!, /'nope'/);
    assert.equal(fail!.failureMessage, "on purpose");
    assert.equal(fail!.operationName, "fail");
    assert.deepEqual((await host.client.readEntityState(eid("counter", "bad"))).entityState, { value: 7, calls: 1 });
  });

  it("inherited methods are operations; subclass fields join the state", async () => {
    const host = await start(register);
    const id = await host.client.startNew("named");
    assert.equal((await completed(host.client, id)).output, "ann");
    assert.deepEqual((await host.client.readEntityState(eid("namedcounter", "n"))).entityState, { value: 3, calls: 1, name: "ann" });
  });

  it("entity names are case-insensitive and keys case-sensitive", async () => {
    const host = await start(register);
    const call = async (name: string, key: string, op: string, input?: number): Promise<unknown> => {
      const id = await host.client.startNew("callCase", { input: { name, key, op, input } });
      return (await completed(host.client, id)).output;
    };
    assert.equal(await call("counter", "k", "add", 1), 1);
    assert.equal(await call("COUNTER", "k", "add", 1), 2, "COUNTER/k is counter/k");
    assert.equal(await call("CoUnTeR", "k", "get"), 2);
    assert.equal(await call("counter", "K", "add", 100), 100, "K is another key than k");
    assert.deepEqual((await host.client.readEntityState(eid("Counter", "k"))).entityState, { value: 2, calls: 2 });
    assert.deepEqual((await host.client.readEntityState(eid("counter", "K"))).entityState, { value: 100, calls: 1 });
    const keys = (await host.client.listEntities({ entityName: "COUNTER" })).entities.map((e) => `${e.entityId.name}/${e.entityId.key}`).sort();
    assert.deepEqual(keys, ["counter/K", "counter/k"]);
  });
});

describe("EntityId", () => {
  it("keeps the name as given, keeps the key, and prints @name@key with the name lower-cased", () => {
    const id = new df.EntityId("MyCounter", "Key-A");
    assert.equal(id.name, "MyCounter");
    assert.equal(id.key, "Key-A");
    assert.equal(id.toString(), "@mycounter@Key-A");
  });

  it("round-trips through fromInstanceId, also with '@' in the key", () => {
    for (const [name, key] of [
      ["counter", "k"],
      ["Some.Name-x:y_z", "user@example.com"],
      ["c", "with spaces & ünïcode ✓"],
      ["c", "@leading"],
    ] as const) {
      const id = new df.EntityId(name, key);
      const back = df.EntityId.fromInstanceId(id.toString());
      assert.ok(back instanceof df.EntityId);
      assert.equal(back.name, name.toLowerCase());
      assert.equal(back.key, key);
      assert.equal(back.toString(), id.toString());
    }
    for (const bad of ["counter", "@counter", "@@k", "", "x@counter@k"]) {
      assert.throws(() => df.EntityId.fromInstanceId(bad), { code: "INVALID_ARGUMENT" }, bad);
    }
  });

  it("rejects invalid names and keys with clear errors", () => {
    const badNames: [unknown, RegExp][] = [
      ["", /non-empty/],
      [undefined, /non-empty/],
      ["a@b", /must not contain '@'/],
      ["has space", /not valid/],
      ["1starts-with-digit", /not valid/],
      ["x".repeat(129), /not valid/],
      ["slash/name", /not valid/],
    ];
    for (const [name, message] of badNames) {
      assert.throws(() => new df.EntityId(name as string, "k"), (err: Error & { code?: string }) => {
        assert.ok(err instanceof df.InvalidArgumentError, `${String(name)}: ${err.constructor.name}`);
        assert.equal(err.code, "INVALID_ARGUMENT");
        assert.match(err.message, message);
        return true;
      });
    }
    const badKeys: [unknown, RegExp][] = [
      ["", /non-empty/],
      [42, /non-empty/],
      ["a/b", /must not contain/],
      ["a\\b", /must not contain/],
      ["a#b", /must not contain/],
      ["a?b", /must not contain/],
      ["tab\there", /control characters/],
      ["nul\u0000", /control characters/],
      [".", /not allowed/],
      ["..", /not allowed/],
      ["k".repeat(201), /limit is 200/],
    ];
    for (const [key, message] of badKeys) {
      assert.throws(() => new df.EntityId("counter", key as string), (err: Error & { code?: string }) => {
        assert.equal(err.code, "INVALID_ARGUMENT", JSON.stringify(key));
        assert.match(err.message, message, JSON.stringify(key));
        return true;
      });
    }
    assert.doesNotThrow(() => new df.EntityId("counter", "k".repeat(200)));
    assert.doesNotThrow(() => new df.EntityId("_x", "..."));
  });

  it("EntityId.from accepts plain { name, key } and refuses anything else", () => {
    const id = df.EntityId.from({ name: "Counter", key: "k" });
    assert.ok(id instanceof df.EntityId);
    assert.equal(id.toString(), "@counter@k");
    for (const bad of [null, undefined, "@counter@k", { name: "c" }, { key: "k" }]) {
      assert.throws(() => df.EntityId.from(bad), { code: "INVALID_ARGUMENT" });
    }
  });

  it("registering an entity: names are validated and unique (case-insensitive); a handler is required", () => {
    const app = df.createApp();
    app.entity("Counter", Counter);
    assert.throws(() => app.entity("counter", Counter), { code: "DUPLICATE_FUNCTION" });
    assert.throws(() => app.entity("a@b", Counter), { code: "INVALID_ARGUMENT" });
    assert.throws(() => app.entity("ok", {} as never), { code: "INVALID_ARGUMENT", message: /needs a handler/ });
  });
});
