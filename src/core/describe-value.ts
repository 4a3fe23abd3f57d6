/**
 * Descriptions of arbitrary values for failure records and error messages. What reaches these
 * functions is whatever user code threw or tried to store, so nothing here may throw: every read of a
 * property, every `instanceof` and every user hook runs inside a try, and anything that cannot be read
 * is described as such instead. No user `toString`/`valueOf` is ever called (they are the usual way a
 * description itself throws); only `toJSON`, the hook JSON itself would call, and property getters.
 */

/** The longest description produced for an object; longer renderings are cut and marked. */
export const DESCRIPTION_MAX_LENGTH = 2000;

/**
 * A thrown value, read once and defensively.
 *
 * - For an Error (anything `instanceof Error`, or branded as one by `Object.prototype.toString`, which
 *   also covers errors of other realms): `errorType` is its `name` (or "Error" when the name is not a
 *   non-empty string), `message` its message (a non-string message is described; an unreadable one
 *   becomes `(the error's message could not be read: <what the read threw>)`), `stack` the stack when
 *   it is a readable string.
 * - For anything else: `errorType` is `typeof value` ("string", "number", "object", ... so `null` gives
 *   "object", as `typeof` does) and `message` is the string itself for a string, otherwise the
 *   {@link describeValue} rendering (`{"a":1,"self":"[Circular $]","n":"12n"}` rather than
 *   "[object Object]").
 * - `code` is copied when the value carries a string `code` (every DurableError does, so do Node's
 *   system errors); `nonRetriable` is set when the value has `nonRetriable === true`.
 * - `cause` is the raw `cause` of an Error when it is not `undefined`, left undescribed so the caller
 *   can recurse with its own depth limit; a cause whose read throws is replaced by a string saying so.
 */
export interface ThrownDescription {
  errorType: string;
  message: string;
  stack?: string;
  code?: string;
  nonRetriable?: true;
  cause?: unknown;
}

/** Describes anything that was thrown. Never throws. */
export function describeThrown(thrown: unknown): ThrownDescription {
  try {
    return describeThrownUnsafely(thrown);
  } catch {
    // Only a stack overflow or an out-of-memory can get here: every user hook is already guarded.
    return { errorType: typeof thrown, message: "(the thrown value could not be described)" };
  }
}

/**
 * A one-line description of any value, for use inside a sentence: `Error: boom` for an error, a string
 * in JSON quotes, `12n`, `Symbol(x)`, `[Function: name]`, and cycle- and BigInt-safe JSON for other
 * objects, cut at `maxLength` characters with a marker. Never throws.
 */
export function describeValue(value: unknown, maxLength = DESCRIPTION_MAX_LENGTH): string {
  try {
    return describeAt(value, 0, maxLength);
  } catch {
    return `(a value of type ${typeof value} that could not be described)`;
  }
}

/** How deep a description follows errors that describe errors (a message getter that throws an error whose message getter throws...). */
const MAX_NESTED_DESCRIPTIONS = 3;
/** How deep a rendering follows nested objects; deeper ones become a marker, so a deep value cannot overflow the stack. */
const MAX_RENDER_DEPTH = 40;

function describeThrownUnsafely(thrown: unknown): ThrownDescription {
  if (typeof thrown !== "object" && typeof thrown !== "function") {
    return { errorType: typeof thrown, message: typeof thrown === "string" ? thrown : describePrimitive(thrown as Primitive) };
  }
  if (thrown === null) return { errorType: "object", message: "null" };
  const isErr = isErrorObject(thrown);
  const description: ThrownDescription = isErr
    ? { errorType: errorName(thrown), message: errorMessage(thrown, 0) }
    : { errorType: typeof thrown, message: describeAt(thrown, 0, DESCRIPTION_MAX_LENGTH) };
  if (isErr) {
    const stack = read(thrown, "stack");
    if (stack.ok && typeof stack.value === "string") description.stack = stack.value;
  }
  const code = read(thrown, "code");
  if (code.ok && typeof code.value === "string") description.code = code.value;
  const nonRetriable = read(thrown, "nonRetriable");
  if (nonRetriable.ok && nonRetriable.value === true) description.nonRetriable = true;
  if (isErr) {
    const cause = read(thrown, "cause");
    if (!cause.ok) description.cause = `(the error's cause could not be read: ${describeAt(cause.error, 1, DESCRIPTION_MAX_LENGTH)})`;
    else if (cause.value !== undefined) description.cause = cause.value;
  }
  return description;
}

