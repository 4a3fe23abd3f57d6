/**
 * Large payloads out of their rows, for the SQL providers. An input, output, event data, custom
 * status, entity state or activity input above the limit is stored once, compressed, in a payload
 * row of the instance that owns the row referring to it (`payloads (instance_id, key)`); the row
 * holds a reference in its place. Every provider keeps the same contract: what is written is what is
 * read, byte for byte; references never leave the provider.
 *
 * Payloads are keyed by a hash of their text, per owning instance, and inserted with "insert unless
 * present": the same document passed from an activity's result to the next activity's input, or an
 * instance's input written again at every step, is one row. Nothing refers to a payload row but rows
 * of its own instance, so a payload row is deleted with its instance (purge, an idle entity), and
 * those no row refers to any more (consumed messages, an old entity state, a finished execution's
 * intermediate results) by a sweep of the instance when it ends, continues as new, or, for an
 * entity, after a step. A sweep runs under the instance's row lock, as every write of a payload for
 * that instance does, so it never deletes one that a concurrent write is about to refer to. A write
 * whose message was dropped (its target does not exist) deletes the payload rows it made for it.
 * What a sweep misses (a message consumed after the end; on PostgreSQL, an instance the host did not
 * see lately) goes with the instance.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { constants, deflateRaw, deflateRawSync, inflateRaw } from "node:zlib";
import { HistoryUnreadableError } from "../core/errors.js";
import type { HistoryEvent } from "../core/history.js";
import type { OrchestrationMessage, OutgoingMessage } from "../core/messages.js";
import type { ActivityWorkItem, CreateInstanceRequest, InstanceRecord, OrchestrationCommit, OrchestrationWorkItem } from "./provider.js";

/** Payloads from this many bytes of JSON text on are stored apart (a few tens of KB: rows stay small). */
export const DEFAULT_OFFLOAD_BYTES = 32 * 1024;

/** What stands in a row for a payload stored apart: not JSON text (which never starts with '#'). */
const REF = "#payload:";
/** The compression of payload rows: raw deflate at its fastest level (about 3.5x on JSON, ~5 ms per MB). */
export const PAYLOAD_CODEC = "deflate-raw";
const DEFLATE = { level: constants.Z_BEST_SPEED };
const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

/** Event fields that hold payloads (JSON text), whatever the event type. */
const EVENT_FIELDS = ["input", "result"] as const;

/** A payload row: one payload of one instance. */
export interface PayloadRow {
  instanceId: string;
  key: string;
  /** Bytes of the payload's UTF-8 text, before compression. */
  bytes: number;
  data: Buffer;
}

/**
 * Compressed payloads this process wrote lately, by key, within a byte budget: an instance's input
 * stored again at every step, or a result passed on as the next input, is not compressed again.
 */
export class CompressedCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  constructor(private readonly budget = 32 * 1024 * 1024) {}

  get(key: string): Buffer | undefined {
    const data = this.entries.get(key);
    if (data) {
      this.entries.delete(key);
      this.entries.set(key, data);
    }
    return data;
  }

  set(key: string, data: Buffer): void {
    if (data.length > this.budget / 4 || this.entries.has(key)) return;
    this.entries.set(key, data);
    this.bytes += data.length;
    for (const [k, d] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(k);
      this.bytes -= d.length;
    }
  }
}

/**
 * The instances a store handle lately wrote or read payloads of, up to `max` (the oldest forgotten
 * first): those whose sweep is worth a statement when they end.
 */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max = 100_000) {}

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}

export function isPayloadRef(text: string | undefined): text is string {
  return text !== undefined && text.startsWith(REF);
}

/**
 * The payloads of one write: rewrites what is written (commits, starts, messages, results) with
 * references in place of large texts, and holds the payload rows to insert with it.
 */
export class PayloadWriter {
  // Both made on the first large payload: a writer is made for every step, and most steps have none.
  private pendingRows: Map<string, { instanceId: string; key: string; bytes: number; text: string; data?: Buffer }> | undefined;
  /** Keys of texts already hashed in this write (a text is often stored in several rows). */
  private hashed: Map<string, string> | undefined;

  private get pending(): Map<string, { instanceId: string; key: string; bytes: number; text: string; data?: Buffer }> {
    return (this.pendingRows ??= new Map());
  }

  constructor(
    private readonly limit: number,
    private readonly cache: CompressedCache,
  ) {}

  get empty(): boolean {
    return (this.pendingRows?.size ?? 0) === 0;
  }

