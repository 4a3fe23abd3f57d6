import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { Host } from "../../src/host/host.js";
import { eventually } from "../helpers/hosts.js";
import { BASE, forEachHttpStore, type Answer, json, mgmt, openSocket, raw, replayCheck, startOver, type StatusBody, waitForStatus } from "./helpers.js";

const KEY = "barrage-key-0123456789";
const AUTH = { "x-functions-key": KEY };
const LIMIT = 64 * 1024;

function register(app: DurableApp): void {
  app.orchestration("Echo", function* (ctx) {
    return ctx.df.getInput();
  });
  app.orchestration("Wait", function* (ctx) {
    const v: unknown = yield ctx.df.waitForExternalEvent("go");
    return v;
  });
  app.orchestration("Fail", function* () {
    throw new Error("kaput");
  });
  app.client.http("HttpStart", {
    route: "orchestrators/{orchestratorName}",
    methods: ["POST"],
    handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.orchestratorName!, { input: await request.json() })),
  });
  app.client.http("SecureStart", {
    route: "secure/{orchestratorName}",
    methods: ["POST"],
    authLevel: "function",
    handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.orchestratorName!)),
  });
}

// ---------------------------------------------------------------------------------------------
// The tables the barrage is generated from.

/** Instance ids, as they appear in the path (already percent-encoded where needed). */
const HOSTILE_IDS: string[] = [
  "..%2Fx", // ../x
  "a%2Fb", // a/b
  "%2e%2e", // .. (a dot segment: the URL parser removes it)
  "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
  "a%20b",
  "x".repeat(257),
  "%00",
  "a%00b",
  "pre-run%00",
  "%0A",
  "%0D%0ASet-Cookie%3A%20x%3D1",
  "%09tab",
  "%7F",
  "%C2%85", // U+0085, a C1 control
  "%E2%80%AEevil", // right-to-left override
  "%F0%9F%98%80", // emoji
  "'%20OR%201%3D1%20--", // ' OR 1=1 --
  "%22)%3B%20DROP%20TABLE%20instances%3B%20--", // "); DROP TABLE instances; --
  "1'%3B%20DELETE%20FROM%20history%3B%20--",
  "%40entity", // @entity
  "a%5Cb", // a\b
  "a%23b", // a#b
  "a%3Fb", // a?b
  "%25", // %
  "%25%25%25",
  "__proto__",
  "constructor",
  "PRE-RUN",
  "%", // malformed percent-encoding
  "%zz",
  "%E0%A4%A",
  "%C0%AF", // overlong '/'
  "%ED%A0%80", // lone surrogate
];

/** Event names, as they appear in the path. */
const HOSTILE_EVENTS: string[] = [
  "%00",
  "a%0Ab",
  "x".repeat(257),
  "..%2Fx",
  "'%20OR%201%3D1%20--",
  "%22)%3B%20DROP%20TABLE%20instances%3B%20--",
  "%F0%9F%98%80",
  "%E2%80%AE",
  "__proto__",
  "%zz",
  "%E0%A4%A",
  "%7F",
];

const deep = (n: number, open: string, close: string, inner = "1"): string => open.repeat(n) + inner + close.repeat(n);

/** Bodies that are not JSON, or JSON that must not get through. */
const BAD_JSON: string[] = [
  '{"a":',
  "{'a':1}",
  "[1,2",
  "{a:1}",
  "NaN",
  "Infinity",
  "undefined",
  "01",
  "1.",
  ".5",
  "+1",
  "0x10",
  '"\\x41"',
  '"unterminated',
  "[1,]",
  '{"a":1,}',
  "tru",
  "nul",
  "\u0000",
  "// comment\n1",
  "1 2",
  "{}{}",
  "\uFEFF{}",
  "<xml/>",
];

const POLLUTING: string[] = ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '[{"__proto__":{"polluted":1}}]', '{"a":{"__proto__":{"polluted":1}}}'];

const DEEP: string[] = [deep(10_000, "[", "]", ""), deep(10_000, '{"a":', "}"), deep(10_000, "[", "]", '{"__proto__":{"polluted":1}}')];

const SQL = ["' OR 1=1 --", '"); DROP TABLE instances; --', "1; DELETE FROM instances", "Running' --", "%' OR '%'='"];

