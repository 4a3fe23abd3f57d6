import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import { createHost } from "../../src/host/host.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { assertError, assertPayload, BASE, forEachHttpStore, hit, json, mgmt, openSocket, replayCheck, type StatusBody, waitForStatus } from "./helpers.js";

/** A key with characters that must be URL-encoded in the payload URLs. */
const KEY = "s3cr3t-K3y+/=&?x";

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.client.http("StartIt", {
    route: "start/{name}",
    methods: ["POST"],
    handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.name!, { input: await request.json() })),
  });
  app.client.http("Throws", {
    route: "throws",
    methods: ["GET"],
    authLevel: "function",
    handler: () => {
      throw new Error("handler broke");
    },
  });
}

/** Every management route (and some that do not exist): each needs the key before anything else happens. */
const ROUTES: [method: string, path: string][] = [
  ["POST", "/orchestrators/Echo"],
  ["POST", "/orchestrators/Echo/auth-1"],
  ["GET", "/instances/auth-1"],
  ["GET", "/instances/"],
  ["GET", "/instances"],
  ["DELETE", "/instances/auth-1"],
  ["DELETE", "/instances/?createdTimeFrom=2000-01-01T00:00:00Z"],
  ["POST", "/instances/auth-1/raiseEvent/go"],
  ["POST", "/instances/auth-1/terminate?reason=x"],
  ["POST", "/instances/auth-1/suspend?reason=x"],
  ["POST", "/instances/auth-1/resume?reason=x"],
  ["POST", "/instances/auth-1/rewind?reason=x"],
  ["POST", "/instances/auth-1/restart"],
  ["GET", "/entities/Counter/k"],
  ["POST", "/entities/Counter/k?op=add"],
  ["DELETE", "/entities/Counter/k"],
  ["GET", "/entities/"],
  ["GET", "/entities/Counter"],
  ["GET", "/no/such/route"],
  ["PUT", "/instances/auth-1"],
  ["GET", ""],
];

const withQuery = (path: string, q: string): string => `${path}${path.includes("?") ? "&" : "?"}${q}`;