  /** The instances this write stores payloads for. */
  get owners(): Set<string> {
    return new Set([...this.pending.values()].map((p) => p.instanceId));
  }

  /** `text` as a row of `owner` stores it: itself, or a reference to a payload row of `owner`. */
  text(owner: string, text: string): string {
    // A text starting with '#' is not JSON: stored apart whatever its size, it can never be taken for a reference.
    const small = this.limit <= 0 || text.length < this.limit / 3 || (text.length < this.limit && Buffer.byteLength(text) < this.limit);
    if (small && !text.startsWith("#")) return text;
    const keys = (this.hashed ??= new Map<string, string>());
    let key = keys.get(text);
    if (key === undefined) {
      key = createHash("sha256").update(text).digest("base64url").slice(0, 32);
      keys.set(text, key);
    }
    const id = `${owner}\u0000${key}`;
    if (!this.pending.has(id)) this.pending.set(id, { instanceId: owner, key, bytes: Buffer.byteLength(text), text });
    return REF + key;
  }

  optional(owner: string, text: string | undefined): string | undefined {
    return text === undefined ? undefined : this.text(owner, text);
  }

  event<E extends HistoryEvent>(owner: string, e: E): E {
    let out = e;
    for (const f of EVENT_FIELDS) {
      const v = (e as unknown as Record<string, unknown>)[f];
      if (typeof v !== "string") continue;
      const stored = this.text(owner, v);
      if (stored !== v) out = { ...out, [f]: stored };
    }
    return out;
  }

  message(owner: string, m: OrchestrationMessage): OrchestrationMessage {
    const event = this.event(owner, m.event);
    return event === m.event ? m : { ...m, event };
  }

  outgoing(m: OutgoingMessage): OutgoingMessage {
    const message = this.message(m.instanceId, m.message);
    return message === m.message ? m : { ...m, message };
  }

  /** A step as stored: its history, instance row, tasks and messages with references. */
  /** The step itself when it holds no large payload (the common case costs no copy). */
  commit(c: OrchestrationCommit, owner: string): OrchestrationCommit {
    let instance = c.instance;
    for (const f of ["input", "output", "customStatus", "entityState"] as const) {
      const v = c.instance[f];
      if (v === undefined) continue;
      const stored = this.text(owner, v);
      if (stored === v) continue;
      if (instance === c.instance) instance = { ...c.instance };
      instance[f] = stored;
    }
    const newHistory = mapChanged(c.newHistory, (e) => this.event(owner, e));
    const activityTasks = mapChanged(c.activityTasks, (t) => {
      if (t.input === undefined) return t;
      const input = this.text(t.instanceId, t.input);
      return input === t.input ? t : { ...t, input };
    });
    const messages = mapChanged(c.messages, (m) => this.outgoing(m));
    if (instance === c.instance && newHistory === c.newHistory && activityTasks === c.activityTasks && messages === c.messages) return c;
    return { ...c, newHistory, instance, activityTasks, messages };
  }

  create(r: CreateInstanceRequest): CreateInstanceRequest {
    const startedEvent = this.event(r.startedEvent.instanceId, r.startedEvent);
    return startedEvent === r.startedEvent ? r : { ...r, startedEvent };
  }

  /** Activities leased to the committing worker carry their input itself, not the reference this write stored in its place. */
  restoreInputs(items: readonly ActivityWorkItem[] | undefined): void {
    if (this.empty) return;
    for (const a of items ?? []) {
      if (!isPayloadRef(a.input)) continue;
      const p = this.pending.get(`${a.instanceId}\u0000${a.input.slice(REF.length)}`);
      if (p) a.input = p.text;
    }
  }

  /** Compresses what this write stores (on the thread pool), reusing what this process compressed lately. */
  async compress(): Promise<void> {
    await Promise.all(
      [...this.pending.values()].map(async (p) => {
        p.data = this.cache.get(p.key) ?? (await deflateAsync(p.text, DEFLATE));
        this.cache.set(p.key, p.data);
      }),
    );
  }

  /** The payload rows to insert (unless present); any not compressed yet are compressed here. */
  rows(): PayloadRow[] {
    return [...this.pending.values()].map((p) => {
      p.data ??= this.cache.get(p.key) ?? deflateRawSync(p.text, DEFLATE);
      return { instanceId: p.instanceId, key: p.key, bytes: p.bytes, data: p.data };
    });
  }
}