function describeAt(value: unknown, nesting: number, maxLength: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > maxLength ? value.slice(0, maxLength) : value) + (value.length > maxLength ? TRUNCATED : "");
    case "function":
      return describeFunction(value);
    case "object":
      if (value === null) return "null";
      if (isErrorObject(value)) return `${errorName(value)}: ${errorMessage(value, nesting)}`;
      return new JsonRenderer(maxLength, nesting).render(value);
    default:
      return describePrimitive(value as Primitive);
  }
}

type Primitive = string | number | boolean | bigint | symbol | undefined | null;

function describePrimitive(value: Primitive): string {
  // String() of a symbol gives "Symbol(description)" without running user code.
  return typeof value === "bigint" ? `${value}n` : String(value);
}

function describeFunction(fn: object): string {
  const name = read(fn, "name");
  return name.ok && typeof name.value === "string" && name.value !== "" ? `[Function: ${name.value}]` : "[Function (anonymous)]";
}

function isErrorObject(value: object): boolean {
  try {
    if (value instanceof Error) return true;
  } catch {
    // A Proxy whose getPrototypeOf trap throws: the brand check below still answers.
  }
  return tagOf(value) === "[object Error]";
}

function errorName(err: object): string {
  const name = read(err, "name");
  return name.ok && typeof name.value === "string" && name.value !== "" ? name.value : "Error";
}

function errorMessage(err: object, nesting: number): string {
  const message = read(err, "message");
  if (!message.ok) {
    const why = nesting >= MAX_NESTED_DESCRIPTIONS ? "(not described further)" : describeAt(message.error, nesting + 1, DESCRIPTION_MAX_LENGTH);
    return `(the error's message could not be read: ${why})`;
  }
  if (typeof message.value === "string") return message.value;
  if (message.value === undefined) return "";
  return nesting >= MAX_NESTED_DESCRIPTIONS ? `(a message of type ${typeof message.value})` : describeAt(message.value, nesting + 1, DESCRIPTION_MAX_LENGTH);
}

type Read = { ok: true; value: unknown } | { ok: false; error: unknown };

function read(holder: object, key: PropertyKey): Read {
  try {
    return { ok: true, value: (holder as Record<PropertyKey, unknown>)[key] };
  } catch (error) {
    return { ok: false, error };
  }
}

function tagOf(value: object): string | undefined {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return undefined;
  }
}

const TRUNCATED = "…(truncated)";
/** Thrown inside the renderer to stop walking once the budget is spent; never escapes it. */
const BUDGET_SPENT = new Error("description budget spent");

/**
 * JSON as `JSON.stringify` writes it for plain data (so a plain thrown object reads exactly as it used
 * to), except where JSON would throw or lose the point of a description: a cycle becomes
 * `"[Circular <path of the ancestor>]"`, a BigInt `"12n"`, NaN and the infinities their names, an Error
 * `"[TypeError: message]"`, and anything unreadable `"[Unreadable: <what the read threw>]"`. Stops as
 * soon as the budget is spent, so a huge value costs no more than its first few thousand characters.
 */
class JsonRenderer {
  private readonly parts: string[] = [];
  private length = 0;
  private readonly ancestors: object[] = [];
  private readonly ancestorPaths: string[] = [];

  constructor(
    private readonly maxLength: number,
    private readonly nesting: number,
  ) {}

  render(root: object): string {
    try {
      const prepared = this.prepare(root, "");
      if (!prepared.ok) this.emit(prepared.inToJSON ? `(an object whose toJSON() threw: ${prepared.why})` : `(an object that could not be read: ${prepared.why})`);
      else if (typeof prepared.value === "object" && prepared.value !== null) this.object(prepared.value, "$", true);
      else this.emit(describeAt(prepared.value, this.nesting + 1, this.maxLength));
    } catch (err) {
      if (err !== BUDGET_SPENT) throw err;
      return this.parts.join("").slice(0, this.maxLength) + TRUNCATED;
    }
    return this.parts.join("");
  }

