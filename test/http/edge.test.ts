import assert from "node:assert/strict";
import type { Server } from "node:http";
import { describe, it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { DurableClientCore } from "../../src/client/client-core.js";
import { createHttpServer, type HttpServerOptions, listen } from "../../src/http/server.js";
import { FunctionRegistry } from "../../src/runtime/registry.js";
import { eventually } from "../helpers/hosts.js";
import { assertError, BASE, forEachHttpStore, hit, mgmt, openSocket, type RawSocket, replayCheck, type StatusBody, waitForStatus } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// A bare listener (createHttpServer + listen), for the options the host does not pass yet, and a
// raw TCP client to see exactly what goes over the wire.

/** Every call to the stub client is recorded, then refused: the edge must answer before reaching it. */
function stubClient(calls: string[]): DurableClientCore {
  return new Proxy({} as DurableClientCore, {
    get: (_target, name) => () => {
      calls.push(String(name));
      throw new Error(`the stub client has no ${String(name)}`);
    },
  });
}

interface Edge {
  server: Server;
  port: number;
  /** Calls that reached the durable client (none should). */
  calls: string[];
  /** What the host logged as errors (callers' mistakes must not be logged). */
  errors: string[];
  close(): Promise<void>;
}

const LIMIT = 1024;

async function startEdge(options: Partial<HttpServerOptions> = {}): Promise<Edge> {
  const calls: string[] = [];
  const errors: string[] = [];
  const server = createHttpServer({
    health: () => ({ status: "ok" }),
    client: stubClient(calls),
    registry: new FunctionRegistry(),
    key: undefined,
    maxBodyBytes: LIMIT,
    endpoint: () => ({ origin: "http://127.0.0.1", key: undefined, taskHub: "edge" }),
    logger: { info: () => undefined, warn: () => undefined, error: (m) => void errors.push(m) },
    ...options,
  });
  const url = await listen(server, 0, "127.0.0.1");
  return {
    server,
    port: Number(new URL(url).port),
    calls,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Runs `body` against a fresh listener and always closes it. */
async function withEdge(options: Partial<HttpServerOptions>, body: (edge: Edge) => Promise<void>): Promise<void> {
  const edge = await startEdge(options);
  try {
    await body(edge);
  } finally {
    await edge.close();
  }
}

/** A raw connection to the listener, received bytes as latin1 (string lengths are byte counts). */
const open = (port: number, allowHalfOpen = false): Promise<RawSocket> => openSocket({ port }, { allowHalfOpen, encoding: "latin1" });

interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** The complete responses in `text`, in order (interim 1xx ones included, without a body). */
function responses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const head = rest.slice(0, end);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? NaN);
    assert.ok(Number.isInteger(status), `a status line: ${JSON.stringify(head.slice(0, 80))}`);
    const length = status < 200 ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    assert.ok(Number.isInteger(length), `a content-length in ${JSON.stringify(head)}`);
    if (rest.length < end + 4 + length) return out;
    out.push({ status, head, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
}

const complete = (n: number) => (text: string) => responses(text).length >= n;

/** A complete JSON error answer with this status and code. */
function assertRawError(r: RawResponse | undefined, status: number, code: string, what: string): void {
  assert.ok(r, `${what}: no complete response`);
  assert.equal(r.status, status, `${what}: status (${r.head.split("\r\n", 1)[0]})`);
  assert.match(r.head, /\r\ncontent-type: application\/json/i, `${what}: content-type`);
  const body = JSON.parse(r.body) as { Message?: unknown; error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof body.Message, "string", `${what}: Message`);
  assert.equal(body.error?.code, code, `${what}: error.code`);
  assert.equal(typeof body.error?.message, "string", `${what}: error.message`);
}

const START = `${BASE}/orchestrators/Echo`;

/**
 * Writes `total` body bytes as fast as the program can (64 KiB per turn of the event loop, without
 * waiting for the socket to drain), as a client that sends its whole body before reading does.
 */
function blast(conn: RawSocket, total: number, chunked: boolean): Promise<void> {
  const size = 64 * 1024;
  const piece = "1".repeat(size);
  return new Promise((resolve) => {
    let sent = 0;
    const step = (): void => {
      if (conn.socket.destroyed || conn.socket.writableEnded) return resolve();
      if (sent >= total) {
        if (chunked) conn.socket.write("0\r\n\r\n");
        return resolve();
      }
      conn.socket.write(chunked ? `${size.toString(16)}\r\n${piece}\r\n` : piece);
      sent += size;
      setImmediate(step);
    };
    step();
  });
}

/**
 * Writes up to `total` body bytes, 1 MiB at a time, waiting for the socket to drain: a host that
 * keeps reading takes all of it. Resolves with how many bytes got out before the connection closed.
 */
async function sendPaced(conn: RawSocket, total: number): Promise<number> {
  const piece = Buffer.alloc(1024 * 1024, 0x31);
  let sent = 0;
  while (sent < total && !conn.closed) {
    const flushed = conn.socket.write(piece);
    sent += piece.length;
    if (!flushed) await Promise.race([new Promise((r) => conn.socket.once("drain", r)), conn.waitClosed(10_000)]);
  }
  return sent;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------

describe("HTTP edge: an oversized body is answered 413 before the connection closes", () => {
  for (const chunked of [false, true]) {
    const framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: 4194304";
    it(`a client still sending reads a complete 413 JSON answer, then the connection closes (${chunked ? "chunked, grows past the limit" : "declared Content-Length over the limit"})`, async () => {
      await withEdge({}, async (edge) => {
        // Before the fix the host closed the socket under a client that was still writing: the
        // client got EPIPE/ECONNRESET and never read the 413.
        for (let round = 0; round < 3; round++) {
          const conn = await open(edge.port);
          conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
          await blast(conn, 4 * 1024 * 1024, chunked);
          assert.ok(await conn.waitFor(complete(1), 5_000), `round ${round}: an answer (got ${JSON.stringify(conn.received.slice(0, 100))})`);
          const [answer] = responses(conn.received);
          assertRawError(answer, 413, "PAYLOAD_TOO_LARGE", `round ${round}`);
          assert.match(answer!.head, /\r\nconnection: close/i, "the answer says the connection closes");
          assert.ok(await conn.waitClosed(5_000), "the connection closes once the body is drained");
          assert.equal(responses(conn.received).length, 1, "nothing else was sent");
        }
        assert.deepEqual(edge.calls, [], "nothing reached the client");
        assert.deepEqual(edge.errors, [], "nothing was logged");
      });
    });
  }

  it("a body over maxDrainBytes is not read to its end: the connection is cut", async () => {
    await withEdge({ maxDrainBytes: 64 * 1024 }, async (edge) => {
      const total = 256 * 1024 * 1024;
      // Half-open: this client ignores the host's FIN and keeps sending, so only the bound can stop it.
      const conn = await open(edge.port, true);
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
      const sent = await sendPaced(conn, total);
      assert.ok(sent < total, `the host stopped reading (the client got ${sent} of ${total} bytes out)`);
      assert.ok(await conn.waitClosed(10_000), "the connection is cut");
      assert.deepEqual(edge.calls, []);
    });
  });

  it("an error answered before the body was read drains it within the bound and keeps the connection; past the bound it is cut", async () => {
    await withEdge({ key: "edge-key", maxDrainBytes: 256 * 1024 }, async (edge) => {
      // Within the bound: 401 (no key) while the body is still coming, then another request on the same connection.
      const conn = await open(edge.port);
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      assert.ok(await conn.waitFor(complete(1), 5_000), "the 401 comes before the body");
      assertRawError(responses(conn.received)[0], 401, "UNAUTHORIZED", "no key");
      await blast(conn, 128 * 1024, true);
      conn.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(await conn.waitFor(complete(2), 5_000), `the next request is answered (got ${JSON.stringify(conn.received.slice(-200))})`);
      assert.equal(responses(conn.received)[1]!.status, 200);
      conn.socket.destroy();

      // Past the bound: before the fix Node discarded such a body for as long as it kept coming.
      const total = 256 * 1024 * 1024;
      const big = await open(edge.port);
      big.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
      assert.ok(await big.waitFor(complete(1), 5_000));
      assertRawError(responses(big.received)[0], 401, "UNAUTHORIZED", "no key, big body");
      const sent = await sendPaced(big, total);
      assert.ok(sent < total, `the host stopped reading past maxDrainBytes (the client got ${sent} of ${total} bytes out)`);
      assert.ok(await big.waitClosed(10_000), "the connection is cut");
      assert.deepEqual(edge.calls, []);
    });
  });

  it("Expect: 100-continue with a declared length over the limit: 413 without 100 Continue, so no body is ever sent", async () => {
    await withEdge({}, async (edge) => {
      const conn = await open(edge.port);
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`);
      assert.ok(await conn.waitFor(complete(1), 5_000), `an answer (got ${JSON.stringify(conn.received.slice(0, 100))})`);
      const all = responses(conn.received);
      assert.deepEqual(
        all.map((r) => r.status),
        [413],
        "a final 413 and no 100 Continue",
      );
      assertRawError(all[0], 413, "PAYLOAD_TOO_LARGE", "expect 100-continue");
      assert.match(all[0]!.head, /\r\nconnection: close/i);
      assert.ok(await conn.waitClosed(5_000), "the connection closes without the body");
      assert.deepEqual(edge.calls, []);
    });
  });

  it("Expect: 100-continue within the limit still gets 100 Continue, and the request is served", async () => {
    await withEdge({}, async (edge) => {
      const conn = await open(edge.port);
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n`);
      assert.ok(await conn.waitFor(complete(1), 5_000), "100 Continue");
      assert.equal(responses(conn.received)[0]!.status, 100);
      conn.socket.write("{bad");
      assert.ok(await conn.waitFor(complete(2), 5_000), "the final answer");
      assertRawError(responses(conn.received)[1], 400, "INVALID_JSON", "the body was read and parsed");
      conn.socket.destroy();
    });
  });
});

describe("HTTP edge: timeouts and the connection cap", () => {
  it("headers sent too slowly: 408 REQUEST_TIMEOUT and the connection closes, around headersTimeoutMs", async () => {
    await withEdge({ headersTimeoutMs: 300 }, async (edge) => {
      const conn = await open(edge.port);
      conn.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      // One more header line every 100 ms, never the blank line that ends them.
      let n = 0;
      const drip = setInterval(() => {
        if (!conn.socket.writableEnded && !conn.socket.destroyed) conn.socket.write(`X-Slow-${n++}: 1\r\n`);
      }, 100);
      try {
        // Node's default is 60 s (checked every 30 s): far outside this bound.
        assert.ok(await conn.waitClosed(3_000), "the connection was closed");
      } finally {
        clearInterval(drip);
      }
      assertRawError(responses(conn.received)[0], 408, "REQUEST_TIMEOUT", "slow headers");
      assert.deepEqual(edge.errors, [], "a slow client is not logged");
    });
  });

  it("a body dribbled slower than requestTimeoutMs: 408 REQUEST_TIMEOUT, the connection closes, nothing is started or logged", async () => {
    await withEdge({ headersTimeoutMs: 300, requestTimeoutMs: 600 }, async (edge) => {
      const conn = await open(edge.port);
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"`);
      const drip = setInterval(() => {
        if (!conn.socket.writableEnded && !conn.socket.destroyed) conn.socket.write("x");
      }, 100);
      try {
        assert.ok(await conn.waitClosed(3_000), "the connection was closed");
      } finally {
        clearInterval(drip);
      }
      assertRawError(responses(conn.received)[0], 408, "REQUEST_TIMEOUT", "slow body");
      assert.deepEqual(edge.calls, []);
      assert.deepEqual(edge.errors, []);
    });
  });

  it("a body that completes after its 408 is not acted on", async () => {
    await withEdge({ headersTimeoutMs: 300, requestTimeoutMs: 600 }, async (edge) => {
      // Half-open, so the client can still finish its body after the host's answer and FIN.
      const conn = await open(edge.port, true);
      const body = `"${"x".repeat(98)}"`;
      conn.socket.write(`POST ${START} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, -1)}`);
      assert.ok(await conn.waitFor(complete(1), 3_000), "the 408");
      assertRawError(responses(conn.received)[0], 408, "REQUEST_TIMEOUT", "timed out");
      conn.socket.end(body.slice(-1));
      assert.ok(await conn.waitClosed(5_000));
      // Give a wrongly started request the time to reach the client.
      await wait(200);
      assert.deepEqual(edge.calls, [], "the late body did not start anything");
      assert.deepEqual(edge.errors, []);
    });
  });

  it("an idle keep-alive connection is closed after keepAliveTimeoutMs", async () => {
    await withEdge({ keepAliveTimeoutMs: 200 }, async (edge) => {
      const conn = await open(edge.port);
      conn.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(await conn.waitFor(complete(1), 5_000));
      assert.equal(responses(conn.received)[0]!.status, 200);
      assert.match(responses(conn.received)[0]!.head, /\r\nconnection: keep-alive/i);
      // Node's default (5 s, plus its 1 s grace) would keep it open past this bound.
      assert.ok(await conn.waitClosed(3_000), "the idle connection was closed");
    });
  });

  it("with maxConnections: 2, a third connection is closed while two are held open; once one goes, a new one is served", async () => {
    await withEdge({ maxConnections: 2 }, async (edge) => {
      const held = [await open(edge.port), await open(edge.port)];
      const count = (): Promise<number> => new Promise((resolve, reject) => edge.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      await eventually(async () => (await count()) === 2, 5_000, "two accepted connections");
      const third = await open(edge.port);
      third.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(await third.waitClosed(3_000), "the third connection was closed");
      assert.equal(third.received, "", "and got no answer");
      assert.ok(held.every((c) => !c.closed), "the two held connections are still open");

      held[0]!.socket.destroy();
      await eventually(async () => (await count()) < 2, 5_000, "the server to let go of a connection");
      const next = await open(edge.port);
      next.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(await next.waitFor(complete(1), 5_000), "the new connection is served");
      assert.equal(responses(next.received)[0]!.status, 200);
      next.socket.destroy();
      held[1]!.socket.destroy();
    });
  });

  it("defaults: 10 s headers, 30 s request, 5 s keep-alive, 1,000 connections; inconsistent or invalid options are refused", async () => {
    await withEdge({}, async (edge) => {
      assert.equal(edge.server.headersTimeout, 10_000);
      assert.equal(edge.server.requestTimeout, 30_000);
      assert.equal(edge.server.keepAliveTimeout, 5_000);
      assert.equal(edge.server.maxConnections, 1_000);
    });
    // A shorter request timeout lowers the default headers timeout with it.
    await withEdge({ requestTimeoutMs: 4_000 }, async (edge) => assert.equal(edge.server.headersTimeout, 4_000));
    for (const bad of [
      { headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 },
      { requestTimeoutMs: -1 },
      { headersTimeoutMs: 1.5 },
      { keepAliveTimeoutMs: Number.NaN },
      { maxConnections: 0 },
      { maxDrainBytes: -1 },
    ] as Partial<HttpServerOptions>[]) {
      await assert.rejects(startEdge(bad), { code: "INVALID_ARGUMENT" }, JSON.stringify(bad));
    }
  });
});

// ---------------------------------------------------------------------------------------------

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.entity<unknown>("Store", (ctx) => ctx.df.setState(ctx.df.getInput()));
}

/** JSON texts whose bytes are not UTF-8 (Buffer#toString would turn each bad byte into U+FFFD). */
const NOT_UTF8: [string, Buffer][] = [
  ["a lone continuation byte", Buffer.from([0x22, 0x80, 0x22])],
  ["0xFF", Buffer.from([0x22, 0xff, 0x22])],
  ["Latin-1 é", Buffer.from('{"name":"caf\xe9"}', "latin1")],
  ["an overlong '/'", Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
  ["a UTF-16 surrogate", Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
  ["a truncated sequence", Buffer.from([0x22, 0xe2, 0x82, 0x22])],
  ["a code point past U+10FFFF", Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22])],
];

forEachHttpStore("HTTP edge: JSON bodies that are not UTF-8", (start) => {
  it("are refused with 400 INVALID_JSON on starts, events and entity signals; nothing is started, delivered or stored", async () => {
    const host = await start(register);
    assert.equal((await mgmt(host, "/orchestrators/Wait/utf-run", { method: "POST" })).status, 202);
    await waitForStatus(host, "utf-run", ["Running"]);
    const jsonType = { "content-type": "application/json" };
    for (const [what, bytes] of NOT_UTF8) {
      assertError(await mgmt(host, "/orchestrators/Echo", { method: "POST", body: bytes }), 400, "INVALID_JSON", `start with ${what}`);
      assertError(await mgmt(host, "/orchestrators/Echo/utf-named", { method: "POST", body: bytes }), 400, "INVALID_JSON", `start by id with ${what}`);
      assertError(await mgmt(host, "/instances/utf-run/raiseEvent/go", { method: "POST", headers: jsonType, body: bytes }), 400, "INVALID_JSON", `event with ${what}`);
      assertError(await mgmt(host, "/entities/Store/k?op=set", { method: "POST", headers: jsonType, body: bytes }), 400, "INVALID_JSON", `entity signal with ${what}`);
    }
    const ids = ((await mgmt(host, "/instances/")).json as StatusBody[]).map((s) => s.instanceId);
    assert.deepEqual(ids, ["utf-run"], "nothing was started");
    assert.equal(((await mgmt(host, "/instances/utf-run")).json as StatusBody).runtimeStatus, "Running", "no event was delivered");
    assertError(await mgmt(host, "/entities/Store/k"), 404, "ENTITY_NOT_FOUND", "no signal was delivered");

    // Real UTF-8 gets through exactly, also when a character is split across chunks.
    const text = "café ✓ 😀 \u202e";
    const bytes = Buffer.from(JSON.stringify({ text }));
    const split = bytes.indexOf(Buffer.from("😀")) + 2;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes.subarray(0, split)));
        controller.enqueue(new Uint8Array(bytes.subarray(split)));
        controller.close();
      },
    });
    const ev = await hit(host, `${BASE}/instances/utf-run/raiseEvent/go`, { method: "POST", headers: jsonType, body, duplex: "half" });
    assert.equal(ev.status, 202, ev.text);
    assert.deepEqual((await waitForStatus(host, "utf-run", ["Completed"])).output, { text });
    await replayCheck(host);
  });
});
