import { describeValue, pathSegment } from "./describe-value.js";
import { InvalidArgumentError, PayloadError, PayloadTooLargeError } from "./errors.js";

/**
 * JSON is the one data converter: payloads cross storage as JSON text and are parsed only for user code.
 *
 * Strict: a value that JSON would refuse (a cycle, a BigInt) or silently change (NaN and the infinities
 * become null; a Map, Set, WeakMap, WeakSet, ArrayBuffer, DataView, Promise, RegExp or Error becomes
 * `{}` or a few stray fields; a typed array an object keyed by index; `undefined`, a function or a
 * symbol inside an array, or a hole, becomes null) throws a {@link PayloadError} naming the first such
 * value and its path:
 *
 *     The result of activity 'x' is not JSON-serializable: NaN at $.totals[2] (JSON would store it as null). Use null, a string, or a finite number.
 *
 * What JSON does on purpose stays: `toJSON` is honoured (Date, Buffer, ...) and its result checked,
 * object properties holding `undefined`, a function or a symbol are left out, symbol keys are ignored,
 * and `undefined` itself means "no payload" and gives `undefined`.
 *
 * Two paths give the same answer. The fast one checks the value with a read-only walk that only
 * accepts what it can judge cheaply (plain objects, arrays, class instances without `toJSON`, Dates)
 * and then lets the native `JSON.stringify` write it; that keeps the common small payload close to the
 * cost of `JSON.stringify` alone. Anything else (a problem, a custom `toJSON`, a getter or Proxy trap
 * that threw, nesting beyond {@link MAX_PAYLOAD_DEPTH}) goes to the careful path, which serializes the
 * value itself the way the JSON spec does, reading each property and calling each `toJSON` once, and
 * either returns the same text `JSON.stringify` would or throws the precise error. The fast path reads
 * each property twice (check, then write), so a getter or Proxy that answers differently on each read
 * could slip a value past the check; one that throws on either read only sends it to the careful path.
 */
export function serializePayload(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  let simple = false;
  try {
    simple = isSimple(value, 0);
  } catch {
    // A getter or Proxy trap threw: the careful path reads again and names the property.
  }
  if (simple) {
    try {
      // A simple value is never undefined, a function or a symbol, so the text is a string.
      return JSON.stringify(value);
    } catch {
      // The value changed under us (a getter, a Proxy): the careful path decides on what it reads now.
    }
  }
  return serializeCarefully(value, what);
}

/** The default of `maxPayloadBytes`: the largest payload (as JSON text, in UTF-8) a host stores. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** Validates a `maxPayloadBytes` option: a whole number of bytes from 1 KiB to 1 GiB. */
export function checkMaxPayloadBytes(v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1024 || v > 1024 * 1024 * 1024) {
    throw new InvalidArgumentError(`maxPayloadBytes must be a whole number of bytes from 1024 to 1073741824 (1 GiB), got ${String(v)}.`);
  }
  return v;
}

/** UTF-8 size of a string: limits are in bytes, and non-ASCII text takes more bytes than characters. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // surrogate pair
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Throws {@link PayloadTooLargeError} when `text` is over `limit` bytes of UTF-8. A text of at most
 * limit / 3 characters is never over (a UTF-16 unit is at most 3 bytes), so the usual payload is not
 * measured at all.
 */
export function checkPayloadSize(text: string | undefined, limit: number, what: string): void {
  if (text === undefined || text.length * 3 <= limit) return;
  const bytes = utf8Length(text);
  if (bytes > limit) throw new PayloadTooLargeError(what, bytes, limit);
}

/** {@link serializePayload}, then {@link checkPayloadSize}: a payload as a host stores it. */
export function serializeBounded(value: unknown, limit: number, what: string): string | undefined {
  const text = serializePayload(value, what);
  checkPayloadSize(text, limit, what);
  return text;
}

export function parsePayload(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Payloads written by other tools may be raw text; hand them over as a string rather than failing.
    return text;
  }
}

/** Deeper payloads are refused: nothing real nests this deep, and a cycle must not cost a stack overflow to find. */
export const MAX_PAYLOAD_DEPTH = 1000;