  private emit(text: string): void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length > this.maxLength) throw BUDGET_SPENT;
  }

  /** The value JSON would write for `value` under `key`, after `toJSON`, or what went wrong getting it. */
  private prepare(value: unknown, key: string): { ok: true; value: unknown } | { ok: false; inToJSON: boolean; why: string } {
    if ((typeof value !== "object" || value === null) && typeof value !== "function" && typeof value !== "bigint") return { ok: true, value };
    const toJSON = read(Object(value) as object, "toJSON");
    if (!toJSON.ok) return { ok: false, inToJSON: false, why: this.describeNested(toJSON.error) };
    if (typeof toJSON.value !== "function") return { ok: true, value };
    try {
      return { ok: true, value: (toJSON.value as (this: unknown, key: string) => unknown).call(value, key) };
    } catch (err) {
      return { ok: false, inToJSON: true, why: this.describeNested(err) };
    }
  }

  /** Inside JSON, a failure is written as a string marker, so the rendering stays valid JSON. */
  private prepareItem(item: Read, key: string): unknown {
    if (!item.ok) return this.unreadable(item.error);
    const prepared = this.prepare(item.value, key);
    if (prepared.ok) return prepared.value;
    return prepared.inToJSON ? `[toJSON threw: ${prepared.why}]` : `[Unreadable: ${prepared.why}]`;
  }

  private write(value: unknown, path: string): void {
    switch (typeof value) {
      case "string":
        this.emit(JSON.stringify(value.length > this.maxLength ? value.slice(0, this.maxLength) : value));
        return;
      case "number":
        this.emit(Number.isFinite(value) ? String(value) : `"${String(value)}"`);
        return;
      case "boolean":
        this.emit(value ? "true" : "false");
        return;
      case "bigint":
        this.emit(`"${value}n"`);
        return;
      case "object":
        if (value === null) this.emit("null");
        else this.object(value, path, false);
        return;
      default:
        // Only reached inside arrays, where JSON writes null for undefined, functions and symbols.
        this.emit("null");
    }
  }

  private object(value: object, path: string, isRoot: boolean): void {
    const seenAt = this.ancestors.indexOf(value);
    if (seenAt >= 0) return this.emit(JSON.stringify(`[Circular ${this.ancestorPaths[seenAt]}]`));
    if (!isRoot && isErrorObject(value)) return this.emit(JSON.stringify(`[${errorName(value)}: ${errorMessage(value, this.nesting + 1)}]`));
    let isArray: boolean;
    try {
      isArray = Array.isArray(value);
    } catch (err) {
      // A revoked Proxy.
      return this.emitUnreadable(err, isRoot);
    }
    if (this.ancestors.length >= MAX_RENDER_DEPTH) return this.emit(isArray ? '"[Array]"' : '"[Object]"');
    this.ancestors.push(value);
    this.ancestorPaths.push(path);
    if (isArray) this.array(value as unknown[], path, isRoot);
    else this.record(value, path, isRoot);
    this.ancestors.pop();
    this.ancestorPaths.pop();
  }

  private array(value: unknown[], path: string, isRoot: boolean): void {
    const length = read(value, "length");
    if (!length.ok) return this.emitUnreadable(length.error, isRoot);
    const count = typeof length.value === "number" ? length.value : 0;
    this.emit("[");
    for (let i = 0; i < count; i++) {
      if (i > 0) this.emit(",");
      this.write(this.prepareItem(read(value, i), String(i)), `${path}[${i}]`);
    }
    this.emit("]");
  }

  private record(value: object, path: string, isRoot: boolean): void {
    let keys: string[];
    try {
      keys = Object.keys(value);
    } catch (err) {
      return this.emitUnreadable(err, isRoot);
    }
    this.emit("{");
    let first = true;
    for (const key of keys) {
      const prepared = this.prepareItem(read(value, key), key);
      // JSON leaves these out of objects; so does the description, to read as JSON does.
      if (prepared === undefined || typeof prepared === "function" || typeof prepared === "symbol") continue;
      this.emit(`${first ? "" : ","}${JSON.stringify(key)}:`);
      first = false;
      this.write(prepared, `${path}${pathSegment(key)}`);
    }
    this.emit("}");
  }

  private unreadable(error: unknown): string {
    return `[Unreadable: ${this.describeNested(error)}]`;
  }

  /** At the root there is no JSON around the marker to keep valid, so it reads as a sentence instead. */
  private emitUnreadable(error: unknown, isRoot: boolean): void {
    if (isRoot) this.emit(`(an object that could not be read: ${this.describeNested(error)})`);
    else this.emit(JSON.stringify(this.unreadable(error)));
  }

  private describeNested(error: unknown): string {
    return this.nesting >= MAX_NESTED_DESCRIPTIONS ? `(a ${typeof error} not described further)` : describeAt(error, this.nesting + 1, 200);
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** One step of a `$.a["b c"][0]` path: `.name` for identifier-like keys, a JSON-quoted key in brackets otherwise. */
export function pathSegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