/**
 * The payloads of one read: notes the references in what was read, then puts the texts in their
 * places once the rows are fetched. A text used in several places is one string.
 */
export class PayloadReader {
  private readonly refs: { instanceId: string; key: string; put: (text: string) => void }[] = [];

  get empty(): boolean {
    return this.refs.length === 0;
  }

  /** The payload rows to fetch: instance and key, once each. */
  wanted(): { instanceId: string; key: string }[] {
    const seen = new Set<string>();
    return this.refs.filter((r) => {
      const id = `${r.instanceId}\u0000${r.key}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  text(owner: string, text: string | undefined, put: (text: string) => void): void {
    if (isPayloadRef(text)) this.refs.push({ instanceId: owner, key: text.slice(REF.length), put });
  }

  event(owner: string, e: HistoryEvent): void {
    const fields = e as unknown as Record<string, unknown>;
    for (const f of EVENT_FIELDS) {
      const v = fields[f];
      if (typeof v === "string") this.text(owner, v, (t) => (fields[f] = t));
    }
  }

  message(owner: string, m: OrchestrationMessage): void {
    this.event(owner, m.event);
  }

  instance(r: InstanceRecord, options: { input?: boolean } = {}): void {
    if (options.input === false && isPayloadRef(r.input)) delete r.input;
    for (const f of ["input", "output", "customStatus", "entityState"] as const) this.text(r.instanceId, r[f], (t) => (r[f] = t));
  }

  task(t: ActivityWorkItem): void {
    this.text(t.instanceId, t.input, (text) => (t.input = text));
  }

  /** Resolves work items read: one whose payload is missing says so (the worker parks it), the others go on. */
  async resolveItems(rows: readonly { instance_id: string; key: string; data: Buffer }[], items: readonly OrchestrationWorkItem[]): Promise<void> {
    await this.resolve(rows, (instanceId, key) => {
      const item = items.find((i) => i.instanceId === instanceId);
      if (!item) return;
      const problem = `payload '${key}' of instance '${instanceId}' is missing`;
      item.unreadable = item.unreadable ? `${item.unreadable} (${problem})` : `The stored state of '${instanceId}' could not be read (${problem}).`;
    });
  }

  /** Resolves activity tasks read: a task whose input is missing says so (the worker fails that call), the others go on. */
  async resolveTasks(rows: readonly { instance_id: string; key: string; data: Buffer }[], tasks: readonly ActivityWorkItem[]): Promise<void> {
    await this.resolve(rows, (instanceId, key) => {
      for (const t of tasks) {
        if (t.instanceId === instanceId && t.input === REF + key) {
          t.unreadable = missingPayload(instanceId, key).message;
          delete t.input;
        }
      }
    });
  }

  /**
   * Inflates the fetched rows (on the thread pool) and puts each text in its places. A reference
   * whose row is missing throws HISTORY_UNREADABLE naming it; `onMissing` may take it instead (one
   * instance of several is unreadable, the others go on).
   */
  async resolve(rows: readonly { instance_id: string; key: string; data: Buffer }[], onMissing?: (instanceId: string, key: string) => void): Promise<void> {
    if (this.refs.length === 0) return;
    const fetched = new Map(rows.map((r) => [`${r.instance_id}\u0000${r.key}`, r.data]));
    // Inflated once per content, whichever instances hold it.
    const texts = new Map<string, Promise<string>>();
    await Promise.all(
      this.refs.map(async (ref) => {
        const data = fetched.get(`${ref.instanceId}\u0000${ref.key}`);
        if (!data) {
          if (onMissing) return onMissing(ref.instanceId, ref.key);
          throw missingPayload(ref.instanceId, ref.key);
        }
        let text = texts.get(ref.key);
        if (!text) {
          text = inflateAsync(data).then((b) => b.toString("utf8"));
          texts.set(ref.key, text);
        }
        ref.put(await text);
      }),
    );
  }
}

/** `items` mapped by `f`; the same array when `f` changed none of them (no copy of a fan-out's tasks). */
function mapChanged<T>(items: T[], f: (item: T) => T): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const mapped = f(item);
    if (mapped !== item && !out) out = items.slice(0, i);
    out?.push(mapped);
  }
  return out ?? items;
}

export function missingPayload(instanceId: string, key: string): HistoryUnreadableError {
  return new HistoryUnreadableError(`payload '${key}' of instance '${instanceId}' is missing from the store (a row refers to it): restore the store from a backup, or purge the instance`);
}