// ---------------------------------------------------------------------------------------------------
// The fast check. It answers "JSON.stringify writes this faithfully" or "ask the careful path"; it never
// explains, so it can stay a tight loop over typeof. `false` is always safe; `true` must be exact.

const OBJECT_PROTOTYPE = Object.prototype;
const ARRAY_PROTOTYPE = Array.prototype;
const DATE_PROTOTYPE = Date.prototype;
const dateToJSON: unknown = Reflect.get(Date.prototype, "toJSON");

function isSimple(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      // False for NaN and both infinities, without a call.
      return value - value === 0;
    case "object":
      return value === null || isSimpleObject(value, depth);
    default:
      // bigint, and undefined / function / symbol where they are not object properties.
      return false;
  }
}

function isSimpleObject(obj: object, depth: number): boolean {
  if (depth >= MAX_PAYLOAD_DEPTH) return false;
  // IsArray decides how JSON writes an object, whatever its prototype says (subclasses, Proxies).
  if (Array.isArray(obj)) {
    if ((obj as { toJSON?: unknown }).toJSON !== undefined) return false;
    const arr = obj as unknown[];
    for (let i = 0; i < arr.length; i++) {
      const item = arr[i];
      if (typeof item === "object" ? item !== null && !isSimpleObject(item, depth + 1) : !isSimple(item, depth)) return false;
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto === OBJECT_PROTOTYPE || proto === null) {
    if ((obj as { toJSON?: unknown }).toJSON !== undefined) return false;
    // for-in also visits inherited enumerable keys JSON ignores; that can only turn a yes into a
    // harmless "ask the careful path", never the reverse.
    for (const key in obj) {
      if (!isSimpleProperty((obj as Record<string, unknown>)[key], depth)) return false;
    }
    return true;
  }
  if (proto === DATE_PROTOTYPE) return (obj as Date).toJSON === dateToJSON;
  // A class instance: fine if it has no toJSON and is not one of the built-ins JSON mangles or unwraps.
  if ((obj as { toJSON?: unknown }).toJSON !== undefined || classify(obj) !== undefined) return false;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    if (!isSimpleProperty((obj as Record<string, unknown>)[keys[i]!], depth)) return false;
  }
  return true;
}

