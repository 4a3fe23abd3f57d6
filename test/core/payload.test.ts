import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DESCRIPTION_MAX_LENGTH, describeThrown, describeValue } from "../../src/core/describe-value.js";
import { PayloadError } from "../../src/core/errors.js";
import { parsePayload, serializePayload } from "../../src/core/payload.js";

const WHAT = "The result of activity 'x'";
const PREFIX = `${WHAT} is not JSON-serializable: `;

/** The PayloadError message for `value`; fails the test when it serializes or throws anything else. */
function refusal(value: unknown): string {
  let thrown: unknown;
  try {
    const text = serializePayload(value, WHAT);
    assert.fail(`expected a PayloadError, got the text ${text}`);
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof PayloadError, `expected a PayloadError, got ${String(thrown)}`);
  assert.equal(thrown.code, "PAYLOAD_NOT_SERIALIZABLE");
  assert.ok(thrown.message.startsWith(PREFIX), thrown.message);
  return thrown.message.slice(PREFIX.length);
}

/** Asserts the problem names `kind` at `path`, in the "<kind> at <path> (" form every message shares. */
function assertRefused(value: unknown, kind: string, path: string): string {
  const problem = refusal(value);
  assert.ok(problem.startsWith(`${kind} at ${path} (`), `expected "${kind} at ${path} (...", got: ${problem}`);
  return problem;
}

function cyclic(): { a: { b: { self?: unknown } } } {
  const root = { a: { b: {} as { self?: unknown } } };
  root.a.b.self = root.a;
  return root;
}

function throwingGetter<T extends object>(target: T, key: string, error: unknown): T {
  Object.defineProperty(target, key, {
    enumerable: true,
    get() {
      throw error;
    },
  });
  return target;
}

/** A Proxy whose every trap, getPrototypeOf included, throws an error naming the trap. */
function hostileProxy(): object {
  const handler = new Proxy(
    {},
    {
      get:
        (_t, trap) =>
        (): never => {
          throw new Error(`trap ${String(trap)}`);
        },
    },
  );
  return new Proxy({}, handler);
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
  revoke();
  return proxy;
}