forEachHttpStore("HTTP management key", (start) => {
  it("every management route answers 401 JSON without the key, with a wrong, empty, longer, shorter, prefix or differently-cased key", async () => {
    const host = await start(register, { key: KEY });
    const wrongSameLength = KEY.slice(0, -1) + (KEY.endsWith("x") ? "y" : "x");
    const bad: [string, Record<string, string>, string][] = [
      ["no key", {}, ""],
      ["empty code", {}, "code="],
      ["empty header", { "x-functions-key": "" }, ""],
      ["wrong key, same length (query)", {}, `code=${encodeURIComponent(wrongSameLength)}`],
      ["wrong key, same length (header)", { "x-functions-key": wrongSameLength }, ""],
      ["longer key", { "x-functions-key": `${KEY}x` }, ""],
      ["prefix of the key (header)", { "x-functions-key": KEY.slice(0, 8) }, ""],
      ["prefix of the key (query)", {}, `code=${encodeURIComponent(KEY.slice(0, -1))}`],
      ["key plus a space (query)", {}, `code=${encodeURIComponent(`${KEY} `)}`],
      ["upper-cased key", { "x-functions-key": KEY.toUpperCase() }, ""],
      ["unencoded key in the query ('+' becomes a space)", {}, `code=${KEY.replace(/&|\?/g, "")}`],
      ["bearer token instead", { authorization: `Bearer ${KEY}` }, ""],
      ["key under another name", {}, `key=${encodeURIComponent(KEY)}`],
    ];
    let n = 0;
    for (const [method, path] of ROUTES) {
      for (const [what, headers, q] of bad) {
        const a = await mgmt(host, q ? withQuery(path, q) : path, { method, headers, ...(method === "POST" ? { body: "1" } : {}) });
        assertError(a, 401, "UNAUTHORIZED", `${method} ${path} with ${what}`);
        assert.ok(!a.text.includes(KEY), "the key is never echoed");
        n++;
      }
    }
    assert.equal(n, ROUTES.length * bad.length);
    // Nothing happened: no instance was started by the refused POSTs.
    const list = await mgmt(host, "/instances/", { headers: { "x-functions-key": KEY } });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, []);
  });

  it("accepts the key as ?code= or x-functions-key; /healthz needs no key; payload URLs carry the key and work as given", async () => {
    const host = await start(register, { key: KEY });
    assert.equal((await hit(host, "/healthz")).status, 200);

    const byHeader = await mgmt(host, "/orchestrators/Wait/k-1", { method: "POST", headers: { "x-functions-key": KEY } });
    assert.equal(byHeader.status, 202, byHeader.text);
    const payload = byHeader.json as Record<string, string>;
    assertPayload(payload, "k-1", host.url!, KEY);
    assert.equal(byHeader.headers.get("location"), payload.statusQueryGetUri);
    assert.ok(payload.statusQueryGetUri!.includes(`code=${encodeURIComponent(KEY)}`), payload.statusQueryGetUri);

    const byQuery = await mgmt(host, `/instances/k-1?code=${encodeURIComponent(KEY)}`);
    assert.ok(byQuery.status === 200 || byQuery.status === 202, byQuery.text);
    assert.equal((byQuery.json as StatusBody).instanceId, "k-1");
    // The status poll's Location (the request URL) keeps the key, so a client can follow it.
    await waitForStatus(host, "k-1", ["Running"], `?code=${encodeURIComponent(KEY)}`);
    const polled = await fetch(payload.statusQueryGetUri!);
    assert.equal(polled.status, 202);
    assert.equal(polled.headers.get("location"), payload.statusQueryGetUri);

    // Follow every URL of the payload, as a Durable Functions client would.
    const text = (u: string): string => u.replace("{text}", "via%20payload");
    assert.equal((await fetch(text(payload.suspendPostUri!), { method: "POST" })).status, 202);
    await waitForStatus(host, "k-1", ["Suspended"], `?code=${encodeURIComponent(KEY)}`);
    assert.equal((await fetch(text(payload.resumePostUri!), { method: "POST" })).status, 202);
    const ev = await fetch(payload.sendEventPostUri!.replace("{eventName}", "go"), { method: "POST", headers: { "content-type": "application/json" }, body: '"by url"' });
    assert.equal(ev.status, 202);
    await waitForStatus(host, "k-1", ["Completed"], `?code=${encodeURIComponent(KEY)}`);
    assert.equal((await fetch(text(payload.rewindPostUri!), { method: "POST" })).status, 410, "authorized (410, not 401)");
    assert.equal((await fetch(text(payload.terminatePostUri!), { method: "POST" })).status, 410, "authorized (410, not 401)");
    const restarted = await fetch(payload.restartPostUri!, { method: "POST" });
    assert.equal(restarted.status, 202);
    const next = (await restarted.json()) as Record<string, string>;
    assertPayload(next, next.id!, host.url!, KEY);
    assert.equal((await fetch(text(next.terminatePostUri!), { method: "POST" })).status, 202);
    await waitForStatus(host, next.id!, ["Terminated"], `?code=${encodeURIComponent(KEY)}`);
    const purged = await fetch(payload.purgeHistoryDeleteUri!, { method: "DELETE" });
    assert.equal(purged.status, 200);
    assert.deepEqual(await purged.json(), { instancesDeleted: 1 });

    // Client functions build their URLs with the key too.
    const viaApi = await hit(host, "/api/start/Echo", json({ x: 1 }));
    assert.equal(viaApi.status, 202, viaApi.text);
    assertPayload(viaApi.json as Record<string, unknown>, (viaApi.json as { id: string }).id, host.url!, KEY);
    await waitForStatus(host, (viaApi.json as { id: string }).id, ["Completed"], `?code=${encodeURIComponent(KEY)}`);
    await replayCheck(host);
  });

  it("the key never reaches the host's log, whatever is sent", async () => {
    const lines: string[] = [];
    const capture = { info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m), error: (m: string) => void lines.push(m) };
    const host = await start(register, { key: KEY, logger: capture });
    const code = `code=${encodeURIComponent(KEY)}`;
    assertError(await hit(host, `/api/throws?${code}`), 500, "INTERNAL_ERROR");
    assertError(await hit(host, "/api/throws", { headers: { "x-functions-key": KEY } }), 500, "INTERNAL_ERROR");
    for (const wrong of [`${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase()]) {
      assertError(await mgmt(host, `/instances/?code=${encodeURIComponent(wrong)}`), 401, "UNAUTHORIZED");
    }
    assertError(await mgmt(host, `/instances/%zz?${code}`), 400, "BAD_REQUEST");
    assertError(await mgmt(host, `/orchestrators/Nope?${code}`, json(1)), 400, "FUNCTION_NOT_FOUND");
    const started = await mgmt(host, `/orchestrators/Echo?${code}`, json("logged?"));
    assert.equal(started.status, 202);
    await waitForStatus(host, (started.json as { id: string }).id, ["Completed"], `?${code}`);
    assert.ok(lines.some((l) => l.includes("handler broke")), "the capture works (the throwing handler was logged)");
    const all = lines.join("\n");
    for (const form of [KEY, encodeURIComponent(KEY), KEY.toUpperCase(), `${KEY}x`]) {
      assert.ok(!all.includes(form), `the log contains ${JSON.stringify(form)}`);
    }
    await replayCheck(host);
  });

  it("without a key configured, no key is needed and the URLs carry no code", async () => {
    const host = await start(register);
    const a = await mgmt(host, "/orchestrators/Echo", json(1));
    assert.equal(a.status, 202);
    assertPayload(a.json as Record<string, unknown>, (a.json as { id: string }).id, host.url!);
    // A key sent anyway is ignored.
    assert.equal((await mgmt(host, "/instances/?code=whatever")).status, 200);
    await waitForStatus(host, (a.json as { id: string }).id, ["Completed"]);
    await replayCheck(host);
  });
});

describe("HTTP host binding", () => {
  const dir = mkdtempSync(join(tmpdir(), "perdure-http-bind-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const store of ["memory:", `sqlite:${join(dir, "bind.db")}`]) {
    it(`refuses to listen on a non-loopback address without a key (KEY_REQUIRED) [${store.split(":")[0]}]`, async () => {
      for (const hostname of ["0.0.0.0", "::", "192.0.2.10"]) {
        for (const key of [undefined, ""]) {
          const app = createApp();
          register(app);
          const host = createHost({ store, port: 0, hostname, app, logger: silentLogger, ...(key === undefined ? {} : { key }) });
          await assert.rejects(host.start(), { code: "KEY_REQUIRED", message: /management key/ }, `${hostname} key=${String(key)}`);
          assert.equal(host.url, undefined, "nothing listens");
          await host.stop();
        }
      }
      // With a key it listens on all interfaces and enforces the key.
      const app = createApp();
      register(app);
      const host = createHost({ store, port: 0, hostname: "0.0.0.0", app, logger: silentLogger, key: KEY });
      await host.start();
      try {
        const port = new URL(host.url!).port;
        assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
        assert.equal((await fetch(`http://127.0.0.1:${port}${BASE}/instances/`)).status, 401);
        assert.equal((await fetch(`http://127.0.0.1:${port}${BASE}/instances/`, { headers: { "x-functions-key": KEY } })).status, 200);
      } finally {
        await host.stop();
      }
      // Loopback names need no key.
      for (const hostname of ["127.0.0.1", "localhost"]) {
        const a = createApp();
        register(a);
        const h = createHost({ store: "memory:", port: 0, hostname, app: a, logger: silentLogger });
        await h.start();
        try {
          assert.equal((await fetch(`${h.url!}/healthz`)).status, 200, hostname);
        } finally {
          await h.stop();
        }
      }
    });
  }
});

