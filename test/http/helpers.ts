import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import type { DurableApp } from "../../src/app.js";
import type { Host } from "../../src/host/host.js";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { eventually, forEachStore, type StoreKind, type TestHostOptions } from "../helpers/hosts.js";

export const BASE = "/runtime/webhooks/durabletask";

/** DF's date format for createdTime/lastUpdatedTime. */
export const DF_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export const PAYLOAD_KEYS = [
  "id",
  "statusQueryGetUri",
  "sendEventPostUri",
  "terminatePostUri",
  "rewindPostUri",
  "purgeHistoryDeleteUri",
  "restartPostUri",
  "suspendPostUri",
  "resumePostUri",
] as const;

export type StartHttpHost = (register: (app: DurableApp) => void, options?: TestHostOptions) => Promise<Host>;

/**
 * forEachStore (memory and a temp SQLite file) with a real listener on a free port: every test here
 * talks to the host over HTTP only.
 */
export function forEachHttpStore(title: string, body: (start: StartHttpHost, store: StoreKind) => void): void {
  forEachStore(title, (start, store) => {
    body((register, options = {}) => start(register, { port: 0, ...options }), store);
  });
}

/** The determinism self-check, run explicitly at the end of each test that ran orchestrations. */
export async function replayCheck(host: Host): Promise<void> {
  await assertAllReplayCleanly(host.provider, host.app.registry);
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (undefined when the body is empty or not JSON). */
  json: unknown;
}

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** fetch against the host's management API (`path` is relative to the webhook base). */
export async function mgmt(host: Host, path: string, init: RequestInit = {}): Promise<Answer> {
  return toAnswer(await fetch(`${host.url!}${BASE}${path}`, init));
}

/** fetch against any path of the host. */
export async function hit(host: Host, path: string, init: RequestInit = {}): Promise<Answer> {
  return toAnswer(await fetch(`${host.url!}${path}`, init));
}

export const json = (value: unknown, init: RequestInit = {}): RequestInit => ({
  method: "POST",
  ...init,
  headers: { "content-type": "application/json", ...(init.headers as Record<string, string> | undefined) },
  body: JSON.stringify(value),
});