describe("serializePayload refuses what JSON would refuse or silently change", () => {
  test("NaN inside an array: the exact message", () => {
    assert.equal(
      refusal({ totals: [1, 2, NaN] }),
      "NaN at $.totals[2] (JSON would store it as null). Use null, a string, or a finite number.",
    );
  });

  test("Infinity and -Infinity", () => {
    assertRefused({ rate: Infinity }, "Infinity", "$.rate");
    assertRefused([0, -Infinity], "-Infinity", "$[1]");
  });

  test("NaN at the top level", () => {
    assertRefused(NaN, "NaN", "$");
  });

  test("a circular reference names where the cycle closes and where it points back to", () => {
    assert.equal(
      refusal(cyclic()),
      "a circular reference at $.a.b.self (it points back to $.a). Remove the cycle, or give the object a toJSON() that returns data without it.",
    );
    const self: { list: unknown[] } = { list: [] };
    self.list.push(self);
    assert.match(assertRefused(self, "a circular reference", "$.list[0]"), /points back to \$\)/);
  });

  test("BigInt", () => {
    assert.equal(refusal({ n: 12n }), "a BigInt at $.n (JSON cannot represent it). Convert it to a string, or to a number if it is a safe integer.");
    assertRefused([1n], "a BigInt", "$[0]");
    assertRefused(5n, "a BigInt", "$");
    assertRefused({ boxed: Object(5n) }, "a BigInt object", "$.boxed");
  });

  test("Map and Set", () => {
    assert.match(assertRefused({ byId: new Map([["a", 1]]) }, "a Map", "$.byId"), /JSON would store it as \{\}\). Convert it first/);
    assert.match(assertRefused({ ids: new Set([1]) }, "a Set", "$.ids"), /\[\.\.\.set\]/);
  });

  test("WeakMap and WeakSet", () => {
    assertRefused({ cache: new WeakMap() }, "a WeakMap", "$.cache");
    assertRefused([new WeakSet()], "a WeakSet", "$[0]");
  });

  test("typed arrays, ArrayBuffer, SharedArrayBuffer and DataView", () => {
    assert.match(assertRefused({ bytes: new Uint8Array([1, 2]) }, "a Uint8Array", "$.bytes"), /an object keyed by index/);
    assertRefused({ xs: new Float64Array(1) }, "a Float64Array", "$.xs");
    assertRefused({ xs: new Int16Array(1) }, "an Int16Array", "$.xs");
    assertRefused({ buf: new ArrayBuffer(4) }, "an ArrayBuffer", "$.buf");
    assertRefused({ buf: new SharedArrayBuffer(4) }, "a SharedArrayBuffer", "$.buf");
    assertRefused({ view: new DataView(new ArrayBuffer(4)) }, "a DataView", "$.view");
  });

  test("Promise, Error and RegExp (JSON would store {} or lose the point of them)", () => {
    assert.match(assertRefused({ pending: Promise.resolve(1) }, "a Promise", "$.pending"), /Await it/);
    assertRefused({ err: new TypeError("x") }, "an Error", "$.err");
    assertRefused({ re: /x/g }, "a RegExp", "$.re");
  });

  test("undefined, a function or a symbol inside an array", () => {
    assert.equal(refusal([1, undefined]), "undefined at $[1] (JSON would store it as null inside an array). Use null, or leave the element out.");
    assertRefused({ handlers: [() => 1] }, "a function", "$.handlers[0]");
    assertRefused({ tags: ["a", Symbol("b")] }, "a symbol", "$.tags[1]");
  });

  test("an empty slot of a sparse array", () => {
    // eslint-disable-next-line no-sparse-arrays
    assertRefused({ xs: [1, , 3] }, "an empty array slot", "$.xs[1]");
  });

  test("a function or a symbol at the top level", () => {
    assert.match(assertRefused(() => 1, "a function", "$"), /there would be no payload at all/);
    assertRefused(Symbol("s"), "a symbol", "$");
  });

  test("a toJSON that returns undefined at the top level", () => {
    assertRefused({ toJSON: () => undefined }, "undefined, returned by toJSON(),", "$");
  });

  test("a toJSON result is checked, and a problem inside it is named by its path", () => {
    assertRefused({ when: { toJSON: () => NaN } }, "NaN", "$.when");
    assertRefused({ money: { toJSON: () => ({ cents: [1, 2n] }) } }, "a BigInt", "$.money.cents[1]");
  });

  test("a Date or a function whose own toJSON returns NaN", () => {
    assertRefused({ at: Object.assign(new Date(0), { toJSON: () => NaN }) }, "NaN", "$.at");
    assertRefused({ f: Object.assign(() => 1, { toJSON: () => NaN }) }, "NaN", "$.f");
  });

  test("a boxed NaN is unwrapped and refused as NaN", () => {
    assertRefused({ n: new Number(NaN) }, "NaN", "$.n");
  });

  test("paths quote keys that are not identifiers", () => {
    assertRefused({ "odd key": { "a-b": [{ "0x": NaN }] } }, "NaN", '$["odd key"]["a-b"][0]["0x"]');
    assertRefused({ 'say "hi"': NaN }, "NaN", '$["say \\"hi\\""]');
    assertRefused({ $ok_1: { "": NaN } }, "NaN", '$.$ok_1[""]');
  });

  test("the first problem in document order is the one named", () => {
    assertRefused({ a: [1, { b: Infinity }], c: NaN }, "Infinity", "$.a[1].b");
  });

  test("nesting deeper than 1000 levels", () => {
    let deep: object = {};
    for (let i = 0; i < 1001; i++) deep = { d: deep };
    assert.match(refusal(deep), /^a value nested more than 1000 levels deep at \$\.d\.d\.d/);
  });
});