forEachHttpStore("HTTP body limit", (start) => {
  const LIMIT = 64;

  it("413 JSON for a body over maxBodyBytes, with Content-Length or chunked; nothing is started; the limit itself is fine", async () => {
    const host = await start(register, { maxBodyBytes: LIMIT });
    const big = JSON.stringify({ pad: "x".repeat(LIMIT) });
    await startWait(host, "lim-run");
    const targets: [string, string, Record<string, string>][] = [
      ["POST", `${BASE}/orchestrators/Echo`, {}],
      ["POST", `${BASE}/orchestrators/Echo/lim-1`, {}],
      ["POST", `${BASE}/instances/lim-run/raiseEvent/go`, { "content-type": "application/json" }],
      ["POST", `${BASE}/instances/lim-run/terminate`, {}],
      ["POST", `${BASE}/instances/lim-run/suspend`, {}],
      ["POST", `${BASE}/entities/Counter/k?op=add`, { "content-type": "application/json" }],
      ["POST", "/api/start/Echo", { "content-type": "application/json" }],
    ];
    for (const [method, path, headers] of targets) {
      assertError(await hit(host, path, { method, headers, body: big }), 413, "PAYLOAD_TOO_LARGE", `${path} (Content-Length)`);
      assertError(await hit(host, path, { method, headers, body: chunks(big, 3), duplex: "half" }), 413, "PAYLOAD_TOO_LARGE", `${path} (chunked)`);
    }
    // One byte over; exactly the limit is accepted.
    const over = `"${"y".repeat(LIMIT - 1)}"`;
    assert.equal(Buffer.byteLength(over), LIMIT + 1);
    assertError(await mgmt(host, "/orchestrators/Echo/lim-over", { method: "POST", body: over }), 413, "PAYLOAD_TOO_LARGE");
    const exact = `"${"y".repeat(LIMIT - 2)}"`;
    const ok = await mgmt(host, "/orchestrators/Echo/lim-exact", { method: "POST", body: chunks(exact, 4), duplex: "half" });
    assert.equal(ok.status, 202, ok.text);
    assert.equal((await waitForStatus(host, "lim-exact", ["Completed"])).output, "y".repeat(LIMIT - 2));

    // Nothing was started or delivered by the refused requests.
    const all = ((await mgmt(host, "/instances/")).json as StatusBody[]).map((s) => s.instanceId).sort();
    assert.deepEqual(all, ["lim-exact", "lim-run"]);
    assert.equal(((await mgmt(host, "/instances/lim-run")).json as StatusBody).runtimeStatus, "Running");
    assert.equal((await mgmt(host, "/instances/lim-run/raiseEvent/go", json("small"))).status, 202);
    assert.equal((await waitForStatus(host, "lim-run", ["Completed"])).output, "small");
    assert.equal((await hit(host, "/healthz")).status, 200);
    await replayCheck(host);
  });

  it("after a 413 for a chunked body the connection is either closed or still usable (no hang, no reset)", async () => {
    // BUG (see report): readBody stops reading mid-body; the 413 says keep-alive, but the next
    // request on that connection is never answered (fetch then fails with ECONNRESET or hangs).
    const host = await start(register, { maxBodyBytes: LIMIT });
    const chunk = `3e8\r\n${"1".repeat(1000)}\r\n`;
    const sock = await openSocket(host);
    try {
      // The body keeps coming after the limit is passed, as with any streaming client.
      sock.write(`POST ${BASE}/orchestrators/Echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(50)}`);
      assert.ok(await sock.waitFor((r) => r.includes("\r\n\r\n"), 5_000), "an answer to the oversized request");
      assert.match(sock.received, /^HTTP\/1\.1 413 /);
      const head = sock.received.split("\r\n\r\n", 1)[0]!;
      const saysClose = /\r\nconnection: close/i.test(head);
      if (!sock.closed) sock.write(`${chunk.repeat(5)}0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: test\r\n\r\n`);
      const secondAnswered = await sock.waitFor((r) => /HTTP\/1\.1 200 /.test(r), 2_000);
      const closed = sock.closed;
      assert.ok(
        (saysClose && closed) || secondAnswered,
        `after the 413 (${saysClose ? "Connection: close" : "Connection: keep-alive"}) the next request on the connection was ${secondAnswered ? "answered" : closed ? "cut off" : "left hanging"}`,
      );
    } finally {
      sock.destroy();
    }
  });
});

async function startWait(host: Parameters<typeof mgmt>[0], id: string): Promise<void> {
  assert.equal((await mgmt(host, `/orchestrators/Wait/${id}`, { method: "POST" })).status, 202);
  await waitForStatus(host, id, ["Running"]);
}

/** A streamed body (sent with Transfer-Encoding: chunked). */
function chunks(text: string, parts: number): ReadableStream<Uint8Array> {
  const bytes = Buffer.from(text);
  const size = Math.ceil(bytes.length / parts);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(new Uint8Array(bytes.subarray(i, i + size)));
      controller.close();
    },
  });
}