const BAD_DATES = ["yesterday", "2026-13-01", "2026-01-32", "1700000000", "2026-01-01T25:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T00:00:00ZZ", "2026-1-1", "NaN", "Infinity", "2026-01-01T00:00:00+25:00", "2026-00-10", "\u0000", ...SQL];
const BAD_BOOLEANS = ["yes", "1", "0", "on", "tru", "truee", "true\u0000", "' OR 1=1 --"];
const BAD_TOPS = ["0", "-1", "1.5", "1e3", "abc", "9999999999", "0x10", " 5", "\u0000", "' OR 1=1 --"];
const BAD_STATUSES = ["running", "RUNNING", "0", "-1", "Running;DELETE", "Completed\u0000", "*", "%", "Unknown", ...SQL];
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64url");
const BAD_TOKENS = [
  "garbage",
  "bnVsbA==",
  "%%%",
  "a".repeat(4000),
  b64('[1,"x","extra"]'),
  b64('{"createdAt":1,"instanceId":"x"}'),
  b64('["1","x"]'),
  b64("null"),
  b64("[1,2]"),
  b64('[null,"x"]'),
  b64('{"__proto__":{"polluted":1}}'),
  ...SQL,
];

interface BarrageRequest {
  label: string;
  method: string;
  /** The full path (with query), sent verbatim. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body with Transfer-Encoding: chunked. */
  chunked?: boolean;
  /** Send through node:http even if fetch could (fetch adds a text/plain content type to string bodies). */
  viaNodeHttp?: boolean;
}

const q = encodeURIComponent;