describe("serializePayload turns throwing getters, toJSON and Proxies into PayloadErrors", () => {
  test("a getter that throws is named by its path", () => {
    const problem = assertRefused({ a: throwingGetter({ visible: 1 }, "secret", new Error("boom")) }, "a property that could not be read", "$.a.secret");
    assert.match(problem, /\(reading it threw Error: boom\)/);
  });

  test("a getter that throws a non-Error value", () => {
    assert.match(assertRefused(throwingGetter({}, "x", "oops"), "a property that could not be read", "$.x"), /reading it threw "oops"/);
  });

  test("a getter on a class instance", () => {
    class Account {
      id = 1;
    }
    assertRefused([throwingGetter(new Account(), "balance", new RangeError("locked"))], "a property that could not be read", "$[0].balance");
  });

  test("a toJSON that throws", () => {
    const problem = assertRefused({ d: { toJSON: () => { throw new Error("no"); } } }, "a value whose toJSON() threw", "$.d");
    assert.match(problem, /\(Error: no\)/);
  });

  test("a getter that throws only on its second read still gives a result, never a raw error", () => {
    let reads = 0;
    const flaky = Object.defineProperty({}, "x", {
      enumerable: true,
      get() {
        reads++;
        if (reads === 2) throw new Error("flaky");
        return reads;
      },
    });
    // Read 1 by the fast check, 2 by JSON.stringify (throws), 3 by the careful path.
    assert.equal(serializePayload(flaky, WHAT), '{"x":3}');
  });

  test("a Proxy whose ownKeys trap throws", () => {
    const proxy = new Proxy({}, { ownKeys: () => { throw new Error("no keys"); } });
    assert.match(assertRefused({ p: proxy }, "an object whose keys could not be listed", "$.p"), /listing them threw Error: no keys/);
  });

  test("a revoked Proxy", () => {
    assert.match(assertRefused({ p: revokedProxy() }, "a property that could not be read", "$.p.toJSON"), /revoked/);
  });

  test("a Proxy whose every trap throws, getPrototypeOf included", () => {
    assert.match(assertRefused(hostileProxy(), "a property that could not be read", "$.toJSON"), /Error: trap get/);
    assertRefused([1, hostileProxy()], "a property that could not be read", "$[1].toJSON");
  });

  test("a well-behaved Proxy serializes as its target would", () => {
    const target = { a: 1, b: [true, null], c: { d: "e" } };
    assert.equal(serializePayload(new Proxy(target, {}), WHAT), JSON.stringify(target));
    assert.equal(serializePayload({ arr: new Proxy([1, 2], {}) }, WHAT), '{"arr":[1,2]}');
  });

  test("a Proxy whose only failing trap is getPrototypeOf still serializes (JSON never asks for it)", () => {
    const proxy = new Proxy({ a: 1 }, { getPrototypeOf: () => { throw new Error("proto"); } });
    assert.equal(serializePayload({ p: proxy }, WHAT), '{"p":{"a":1}}');
  });
});

describe("serializePayload keeps what JSON does on purpose", () => {
  class Money {
    constructor(
      readonly amount: number,
      readonly currency: string,
    ) {}
    toJSON(): string {
      return `${this.amount} ${this.currency}`;
    }
  }
  class Point {
    x = 1;
    y = 2;
    label = "p";
  }
  const allowed: Array<[string, unknown]> = [
    ["a Date", { at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)) }],
    ["an invalid Date (its toJSON returns null)", [new Date(Number.NaN)]],
    ["nested plain data", { a: [1, 2.5, -3e-7, 0, "s", true, false, null, { b: { c: [[], {}] } }], "odd key": { "": 1 } }],
    ["object properties holding undefined, functions and symbols are left out", { keep: 1, u: undefined, f() {}, s: Symbol("s"), arrow: () => 2 }],
    ["symbol keys are ignored", { [Symbol("k")]: 1, plain: 2 }],
    ["unicode, escapes and a lone surrogate", { s: "héllo ☃ 😀 \u2028 \n \"q\" \\ \u0001", ["ключ 键"]: "\ud800" }],
    ["a toJSON method", { price: new Money(5, "EUR") }],
    ["toJSON gets the property name or array index as its argument", { k: { toJSON: (key: string) => key }, list: [{ toJSON: (key: string) => key }] }],
    ["a function with a toJSON is written through it", { f: Object.assign(() => 1, { toJSON: () => "fn" }) }],
    ["a Buffer (through its toJSON)", { data: Buffer.from("hi") }],
    ["a typed array with its own toJSON", { bytes: Object.assign(new Uint8Array([1, 2]), { toJSON: () => [1, 2] }) }],
    ["a class instance without toJSON", [new Point(), new Point()]],
    ["an object without a prototype", Object.assign(Object.create(null) as object, { a: 1 })],
    ["boxed strings and booleans", { s: new String("str"), b: new Boolean(false), n: new Number(4) }],
    ["negative zero", { z: -0 }],
    ["the same object twice, without a cycle", (() => { const shared = { v: 1 }; return { a: shared, b: [shared, shared] }; })()],
    ["an array with extra named properties", Object.assign([1, 2], { extra: "ignored" })],
    ["a top-level string", "text"],
    ["a top-level number", 42],
    ["a top-level boolean", false],
    ["null", null],
    ["an empty object and an empty array", [{}, []]],
    ["1000 levels of nesting", (() => { let deep: object = { end: true }; for (let i = 1; i < 1000; i++) deep = { d: deep }; return deep; })()],
  ];
  for (const [name, value] of allowed) {
    test(`${name}: exactly what JSON.stringify writes`, () => {
      assert.equal(serializePayload(value, WHAT), JSON.stringify(value));
    });
    test(`${name}: the careful path writes the same text`, () => {
      // A toJSON at the root sends the value down the careful path, which then serializes it itself.
      assert.equal(serializePayload({ toJSON: () => value }, WHAT), JSON.stringify(value));
    });
  }

  test("undefined at the top level means no payload", () => {
    assert.equal(serializePayload(undefined, WHAT), undefined);
  });

  test("BigInt.prototype.toJSON, where an application defines it, is honoured as JSON honours it", () => {
    const proto = BigInt.prototype as unknown as { toJSON?: () => string };
    proto.toJSON = function (this: bigint) {
      return this.toString();
    };
    try {
      assert.equal(serializePayload({ n: 12n }, WHAT), '{"n":"12"}');
    } finally {
      delete proto.toJSON;
    }
  });

  test("parsePayload reads what serializePayload wrote", () => {
    const value = { a: [1, "two", null], at: "2024-01-01T00:00:00.000Z" };
    assert.deepEqual(parsePayload(serializePayload(value, WHAT)), value);
  });
});

