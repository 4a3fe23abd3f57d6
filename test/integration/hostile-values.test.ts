/**
 * Nothing a user function throws or returns can take the host down: errors whose `message` getter
 * throws, Proxies (revoked ones too), cyclic and BigInt-holding objects thrown from activities and
 * entity operations become described failures; the orchestration catches them and goes on, and the
 * entity goes on with its next operation. Values JSON would silently change are refused with their path.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { EntityId } from "../../src/core/entity-id.js";
import type { DurableApp } from "../../src/app.js";
import { forEachStore } from "../helpers/hosts.js";
import { completed } from "../entities/helpers.js";

/** Values to throw, by name: each is built fresh when thrown. */
const HOSTILE: Record<string, () => unknown> = {
  throwingMessage: () => {
    const e = new Error("never shown");
    Object.defineProperty(e, "message", {
      get() {
        throw new TypeError("the message getter is hostile");
      },
    });
    return e;
  },
  throwingName: () => {
    const e = new Error("named badly");
    Object.defineProperty(e, "name", {
      get() {
        throw new Error("no name for you");
      },
    });
    return e;
  },
  proxy: () =>
    new Proxy(new Error("behind a proxy"), {
      get() {
        throw new Error("every read throws");
      },
      getPrototypeOf() {
        throw new Error("even instanceof throws");
      },
      ownKeys() {
        throw new Error("and listing keys");
      },
    }),
  revokedProxy: () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  cyclic: () => {
    const o: Record<string, unknown> = { name: "loop" };
    o.self = o;
    return o;
  },
  bigint: () => ({ amount: 12n }),
};

interface Caught {
  name: string;
  code: string | undefined;
  errorType: string | undefined;
  message: string;
}

function register(app: DurableApp): void {
  app.activity("throwHostile", {
    handler: (kind: string) => {
      throw HOSTILE[kind]!();
    },
  });
  app.activity("returnBad", {
    handler: (kind: string) => (kind === "nan" ? { totals: [1, Number.NaN] } : kind === "map" ? { m: new Map([["a", 1]]) } : [1, undefined]),
  });
  app.entity<number>("tally", (ctx) => {
    const v = ctx.df.getState(() => 0);
    if (ctx.df.operationName === "hostile") {
      ctx.df.setState(v + 1000); // rolled back by the throw
      throw HOSTILE[ctx.df.getInput<string>()]!();
    }
    if (ctx.df.operationName === "add") ctx.df.setState(v + ctx.df.getInput<number>());
    if (ctx.df.operationName === "get") ctx.df.return(v);
  });
  app.orchestration("survives", function* (ctx) {
    const caught: Caught[] = [];
    const note = (name: string, err: unknown): void => {
      const e = err as { code?: string; failureDetails?: { errorType?: string; errorMessage?: string } };
      caught.push({ name, code: e.failureDetails ? (e.failureDetails as { code?: string }).code : e.code, errorType: e.failureDetails?.errorType, message: e.failureDetails?.errorMessage ?? "" });
    };
    for (const kind of Object.keys(HOSTILE)) {
      try {
        yield ctx.df.callActivity("throwHostile", kind);
      } catch (err) {
        note(`activity ${kind}`, err);
      }
    }
    for (const kind of ["nan", "map", "undefinedInArray"]) {
      try {
        yield ctx.df.callActivity("returnBad", kind);
      } catch (err) {
        note(`result ${kind}`, err);
      }
    }
    const tally = new EntityId("tally", "t");
    for (const kind of Object.keys(HOSTILE)) {
      try {
        yield ctx.df.callEntity(tally, "hostile", kind);
      } catch (err) {
        note(`entity ${kind}`, err);
      }
    }
    yield ctx.df.callEntity(tally, "add", 5);
    const total: number = yield ctx.df.callEntity(tally, "get");
    return { caught, total };
  });
}

forEachStore("hostile values from user code", (start) => {
  it("activities and entity operations that throw hostile values fail alone; the host and the entity go on", async () => {
    const host = await start(register);
    const id = await host.client.startNew("survives");
    const { caught, total } = (await completed(host.client, id, 30_000)).output as { caught: Caught[]; total: number };
    assert.equal(total, 5, "the entity went on: every hostile operation was rolled back, the next one applied");
    const by = new Map(caught.map((c) => [c.name, c]));
    assert.equal(caught.length, Object.keys(HOSTILE).length * 2 + 3, JSON.stringify(caught));
    for (const side of ["activity", "entity"]) {
      assert.match(by.get(`${side} throwingMessage`)!.message, /the error's message could not be read: TypeError: the message getter is hostile/);
      assert.equal(by.get(`${side} throwingName`)!.errorType, "Error", "a name that cannot be read falls back to Error");
      assert.match(by.get(`${side} proxy`)!.message, /could not be read|could not be inspected|every read throws|instanceof throws/);
      assert.ok(by.get(`${side} revokedProxy`)!.message.length > 0);
      const cyclic = by.get(`${side} cyclic`)!;
      assert.equal(cyclic.code, "PAYLOAD_NOT_SERIALIZABLE");
      assert.match(cyclic.message, /\{"name":"loop","self":"\[Circular \$\]"\}/, "described, not [object Object]");
      assert.match(cyclic.message, /a circular reference at \$\.self/);
      const big = by.get(`${side} bigint`)!;
      assert.equal(big.code, "PAYLOAD_NOT_SERIALIZABLE");
      assert.match(big.message, /"amount":"12n"/);
      assert.match(big.message, /a BigInt at \$\.amount/);
    }
    assert.match(by.get("result nan")!.message, /The result of activity 'returnBad' is not JSON-serializable: NaN at \$\.totals\[1\]/);
    assert.equal(by.get("result nan")!.code, "PAYLOAD_NOT_SERIALIZABLE");
    assert.match(by.get("result map")!.message, /a Map at \$\.m/);
    assert.match(by.get("result undefinedInArray")!.message, /undefined at \$\[1\]/);
    // The host is still up and working.
    const again = await host.client.startNew("survives");
    assert.equal(((await completed(host.client, again, 30_000)).output as { total: number }).total, 10);
  });
});