function buildBarrage(): BarrageRequest[] {
  const out: BarrageRequest[] = [];
  const add = (r: BarrageRequest): void => void out.push({ ...r, headers: { ...AUTH, ...(r.headers ?? {}) } });
  const m = (path: string): string => `${BASE}${path}`;
  const jsonType = { "content-type": "application/json" };

  // 1. Hostile instance ids on every route that takes one.
  for (const id of HOSTILE_IDS) {
    add({ label: `status ${id}`, method: "GET", path: m(`/instances/${id}`) });
    add({ label: `purge ${id}`, method: "DELETE", path: m(`/instances/${id}`) });
    for (const op of ["terminate?reason=x", "suspend", "resume", "rewind", "restart"]) add({ label: `${op} ${id}`, method: "POST", path: m(`/instances/${id}/${op}`) });
    add({ label: `raiseEvent ${id}`, method: "POST", path: m(`/instances/${id}/raiseEvent/go`), headers: jsonType, body: '"x"' });
    add({ label: `start unknown orchestrator as ${id}`, method: "POST", path: m(`/orchestrators/NoSuchOrchestrator/${id}`), body: "1" });
    add({ label: `start Echo as ${id} with broken JSON`, method: "POST", path: m(`/orchestrators/Echo/${id}`), body: "{broken" });
  }

  // 2. Hostile event names, to a running, a finished and an unknown instance.
  for (const ev of HOSTILE_EVENTS) {
    add({ label: `event ${ev} to running (text/plain)`, method: "POST", path: m(`/instances/pre-run/raiseEvent/${ev}`), headers: { "content-type": "text/plain" }, body: '"x"' });
    add({ label: `event ${ev} to finished`, method: "POST", path: m(`/instances/pre-done/raiseEvent/${ev}`), headers: jsonType, body: '"x"' });
    add({ label: `event ${ev} to unknown`, method: "POST", path: m(`/instances/nobody/raiseEvent/${ev}`), headers: jsonType, body: '"x"' });
  }

  // 3. Broken, polluting and deeply nested JSON, to the starts and to a running instance's event.
  for (const body of BAD_JSON) {
    add({ label: `start Echo with ${JSON.stringify(body)}`, method: "POST", path: m("/orchestrators/Echo"), body });
    add({ label: `event with ${JSON.stringify(body)}`, method: "POST", path: m("/instances/pre-run/raiseEvent/go"), headers: jsonType, body });
    // WHATWG request.json() drops a leading BOM (RFC 8259 allows that), so that one is valid there.
    if (!body.startsWith("\uFEFF")) add({ label: `client function with ${JSON.stringify(body)}`, method: "POST", path: "/api/orchestrators/Echo", headers: jsonType, body });
  }
  for (const body of [...POLLUTING, ...DEEP]) {
    const what = body.length > 40 ? `${body.slice(0, 20)}…(${body.length} bytes)` : body;
    add({ label: `start unknown orchestrator with ${what}`, method: "POST", path: m("/orchestrators/NoSuchOrchestrator"), body });
    add({ label: `client function, unknown orchestrator, with ${what}`, method: "POST", path: "/api/orchestrators/NoSuchOrchestrator", headers: jsonType, body });
    add({ label: `event with ${what} to a finished instance`, method: "POST", path: m("/instances/pre-done/raiseEvent/go"), headers: jsonType, body });
  }
  for (const body of DEEP) {
    const what = `${body.slice(0, 12)}…(${body.length} bytes)`;
    add({ label: `start Echo with ${what}`, method: "POST", path: m("/orchestrators/Echo"), body });
    add({ label: `event with ${what} to the running instance`, method: "POST", path: m("/instances/pre-run/raiseEvent/go"), headers: jsonType, body });
  }

  // 4. Oversized bodies (Content-Length and chunked).
  const big = JSON.stringify({ pad: "x".repeat(LIMIT) });
  const deeper = deep(100_000, "[", "]");
  for (const [path, headers] of [
    [m("/orchestrators/Echo"), {}],
    [m("/orchestrators/Echo/big-1"), {}],
    [m("/instances/pre-run/raiseEvent/go"), jsonType],
    [m("/instances/pre-run/terminate"), {}],
    [m("/instances/pre-run/suspend"), {}],
    [m("/instances/pre-done/restart"), {}],
    [m("/entities/Counter/k?op=add"), jsonType],
    ["/api/orchestrators/Echo", jsonType],
  ] as [string, Record<string, string>][]) {
    add({ label: `oversized body to ${path}`, method: "POST", path, headers, body: big });
    add({ label: `oversized chunked body to ${path}`, method: "POST", path, headers, body: big, chunked: true });
  }
  add({ label: "100,000-deep JSON (over the limit)", method: "POST", path: m("/orchestrators/Echo"), body: deeper });

  // 5. Content types of events (all to the running instance, which must not receive any).
  for (const type of ["text/plain", "application/xml", "text/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "json", "application/json-seq", "application/ json", "*/*", ""]) {
    add({ label: `event with content-type ${JSON.stringify(type || "(none)")}`, method: "POST", path: m("/instances/pre-run/raiseEvent/go"), headers: type ? { "content-type": type } : {}, body: '"should not arrive"', viaNodeHttp: type === "" });
  }

  // 6. Query values: dates, booleans, top, runtimeStatus, SQL.
  for (const v of BAD_DATES) {
    add({ label: `list createdTimeFrom=${v}`, method: "GET", path: m(`/instances/?createdTimeFrom=${q(v)}`) });
    add({ label: `list createdTimeTo=${v}`, method: "GET", path: m(`/instances/?createdTimeTo=${q(v)}`) });
    add({ label: `purge createdTimeFrom=${v}`, method: "DELETE", path: m(`/instances/?createdTimeFrom=${q(v)}`) });
  }
  for (const v of ["yesterday", "2026-13-01", "' OR 1=1 --"]) {
    add({ label: `entities lastOperationTimeFrom=${v}`, method: "GET", path: m(`/entities/?lastOperationTimeFrom=${q(v)}`) });
  }
  for (const v of BAD_BOOLEANS) {
    for (const name of ["showInput", "showHistory", "showHistoryOutput", "returnInternalServerErrorOnFailure"]) {
      add({ label: `status ${name}=${v}`, method: "GET", path: m(`/instances/pre-run?${name}=${q(v)}`) });
    }
    add({ label: `list showInput=${v}`, method: "GET", path: m(`/instances/?showInput=${q(v)}`) });
    add({ label: `restart restartWithNewInstanceId=${v}`, method: "POST", path: m(`/instances/pre-done/restart?restartWithNewInstanceId=${q(v)}`) });
    add({ label: `entities fetchState=${v}`, method: "GET", path: m(`/entities/?fetchState=${q(v)}`) });
  }
  for (const v of BAD_TOPS) {
    add({ label: `list top=${v}`, method: "GET", path: m(`/instances/?top=${q(v)}`) });
    add({ label: `entities top=${v}`, method: "GET", path: m(`/entities/Counter?top=${q(v)}`) });
  }
  for (const v of BAD_STATUSES) {
    add({ label: `list runtimeStatus=${v}`, method: "GET", path: m(`/instances/?runtimeStatus=${q(v)}`) });
    add({ label: `list runtimeStatus=Completed,${v}`, method: "GET", path: m(`/instances/?runtimeStatus=Completed,${q(v)}`) });
    add({ label: `purge runtimeStatus=${v}`, method: "DELETE", path: m(`/instances/?createdTimeFrom=2000-01-01&runtimeStatus=${q(v)}`) });
  }
  for (const v of SQL) {
    add({ label: `purge without createdTimeFrom, runtimeStatus=${v}`, method: "DELETE", path: m(`/instances/?runtimeStatus=${q(v)}`) });
    add({ label: `terminate unknown with reason ${v}`, method: "POST", path: m(`/instances/nobody/terminate?reason=${q(v)}`) });
    add({ label: `start unknown orchestrator named ${v}`, method: "POST", path: m(`/orchestrators/${q(v)}`), body: "1" });
    add({ label: `entity ${v}`, method: "GET", path: m(`/entities/${q(v)}/${q(v)}`) });
    add({ label: `signal entity ${v}`, method: "POST", path: m(`/entities/${q(v)}/k?op=${q(v)}`) });
  }
  add({ label: "purge without any filter", method: "DELETE", path: m("/instances/") });
  add({ label: "purge with only createdTimeTo", method: "DELETE", path: m("/instances/?createdTimeTo=2100-01-01T00:00:00Z") });
  for (const [t, p] of [
    ["timeout=abc&pollingInterval=1", "NoSuchOrchestrator"],
    ["timeout=-1&pollingInterval=1", "NoSuchOrchestrator"],
    ["timeout=1e3&pollingInterval=1", "NoSuchOrchestrator"],
  ] as const) {
    add({ label: `start ${p}?${t}`, method: "POST", path: m(`/orchestrators/${p}?${t}`) });
  }

  // 7. Continuation tokens that are garbage.
  for (const token of BAD_TOKENS) add({ label: `continuation token ${token.slice(0, 30)}`, method: "GET", path: m("/instances/"), headers: { "x-ms-continuation-token": token } });

  // 8. Wrong methods on real routes (none of these exist).
  for (const [method, path] of [
    ["PUT", "/orchestrators/Echo"],
    ["PATCH", "/orchestrators/Echo/x"],
    ["GET", "/orchestrators/Echo"],
    ["DELETE", "/orchestrators/Echo"],
    ["OPTIONS", "/instances/"],
    ["PUT", "/instances/pre-run"],
    ["PATCH", "/instances/pre-run"],
    ["POST", "/instances/pre-run"],
    ["GET", "/instances/pre-run/terminate"],
    ["DELETE", "/instances/pre-run/terminate"],
    ["PUT", "/instances/pre-run/raiseEvent/go"],
    ["GET", "/instances/pre-run/raiseEvent/go"],
    ["PUT", "/entities/Counter/k"],
    ["PATCH", "/entities/Counter/k"],
    ["TRACE", "/instances/"],
    ["PROPFIND", "/instances/"],
    ["POST", "/instances/pre-run/terminate/extra"],
    ["POST", "/instances/pre-run/raiseEvent/go/extra"],
    ["POST", "/instances/pre-run/history"],
    ["GET", "/instances/pre-run/history/extra"],
    ["POST", "/counts"],
  ] as const) {
    add({ label: `${method} ${path}`, method, path: m(path) });
  }
  for (const method of ["GET", "PUT", "DELETE"]) add({ label: `${method} on a POST-only client function`, method, path: "/api/orchestrators/Echo" });
  add({ label: "POST /healthz", method: "POST", path: "/healthz" });
  add({ label: "unknown /api route", method: "GET", path: "/api/nope" });

  // 9. Malformed percent-encoding in paths outside the instance-id slot.
  for (const path of [m("/instances/pre-run/raiseEvent/%ff"), m("/orchestrators/%E0%A4%A"), m("/entities/%zz/k"), "/api/orchestrators/%E0%A4%A", "/api/%"]) {
    add({ label: `malformed encoding ${path}`, method: "POST", path, headers: jsonType, body: "1" });
  }

  // 10. Keys: destructive requests that would succeed with the key, sent with missing or wrong ones.
  const destructive: [string, string, string?][] = [
    ["DELETE", m("/instances/pre-done")],
    ["DELETE", m("/instances/?createdTimeFrom=2000-01-01T00:00:00Z")],
    ["POST", m("/instances/pre-run/terminate?reason=stolen")],
    ["POST", m("/instances/pre-run/raiseEvent/go"), '"stolen"'],
    ["POST", m("/instances/pre-run/suspend")],
    ["POST", m("/instances/pre-susp/resume")],
    ["POST", m("/instances/pre-fail/rewind")],
    ["POST", m("/instances/pre-done/restart?restartWithNewInstanceId=false")],
    ["POST", m("/orchestrators/Echo/pre-done"), '"replaced"'],
    ["GET", m("/instances/pre-run?showHistory=true&showHistoryOutput=true")],
    ["GET", m("/instances/")],
    ["GET", m("/no/such/route")],
    ["POST", "/api/secure/Echo"],
  ];
  const keyVariants: [string, Record<string, string>, string][] = [
    ["no key", {}, ""],
    ["empty key header", { "x-functions-key": "" }, ""],
    ["wrong key", { "x-functions-key": KEY.replace(/9$/, "8") }, ""],
    ["longer key", { "x-functions-key": `${KEY}0` }, ""],
    ["prefix of the key", { "x-functions-key": KEY.slice(0, 10) }, ""],
    ["wrong ?code=", {}, `code=${q(KEY.toUpperCase())}`],
    ["empty ?code=", {}, "code="],
  ];
  for (const [method, path, body] of destructive) {
    for (const [what, headers, query] of keyVariants) {
      const full = query ? `${path}${path.includes("?") ? "&" : "?"}${query}` : path;
      out.push({ label: `${what}: ${method} ${path}`, method, path: full, headers: { ...headers, ...(body ? jsonType : {}) }, ...(body ? { body } : {}) });
    }
  }
  return out;
}

/** Protocol-level garbage, written straight to a socket. */
const RAW_REQUESTS: [string, string][] = [
  ["garbage request line", "GARBAGE\r\n\r\n"],
  ["unknown HTTP version", `GET ${BASE}/instances/ HTTP/9.9\r\nHost: x\r\n\r\n`],
  ["space in the path", `GET ${BASE}/instances/a b HTTP/1.1\r\nHost: x\r\n\r\n`],
  ["NUL in the path", `GET ${BASE}/instances/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n`],
  ["header without a colon", `GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n`],
  ["header name with a space", `GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n`],
  ["negative Content-Length", `POST ${BASE}/orchestrators/Echo HTTP/1.1\r\nHost: x\r\nx-functions-key: ${KEY}\r\nContent-Length: -1\r\n\r\n`],
  ["two different Content-Lengths", `POST ${BASE}/orchestrators/Echo HTTP/1.1\r\nHost: x\r\nx-functions-key: ${KEY}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12`],
  ["Content-Length with Transfer-Encoding", `POST ${BASE}/orchestrators/Echo HTTP/1.1\r\nHost: x\r\nx-functions-key: ${KEY}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ["bad chunk size", `POST ${BASE}/orchestrators/Echo HTTP/1.1\r\nHost: x\r\nx-functions-key: ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n1\r\n0\r\n\r\n`],
  ["URL over the header limit", `GET ${BASE}/instances/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ["header over the limit", `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`],
  ["invalid Host header", `GET ${BASE}/instances/ HTTP/1.1\r\nHost: bad host^\r\nx-functions-key: ${KEY}\r\n\r\n`],
  ["asterisk-form GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n"],
  ["asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"],
  ["absolute-form without the key", `POST http://elsewhere.example${BASE}/instances/pre-run/terminate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`],
  ["upgrade to h2c", `POST ${BASE}/instances/pre-run/terminate HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n`],
];

interface Outcome {
  label: string;
  status: number;
  contentType: string;
  text: string;
}

async function send(host: Host, r: BarrageRequest): Promise<Outcome> {
  const url = new URL(`${host.url!}${r.path}`);
  const verbatim = `${url.pathname}${url.search}` === r.path;
  const fetchable = verbatim && !r.chunked && !r.viaNodeHttp && !["TRACE", "PROPFIND", "CONNECT"].includes(r.method) && !(r.body !== undefined && r.method === "GET");
  if (fetchable) {
    const res = await fetch(url, { method: r.method, headers: r.headers ?? {}, ...(r.body !== undefined ? { body: r.body } : {}) });
    return { label: r.label, status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
  }
  const headers = { ...(r.headers ?? {}), ...(r.chunked ? { "transfer-encoding": "chunked" } : {}) };
  const a = await raw(host, r.method, r.path, headers, r.body);
  return { label: r.label, status: a.status, contentType: String(a.headers["content-type"] ?? ""), text: a.text };
}

async function sendRaw(host: Host, label: string, bytes: string): Promise<Outcome> {
  const sock = await openSocket(host);
  try {
    sock.write(bytes);
    const complete = (r: string): boolean => {
      const end = r.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(r.slice(0, end));
      return length !== null && Buffer.byteLength(r.slice(end + 4)) >= Number(length[1]);
    };
    await sock.waitFor(complete, 5_000);
    const r = sock.received;
    const end = r.indexOf("\r\n\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(r)?.[1] ?? 0);
    const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(r.slice(0, Math.max(end, 0)))?.[1] ?? "";
    return { label, status, contentType, text: end >= 0 ? r.slice(end + 4) : r };
  } finally {
    sock.destroy();
  }
}

/** What is wrong with an answer to a hostile request (empty when it is a proper 4xx JSON error). */
function problem(o: Outcome): string | undefined {
  if (o.status < 400 || o.status > 499) return `status ${o.status}`;
  if (!/^application\/json/.test(o.contentType)) return `content-type ${JSON.stringify(o.contentType)}`;
  let body: unknown;
  try {
    body = JSON.parse(o.text);
  } catch {
    return `body is not JSON: ${o.text.slice(0, 80)}`;
  }
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  if (typeof code !== "string" || code === "") return `no error.code in ${o.text.slice(0, 80)}`;
  if (/SQLITE|syntax error|no such (table|column)|at .*\.ts:\d+/i.test(o.text)) return `internal details leak: ${o.text.slice(0, 120)}`;
  return undefined;
}

async function snapshot(host: Host, ids: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    const a = await mgmt(host, `/instances/${id}?showHistory=true&showHistoryOutput=true`, { headers: AUTH });
    assert.ok(a.status === 200 || a.status === 202, a.text);
    out[id] = a.text;
  }
  const list = await mgmt(host, "/instances/?top=1000", { headers: AUTH });
  out["(list)"] = JSON.stringify((list.json as StatusBody[]).map((s) => s.instanceId).sort());
  return out;
}

forEachHttpStore("HTTP bad input", (start) => {
  it("a barrage of 800+ malformed and hostile requests: every answer a 4xx JSON error, nothing stored changes, the host keeps working", async () => {
    const host = await start(register, { key: KEY, maxBodyBytes: LIMIT });
    const withKey = { headers: AUTH };
    assert.equal((await mgmt(host, "/orchestrators/Wait/pre-run", { method: "POST", ...json({ who: "pre" }, withKey) })).status, 202);
    assert.equal((await mgmt(host, "/orchestrators/Wait/pre-susp", { method: "POST", ...withKey })).status, 202);
    assert.equal((await mgmt(host, "/orchestrators/Echo/pre-done", json({ kept: [1, "two", null] }, withKey))).status, 202);
    assert.equal((await mgmt(host, "/orchestrators/Fail/pre-fail", { method: "POST", ...withKey })).status, 202);
    const statusQuery = `?code=${KEY}`;
    await waitForStatus(host, "pre-run", ["Running"], statusQuery);
    await waitForStatus(host, "pre-susp", ["Running"], statusQuery);
    assert.equal((await mgmt(host, "/instances/pre-susp/suspend", { method: "POST", ...withKey })).status, 202);
    await waitForStatus(host, "pre-susp", ["Suspended"], statusQuery);
    await waitForStatus(host, "pre-done", ["Completed"], statusQuery);
    await waitForStatus(host, "pre-fail", ["Failed"], statusQuery);
    const ids = ["pre-run", "pre-susp", "pre-done", "pre-fail"];
    const before = await snapshot(host, ids);

    const barrage = buildBarrage();
    const outcomes: Outcome[] = [];
    for (const r of barrage) {
      try {
        outcomes.push(await send(host, r));
      } catch (err) {
        outcomes.push({ label: r.label, status: 0, contentType: "", text: `request failed: ${String((err as Error).cause ?? err)}` });
      }
    }
    for (const [label, bytes] of RAW_REQUESTS) outcomes.push(await sendRaw(host, `raw: ${label}`, bytes));

    const bad = outcomes.flatMap((o) => {
      const p = problem(o);
      return p ? [`${o.label}: ${p}`] : [];
    });
    assert.deepEqual(bad, [], `${bad.length} of ${outcomes.length} hostile requests were not answered with a 4xx JSON error`);
    assert.ok(outcomes.length >= 200, `only ${outcomes.length} requests`);
    // Every kind of refusal showed up (the barrage reaches the checks it is meant to reach).
    const statuses = new Set(outcomes.map((o) => o.status));
    for (const s of [400, 401, 404, 405, 410, 413]) assert.ok(statuses.has(s), `some answer was ${s}`);
    const codes = new Set(outcomes.map((o) => (JSON.parse(o.text) as { error: { code: string } }).error.code));
    for (const c of ["BAD_REQUEST", "INVALID_ARGUMENT", "INVALID_JSON", "UNSUPPORTED_CONTENT_TYPE", "INVALID_QUERY_PARAMETER", "UNAUTHORIZED", "NOT_FOUND", "INSTANCE_NOT_FOUND", "INSTANCE_GONE", "FUNCTION_NOT_FOUND", "PAYLOAD_TOO_LARGE"]) {
      assert.ok(codes.has(c), `some answer had code ${c}`);
    }

    // No prototype pollution anywhere in this process (the host runs in it).
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);

    // The host is alive, and what was stored before is byte-for-byte what is stored now.
    const health = await fetch(`${host.url!}/healthz`);
    assert.equal(health.status, 200);
    const after = await snapshot(host, ids);
    assert.deepEqual(after, before);

    // And the pre-existing instances still work.
    assert.equal((await mgmt(host, "/instances/pre-run/raiseEvent/go", json({ after: "barrage" }, withKey))).status, 202);
    assert.deepEqual((await waitForStatus(host, "pre-run", ["Completed"], statusQuery)).output, { after: "barrage" });
    assert.equal((await mgmt(host, "/instances/pre-susp/resume", { method: "POST", ...withKey })).status, 202);
    await waitForStatus(host, "pre-susp", ["Running"], statusQuery);
    assert.equal((await mgmt(host, "/instances/pre-susp/raiseEvent/go", json(2, withKey))).status, 202);
    assert.equal((await waitForStatus(host, "pre-susp", ["Completed"], statusQuery)).output, 2);
    const done = (await mgmt(host, "/instances/pre-done", withKey)).json as StatusBody;
    assert.deepEqual(done.output, { kept: [1, "two", null] });
    await replayCheck(host);
  });

  it("hostile but valid instance ids, event names and prefixes are opaque strings: stored, found and filtered exactly", async () => {
    const host = await start(register);
    const ids = ["' OR 1=1 --", '"); DROP TABLE instances; --', "a b", "%", "50%_off", "\u202Eevil", "😀 emoji", "__proto__", "constructor", "ünïcödé", "x".repeat(256)];
    for (const id of ids) {
      const a = await mgmt(host, `/orchestrators/Wait/${q(id)}`, json({ id }));
      assert.equal(a.status, 202, `${id}: ${a.text}`);
      assert.equal((a.json as { id: string }).id, id);
    }
    for (const id of ids) {
      const s = await waitForStatus(host, id, ["Running"]);
      assert.equal(s.instanceId, id);
      assert.deepEqual(s.input, { id });
    }
    const listed = ((await mgmt(host, "/instances/?top=1000")).json as StatusBody[]).map((s) => s.instanceId).sort();
    assert.deepEqual(listed, [...ids].sort(), "nothing dropped, nothing extra");
    for (const [prefix, expected] of [
      ["' OR", ["' OR 1=1 --"]],
      ["' OR 1=1 --", ["' OR 1=1 --"]],
      ['"); DROP', ['"); DROP TABLE instances; --']],
      ["%", ["%"]],
      ["50%", ["50%_off"]],
      ["_", ["__proto__"]],
      ["\u202E", ["\u202Eevil"]],
      ["😀", ["😀 emoji"]],
      ["' OR '1'='1", []],
    ] as [string, string[]][]) {
      const got = ((await mgmt(host, `/instances/?instanceIdPrefix=${q(prefix)}`)).json as StatusBody[]).map((s) => s.instanceId).sort();
      assert.deepEqual(got, expected, `prefix ${JSON.stringify(prefix)}`);
    }
    // Events with hostile names are buffered, not delivered as "go"; then "go" completes each one.
    for (const id of ids) {
      for (const ev of ["' OR 1=1 --", "__proto__", "😀"]) {
        assert.equal((await mgmt(host, `/instances/${q(id)}/raiseEvent/${q(ev)}`, json(ev))).status, 202);
      }
      assert.equal((await mgmt(host, `/instances/${q(id)}/raiseEvent/go`, json(`done ${id}`))).status, 202);
    }
    for (const id of ids) assert.equal((await waitForStatus(host, id, ["Completed"])).output, `done ${id}`);
    // Payloads with prototype keys round-trip as plain data, without polluting anything.
    for (const body of POLLUTING) {
      const id = await startOver(host, "Echo", JSON.parse(body));
      const s = await waitForStatus(host, id, ["Completed"]);
      assert.equal(JSON.stringify(s.output), body);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // Purging them one by one by their exact ids.
    for (const id of ids) assert.deepEqual((await mgmt(host, `/instances/${q(id)}`, { method: "DELETE" })).json, { instancesDeleted: 1 }, id);
    await replayCheck(host);
  });

  it("impossible calendar dates in filters are 400, not silently moved to another day", async () => {
    // BUG (see report): Query.date accepts 2026-02-30 and friends because new Date() rolls them over.
    const host = await start(register);
    const accepted: string[] = [];
    for (const v of ["2026-02-30", "2026-02-29", "2026-04-31", "2026-06-31T00:00:00Z"]) {
      for (const path of [`/instances/?createdTimeFrom=${v}`, `/instances/?createdTimeTo=${v}`]) {
        const a: Answer = await mgmt(host, path);
        if (a.status !== 400) accepted.push(`${path} → ${a.status}`);
      }
    }
    assert.deepEqual(accepted, []);
  });

  it("a CONNECT request gets a 4xx JSON answer, not a dropped connection", async () => {
    // BUG (minor, see report): with no 'connect' listener Node closes the socket without a word;
    // the spec answers anything else with 404 and server.ts promises a JSON error for every failure.
    const host = await start(register);
    const o = await sendRaw(host, "CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert.equal(problem(o), undefined, `CONNECT was answered with ${o.status === 0 ? "a closed connection" : o.status}`);
    assert.equal((await fetch(`${host.url!}/healthz`)).status, 200);
  });

  it("a running instance is not disturbed by a barrage of refused events in parallel", async () => {
    const host = await start(register, { key: KEY });
    assert.equal((await mgmt(host, "/orchestrators/Wait/par-1", { method: "POST", headers: AUTH })).status, 202);
    await waitForStatus(host, "par-1", ["Running"], `?code=${KEY}`);
    const before = (await mgmt(host, "/instances/par-1?showHistory=true", { headers: AUTH })).text;
    const requests: Promise<Response>[] = [];
    for (let i = 0; i < 60; i++) {
      const init: RequestInit =
        i % 3 === 0
          ? { method: "POST", headers: { ...AUTH, "content-type": "text/plain" }, body: '"x"' }
          : i % 3 === 1
            ? { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: "{bad" }
            : { method: "POST", headers: { "content-type": "application/json", "x-functions-key": "nope" }, body: '"x"' };
      requests.push(fetch(`${host.url!}${BASE}/instances/par-1/raiseEvent/go`, init));
    }
    const answers = await Promise.all(requests);
    assert.deepEqual([...new Set(answers.map((r) => r.status))].sort(), [400, 401]);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    assert.equal((await mgmt(host, "/instances/par-1?showHistory=true", { headers: AUTH })).text, before);
    assert.equal((await mgmt(host, "/instances/par-1/raiseEvent/go", json("ok", { headers: AUTH }))).status, 202);
    assert.equal((await waitForStatus(host, "par-1", ["Completed"], `?code=${KEY}`)).output, "ok");
    await eventually(async () => (await fetch(`${host.url!}/healthz`)).status === 200);
    await replayCheck(host);
  });
});