describe("describeThrown", () => {
  test("an Error: type, message, stack, code", () => {
    const err = Object.assign(new TypeError("bad input"), { code: "E_BAD" });
    const d = describeThrown(err);
    assert.equal(d.errorType, "TypeError");
    assert.equal(d.message, "bad input");
    assert.equal(d.stack, err.stack);
    assert.equal(d.code, "E_BAD");
    assert.equal("cause" in d, false);
  });

  test("a code that is not a string is not copied; nonRetriable is", () => {
    const d = describeThrown(Object.assign(new Error("x"), { code: 42, nonRetriable: true }));
    assert.equal("code" in d, false);
    assert.equal(d.nonRetriable, true);
  });

  test("the cause is handed back as it is, for the caller to recurse on", () => {
    const cause = { reason: "upstream" };
    assert.equal(describeThrown(new Error("outer", { cause })).cause, cause);
  });

  test("a cause whose getter throws becomes a string saying so", () => {
    const err = throwingGetter(new Error("outer"), "cause", new Error("no cause"));
    assert.equal(describeThrown(err).cause, "(the error's cause could not be read: Error: no cause)");
  });

  test("an Error whose message getter throws", () => {
    const err = throwingGetter(new Error("hidden"), "message", new TypeError("nope"));
    assert.deepEqual({ ...describeThrown(err), stack: undefined }, { errorType: "Error", message: "(the error's message could not be read: TypeError: nope)", stack: undefined });
  });

  test("an Error whose message getter throws an Error whose message getter throws", () => {
    const inner = throwingGetter(new RangeError("x"), "message", "deepest");
    const err = throwingGetter(new Error("x"), "message", inner);
    assert.equal(describeThrown(err).message, `(the error's message could not be read: RangeError: (the error's message could not be read: "deepest"))`);
  });

  test("an Error whose name and stack getters throw", () => {
    // Stack first: V8 formats the stack lazily and its formatter reads the name.
    const err = throwingGetter(throwingGetter(new Error("still readable"), "stack", new Error("s")), "name", new Error("n"));
    const d = describeThrown(err);
    assert.equal(d.errorType, "Error");
    assert.equal(d.message, "still readable");
    assert.equal("stack" in d, false);
  });

  test("an Error whose name getter throws, so that even formatting its stack throws", () => {
    const d = describeThrown(throwingGetter(new Error("readable"), "name", new Error("n")));
    assert.equal(d.errorType, "Error");
    assert.equal(d.message, "readable");
  });

  test("an Error with a non-string message", () => {
    const err = new Error("x");
    Object.defineProperty(err, "message", { value: { detail: 1 } });
    assert.equal(describeThrown(err).message, '{"detail":1}');
  });

  test("a Proxy of an Error reads through to it", () => {
    const d = describeThrown(new Proxy(new RangeError("too hot"), {}));
    assert.equal(d.errorType, "RangeError");
    assert.equal(d.message, "too hot");
  });

  test("a revoked Proxy", () => {
    assert.deepEqual(describeThrown(revokedProxy()), {
      errorType: "object",
      message: "(an object that could not be read: TypeError: Cannot perform 'get' on a proxy that has been revoked)",
    });
  });

  test("a Proxy whose every trap throws, getPrototypeOf included", () => {
    assert.deepEqual(describeThrown(hostileProxy()), { errorType: "object", message: "(an object that could not be read: Error: trap get)" });
  });

  test("an object whose toString and Symbol.toPrimitive throw is rendered as JSON, not through them", () => {
    const value = {
      a: 1,
      toString() {
        throw new Error("toString");
      },
      [Symbol.toPrimitive]() {
        throw new Error("toPrimitive");
      },
    };
    assert.deepEqual(describeThrown(value), { errorType: "object", message: '{"a":1}' });
  });

  test("a cyclic plain object holding a BigInt", () => {
    const value: Record<string, unknown> = { a: 1 };
    value.self = value;
    value.n = 12n;
    value.inner = { back: value, list: [] as unknown[] };
    (value.inner as { list: unknown[] }).list.push(value.inner);
    assert.equal(describeThrown(value).message, '{"a":1,"self":"[Circular $]","n":"12n","inner":{"back":"[Circular $]","list":["[Circular $.inner]"]}}');
  });

  test("an object holding a BigInt, NaN, an Error and an unreadable property", () => {
    const value = throwingGetter({ n: 1n, x: NaN, e: new TypeError("t") }, "secret", new Error("no"));
    assert.equal(describeThrown(value).message, '{"n":"1n","x":"NaN","e":"[TypeError: t]","secret":"[Unreadable: Error: no]"}');
  });

  test("a plain thrown object reads as JSON.stringify wrote it before", () => {
    const value = { reason: "plain object", at: new Date(0), list: [1, undefined, "x"], skipped: undefined };
    assert.deepEqual(describeThrown(value), { errorType: "object", message: JSON.stringify(value) });
  });

  test("a huge object is cut with a marker", () => {
    const d = describeThrown({ rows: Array.from({ length: 5000 }, (_, i) => ({ i })) });
    assert.ok(d.message.endsWith("…(truncated)"), d.message.slice(-40));
    assert.equal(d.message.length, DESCRIPTION_MAX_LENGTH + "…(truncated)".length);
    assert.ok(d.message.startsWith('{"rows":[{"i":0},{"i":1}'));
  });

  test("primitives", () => {
    assert.deepEqual(describeThrown("oops"), { errorType: "string", message: "oops" });
    assert.deepEqual(describeThrown(42), { errorType: "number", message: "42" });
    assert.deepEqual(describeThrown(null), { errorType: "object", message: "null" });
    assert.deepEqual(describeThrown(undefined), { errorType: "undefined", message: "undefined" });
    assert.deepEqual(describeThrown(Symbol("s")), { errorType: "symbol", message: "Symbol(s)" });
    assert.deepEqual(describeThrown(12n), { errorType: "bigint", message: "12n" });
    assert.deepEqual(describeThrown(function named() {}), { errorType: "function", message: "[Function: named]" });
  });
});

describe("describeValue", () => {
  test("one line for any value", () => {
    assert.equal(describeValue(new TypeError("t")), "TypeError: t");
    assert.equal(describeValue("s"), '"s"');
    assert.equal(describeValue({ a: [1n] }), '{"a":["1n"]}');
    assert.equal(describeValue(revokedProxy()), "(an object that could not be read: TypeError: Cannot perform 'get' on a proxy that has been revoked)");
    assert.equal(describeValue({ nested: revokedProxy() }), `{"nested":"[Unreadable: TypeError: Cannot perform 'get' on a proxy that has been revoked]"}`);
    assert.equal(describeValue({ d: { toJSON: () => { throw new Error("tj"); } } }), '{"d":"[toJSON threw: Error: tj]"}');
  });

  test("a long string is cut with a marker", () => {
    assert.equal(describeValue("x".repeat(50), 10), `"xxxxxxxxxx"…(truncated)`);
  });
});