function isSimpleProperty(item: unknown, depth: number): boolean {
  switch (typeof item) {
    case "string":
    case "boolean":
    case "undefined":
    case "symbol":
      return true;
    case "number":
      return item - item === 0;
    case "object":
      return item === null || isSimpleObject(item, depth + 1);
    case "function":
      // Left out by JSON, unless it has a toJSON, which JSON would call.
      return (item as { toJSON?: unknown }).toJSON === undefined;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Built-ins JSON writes wrongly, or unwraps.

type Special = "Map" | "Set" | "WeakMap" | "WeakSet" | "ArrayBuffer" | "SharedArrayBuffer" | "DataView" | "TypedArray" | "Promise" | "Error" | "RegExp" | "Number" | "String" | "Boolean" | "BigInt";

/** %TypedArray%, the shared superclass of Uint8Array and the others. */
const TypedArray = Object.getPrototypeOf(Uint8Array) as abstract new () => object;

const SPECIAL_CLASSES: ReadonlyArray<readonly [abstract new (...args: never[]) => object, Special]> = [
  [Map, "Map"],
  [Set, "Set"],
  [WeakMap, "WeakMap"],
  [WeakSet, "WeakSet"],
  [ArrayBuffer, "ArrayBuffer"],
  [SharedArrayBuffer, "SharedArrayBuffer"],
  [DataView, "DataView"],
  [TypedArray, "TypedArray"],
  [Promise, "Promise"],
  [Error, "Error"],
  [RegExp, "RegExp"],
  [Number, "Number"],
  [String, "String"],
  [Boolean, "Boolean"],
  [BigInt as unknown as abstract new () => object, "BigInt"],
];

/**
 * Prototypes already found to be none of the special classes. Payloads of class instances repeat the
 * same few prototypes, and the instanceof chain below is most of their cost on the fast path.
 */
const ordinaryPrototypes = new WeakSet<object>();

/** May throw (instanceof runs a Proxy's getPrototypeOf trap). */
function classify(obj: object): Special | undefined {
  const proto = Object.getPrototypeOf(obj) as object | null;
  if (proto === OBJECT_PROTOTYPE || proto === ARRAY_PROTOTYPE || proto === null) return undefined;
  // A brand check, so typed arrays from another realm are caught too.
  if (ArrayBuffer.isView(obj)) return obj instanceof DataView ? "DataView" : "TypedArray";
  if (ordinaryPrototypes.has(proto)) return undefined;
  for (const [ctor, special] of SPECIAL_CLASSES) {
    if (obj instanceof ctor) return special;
  }
  ordinaryPrototypes.add(proto);
  return undefined;
}

/** JSON unwraps only real boxed primitives; `Object.create(Number.prototype)` is an ordinary object to it. */
function isBoxed(obj: object, special: "Number" | "String" | "Boolean" | "BigInt"): boolean {
  try {
    // Each valueOf throws unless its receiver carries the matching internal slot.
    if (special === "Number") Number.prototype.valueOf.call(obj);
    else if (special === "String") String.prototype.valueOf.call(obj);
    else if (special === "Boolean") Boolean.prototype.valueOf.call(obj);
    else BigInt.prototype.valueOf.call(obj);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// The careful path: SerializeJSONProperty of ECMA-262 (§25.5.2.2), with a path and a check at each step.

type Place = "root" | "array" | "object";

const SPECIAL_PROBLEMS: Record<Exclude<Special, "Number" | "String" | "Boolean" | "BigInt">, (path: string, obj: object) => string> = {
  Map: (p) => `a Map at ${p} (JSON would store it as {}). Convert it first, e.g. Object.fromEntries(map) or [...map].`,
  Set: (p) => `a Set at ${p} (JSON would store it as {}). Convert it to an array first, e.g. [...set].`,
  WeakMap: (p) => `a WeakMap at ${p} (JSON would store it as {}, and its entries cannot be listed). Pass plain data instead.`,
  WeakSet: (p) => `a WeakSet at ${p} (JSON would store it as {}, and its entries cannot be listed). Pass plain data instead.`,
  ArrayBuffer: (p) => `an ArrayBuffer at ${p} (JSON would store it as {}). Pass the bytes as an array of numbers, e.g. Array.from(new Uint8Array(buffer)), or as a base64 string.`,
  SharedArrayBuffer: (p) => `a SharedArrayBuffer at ${p} (JSON would store it as {}). Pass the bytes as an array of numbers, e.g. Array.from(new Uint8Array(buffer)), or as a base64 string.`,
  DataView: (p) => `a DataView at ${p} (JSON would store it as {}). Pass the bytes it views as an array of numbers or a base64 string.`,
  TypedArray: (p, obj) => `${withArticle(typedArrayName(obj))} at ${p} (JSON would store it as an object keyed by index). Pass an array, e.g. Array.from(value), or a base64 string.`,
  Promise: (p) => `a Promise at ${p} (JSON would store it as {}). Await it and pass the result.`,
  Error: (p) => `an Error at ${p} (JSON would keep only its enumerable own properties, losing its name, message and stack). Pass a plain object instead, e.g. { name: err.name, message: err.message }.`,
  RegExp: (p) => `a RegExp at ${p} (JSON would store it as {}). Pass its source and flags as strings.`,
};

const NOT_STORED_IN_ARRAY = "(JSON would store it as null inside an array)";
const NO_PAYLOAD = "(JSON has no text for it, so there would be no payload at all)";

/**
 * One serialization in progress. `failure` is the one error it throws on purpose. The path is kept as
 * a stack of keys and spelled out only for a message, so a large payload costs no string building.
 */
class CarefulSerializer {
  private readonly ancestors: object[] = [];
  /** The keys from the root to the value in hand; `ancestors[d]` was reached through the first `d` of them. */
  private readonly keys: Array<string | number> = [];
  failure: PayloadError | undefined;

  constructor(private readonly what: string) {}

  serialize(value: unknown): string {
    // At the root undefined, functions and symbols fail, so there is always a text.
    return this.value(value, "", "root")!;
  }

  private fail(problem: (path: string) => string): never {
    this.failure = new PayloadError(`${this.what} is not JSON-serializable: ${problem(this.path(this.keys.length))}`);
    throw this.failure;
  }

  private path(depth: number): string {
    let path = "$";
    for (let i = 0; i < depth; i++) {
      const key = this.keys[i]!;
      path += typeof key === "number" ? `[${key}]` : pathSegment(key);
    }
    return path;
  }

  /** The text for `value` stored under `key`, or undefined where JSON leaves an object property out. */
  private value(value: unknown, key: string | number, place: Place): string | undefined {
    if ((typeof value === "object" && value !== null) || typeof value === "function" || typeof value === "bigint") value = this.applyToJSON(value, key);
    switch (typeof value) {
      case "string":
        return JSON.stringify(value);
      case "number":
        return this.number(value);
      case "boolean":
        return value ? "true" : "false";
      case "bigint":
        return this.fail((p) => `a BigInt at ${p} (JSON cannot represent it). Convert it to a string, or to a number if it is a safe integer.`);
      case "object":
        return value === null ? "null" : this.object(value);
      default:
        return place === "object" ? undefined : this.fail(missing(value as undefined | symbol | ((...args: never[]) => unknown), place));
    }
  }

  private applyToJSON(value: object | bigint, key: string | number): unknown {
    let toJSON: unknown;
    try {
      toJSON = (value as { toJSON?: unknown }).toJSON;
    } catch (err) {
      this.fail((p) => `a property that could not be read at ${p}.toJSON (reading it threw ${describeValue(err)}). Make it readable, or leave it out of the payload.`);
    }
    if (typeof toJSON !== "function") return value;
    try {
      return (toJSON as (this: unknown, key: string) => unknown).call(value, String(key));
    } catch (err) {
      return this.fail((p) => `a value whose toJSON() threw at ${p} (${describeValue(err)}). Fix toJSON(), or convert the value before passing it.`);
    }
  }

  private number(value: number): string {
    if (Number.isFinite(value)) return String(value);
    return this.fail((p) => `${String(value)} at ${p} (JSON would store it as null). Use null, a string, or a finite number.`);
  }

  private object(obj: object): string {
    let special: Special | undefined;
    try {
      special = classify(obj);
    } catch {
      // A Proxy whose getPrototypeOf trap throws. JSON never asks for the prototype, so neither do we.
    }
    if (special === "Number" || special === "String" || special === "Boolean" || special === "BigInt") {
      if (isBoxed(obj, special)) return this.unbox(obj, special);
    } else if (special !== undefined) {
      const problem = SPECIAL_PROBLEMS[special];
      this.fail((p) => problem(p, obj));
    }
    const seenAt = this.ancestors.indexOf(obj);
    if (seenAt >= 0) {
      this.fail((p) => `a circular reference at ${p} (it points back to ${this.path(seenAt)}). Remove the cycle, or give the object a toJSON() that returns data without it.`);
    }
    if (this.ancestors.length >= MAX_PAYLOAD_DEPTH) {
      this.fail((p) => `a value nested more than ${MAX_PAYLOAD_DEPTH} levels deep at ${shorten(p)}. Flatten the data.`);
    }
    let isArray = false;
    try {
      isArray = Array.isArray(obj);
    } catch (err) {
      // Only a revoked Proxy makes IsArray throw.
      this.fail((p) => `a value that could not be inspected at ${p} (${describeValue(err)}). Pass plain data.`);
    }
    this.ancestors.push(obj);
    const text = isArray ? this.array(obj as unknown[]) : this.record(obj);
    this.ancestors.pop();
    return text;
  }

  private unbox(obj: object, special: "Number" | "String" | "Boolean" | "BigInt"): string {
    if (special === "BigInt") return this.fail((p) => `a BigInt object at ${p} (JSON cannot represent it). Convert it to a string, or to a number if it is a safe integer.`);
    if (special === "Boolean") return Boolean.prototype.valueOf.call(obj) ? "true" : "false";
    try {
      // As JSON does: ToNumber / ToString, which run a user valueOf / toString if one was put there.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a String object: ToString is what JSON applies to it.
      return special === "Number" ? this.number(Number(obj)) : JSON.stringify(String(obj));
    } catch (err) {
      if (err === this.failure) throw err;
      const type = special.toLowerCase();
      return this.fail((p) => `a boxed ${type} that could not be converted at ${p} (${describeValue(err)}). Pass a primitive ${type}.`);
    }
  }

  private array(arr: unknown[]): string {
    let length = 0;
    try {
      length = toLength(arr.length);
    } catch (err) {
      this.fail((p) => `an array whose length could not be read at ${p} (${describeValue(err)}). Pass plain data.`);
    }
    const parts: string[] = [];
    for (let i = 0; i < length; i++) {
      this.keys.push(i);
      const item = this.read(arr, i);
      if (item === undefined && !this.has(arr, i)) {
        this.fail((p) => `an empty array slot at ${p} (JSON would store it as null). Fill the slot, or build the array without holes.`);
      }
      parts.push(this.value(item, i, "array")!);
      this.keys.pop();
    }
    return `[${parts.join(",")}]`;
  }

  private record(obj: object): string {
    let keys: string[] = [];
    try {
      keys = Object.keys(obj);
    } catch (err) {
      this.fail((p) => `an object whose keys could not be listed at ${p} (listing them threw ${describeValue(err)}). Pass plain data.`);
    }
    const parts: string[] = [];
    for (const key of keys) {
      this.keys.push(key);
      const text = this.value(this.read(obj, key), key, "object");
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
      this.keys.pop();
    }
    return `{${parts.join(",")}}`;
  }

  private read(holder: object, key: string | number): unknown {
    try {
      return (holder as Record<string | number, unknown>)[key];
    } catch (err) {
      return this.fail((p) => `a property that could not be read at ${p} (reading it threw ${describeValue(err)}). Make it readable, or leave it out of the payload.`);
    }
  }

  private has(arr: unknown[], index: number): boolean {
    try {
      return index in arr;
    } catch {
      // A Proxy's has trap threw: call it undefined rather than a hole.
      return true;
    }
  }
}

function missing(value: undefined | symbol | ((...args: never[]) => unknown), place: Exclude<Place, "object">): (path: string) => string {
  const where = place === "root" ? NO_PAYLOAD : NOT_STORED_IN_ARRAY;
  switch (typeof value) {
    case "function":
      return (p) => `a function at ${p} ${where}. Pass data, not functions.`;
    case "symbol":
      return (p) => `a symbol at ${p} ${where}. Use a string instead.`;
    default:
      // At the root only toJSON can produce undefined: undefined itself never gets this far.
      return place === "root"
        ? (p) => `undefined, returned by toJSON(), at ${p} ${where}. Make toJSON() return data.`
        : (p) => `undefined at ${p} ${where}. Use null, or leave the element out.`;
  }
}

function serializeCarefully(value: unknown, what: string): string {
  const serializer = new CarefulSerializer(what);
  try {
    return serializer.serialize(value);
  } catch (err) {
    if (err === serializer.failure) throw err;
    // Every user hook is guarded, so this is the engine giving up (a stack overflow, out of memory).
    throw new PayloadError(`${what} could not be serialized: ${describeValue(err)}. Pass plain data.`);
  }
}

/** ToLength of ECMA-262, for a Proxy whose length trap answers something odd. */
function toLength(raw: unknown): number {
  const n = Math.trunc(Number(raw));
  return Number.isNaN(n) || n <= 0 ? 0 : Math.min(n, Number.MAX_SAFE_INTEGER);
}

function typedArrayName(obj: object): string {
  try {
    // %TypedArray%.prototype[@@toStringTag] is a getter that reports the real kind ("Uint8Array").
    const tag = Object.prototype.toString.call(obj).slice(8, -1);
    return tag === "Object" || tag === "" ? "typed array" : tag;
  } catch {
    return "typed array";
  }
}

function withArticle(noun: string): string {
  return `${/^[AEIO]/.test(noun) ? "an" : "a"} ${noun}`;
}

function shorten(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}