/** Asserts a JSON error body `{Message, error:{code,message}}` with the given status (and code). */
export function assertError(a: Answer, status: number, code?: string, what = ""): void {
  assert.equal(a.status, status, `${what} status (body: ${a.text.slice(0, 300)})`);
  assert.match(a.headers.get("content-type") ?? "", /^application\/json/, `${what} content-type`);
  const body = a.json as { Message?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  assert.ok(body && typeof body === "object", `${what} JSON body: ${a.text.slice(0, 300)}`);
  assert.equal(typeof body.Message, "string", `${what} Message`);
  assert.equal(typeof body.error?.code, "string", `${what} error.code`);
  assert.equal(typeof body.error?.message, "string", `${what} error.message`);
  if (code !== undefined) assert.equal(body.error?.code, code, `${what} error.code`);
}

export interface StatusBody {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

/** Polls GET instances/{id} until the status is one of `statuses`. */
export async function waitForStatus(host: Host, id: string, statuses: string[], query = ""): Promise<StatusBody> {
  return eventually(
    async () => {
      const a = await mgmt(host, `/instances/${encodeURIComponent(id)}${query}`);
      const body = a.json as StatusBody | undefined;
      return body && statuses.includes(body.runtimeStatus) ? body : undefined;
    },
    10_000,
    `${id} to be ${statuses.join("/")}`,
  );
}

/** Starts an orchestration over HTTP and returns its id. */
export async function startOver(host: Host, name: string, input?: unknown, instanceId?: string): Promise<string> {
  const path = `/orchestrators/${encodeURIComponent(name)}${instanceId === undefined ? "" : `/${encodeURIComponent(instanceId)}`}`;
  const a = await mgmt(host, path, input === undefined ? { method: "POST" } : json(input));
  assert.equal(a.status, 202, `start ${name}: ${a.text}`);
  return (a.json as { id: string }).id;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A request through node:http, on its own connection, with the path sent exactly as given (fetch
 * would normalise `%2e%2e` and friends before sending) and any Host header.
 */
export function raw(host: Host, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawAnswer> {
  const u = new URL(host.url!);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: Number(u.port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export interface RawSocket {
  readonly socket: Socket;
  write(bytes: string): void;
  /** Resolves true as soon as `check(received)` holds, false when the socket closed or the time ran out. */
  waitFor(check: (received: string) => boolean, timeoutMs: number): Promise<boolean>;
  /** Resolves true once the connection is closed, false if it is still open after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean>;
  readonly received: string;
  readonly closed: boolean;
  destroy(): void;
}

export interface RawSocketOptions {
  /** Keep our side writable after the peer ends its side. */
  allowHalfOpen?: boolean;
  /** How received bytes become `received`: "latin1" keeps string lengths equal to byte counts. Default utf8. */
  encoding?: BufferEncoding;
}

/** A raw TCP connection to the host, for byte-level HTTP (pipelining, partial bodies, bad request lines). */
export async function openSocket(target: Host | { port: number }, options: RawSocketOptions = {}): Promise<RawSocket> {
  const { port, hostname } = "port" in target ? { port: target.port, hostname: "127.0.0.1" } : ((u) => ({ port: Number(u.port), hostname: u.hostname }))(new URL(target.url!));
  const sock = connect({ port, host: hostname, allowHalfOpen: options.allowHalfOpen ?? false });
  let received = "";
  let closed = false;
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  sock.on("data", (d: Buffer) => {
    received += d.toString(options.encoding ?? "utf8");
    notify();
  });
  sock.on("close", () => {
    closed = true;
    notify();
  });
  // EPIPE/ECONNRESET are outcomes the tests look at (through `received` and `closed`), not failures.
  sock.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  const waitUntil = (done: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const finish = (v: boolean): void => {
        listeners.delete(listener);
        clearTimeout(timer);
        resolve(v);
      };
      const listener = (): void => {
        if (done()) finish(true);
        else if (closed) finish(false);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      listeners.add(listener);
      listener();
    });
  return {
    socket: sock,
    write: (bytes) => void sock.write(bytes),
    waitFor: (check, timeoutMs) => waitUntil(() => check(received), timeoutMs),
    waitClosed: (timeoutMs) => waitUntil(() => closed, timeoutMs),
    get received() {
      return received;
    },
    get closed() {
      return closed;
    },
    destroy: () => sock.destroy(),
  };
}

export function assertPayload(payload: Record<string, unknown>, id: string, origin: string, key?: string): void {
  assert.deepEqual(Object.keys(payload).sort(), [...PAYLOAD_KEYS].sort());
  assert.equal(payload.id, id);
  const enc = encodeURIComponent(id);
  const instance = `${origin}${BASE}/instances/${enc}`;
  const expectPath: Record<string, string> = {
    statusQueryGetUri: instance,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}`,
    terminatePostUri: `${instance}/terminate`,
    rewindPostUri: `${instance}/rewind`,
    purgeHistoryDeleteUri: instance,
    restartPostUri: `${instance}/restart`,
    suspendPostUri: `${instance}/suspend`,
    resumePostUri: `${instance}/resume`,
  };
  for (const [k, path] of Object.entries(expectPath)) {
    const u = payload[k] as string;
    assert.equal(typeof u, "string", k);
    const [before, query = ""] = u.split("?", 2);
    assert.equal(before, path, `${k} path`);
    const q = new URLSearchParams(query);
    assert.equal(q.get("taskHub"), "perdure", `${k} taskHub`);
    assert.equal(q.get("connection"), "Storage", `${k} connection`);
    assert.equal(q.get("code"), key ?? null, `${k} code`);
    if (["terminatePostUri", "rewindPostUri", "suspendPostUri", "resumePostUri"].includes(k)) {
      assert.ok(query.startsWith("reason={text}&"), `${k} carries the literal reason={text}: ${u}`);
    }
  }
}
