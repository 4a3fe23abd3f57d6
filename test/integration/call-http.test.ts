import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { createApp } from "../../src/app.js";
import { InvalidArgumentError, TaskFailedError } from "../../src/core/errors.js";
import type { DurableHttpResponse } from "../../src/core/http-task.js";
import type { HistoryEventView } from "../helpers/hosts.js";
import { ManualClock } from "../helpers/clock.js";
import { ManagedIdentityTokenSource } from "../../src/durable-functions.js";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface StubServer {
  url: string;
  requests: Seen[];
}

type Handler = (req: Seen, res: ServerResponse, n: number) => void;

/** Answers with a fixed body and only the headers given (plus Node's connection headers). */
function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.sendDate = false;
  res.writeHead(status, { ...headers, "Content-Length": String(Buffer.byteLength(body)) });
  res.end(body);
}

/** The headers Node adds to every answer on a keep-alive connection (fetch keeps connections alive). */
const CONNECTION_HEADERS = { connection: "keep-alive", "keep-alive": "timeout=5" };

const servers: Server[] = [];

async function stubServer(handler: Handler): Promise<StubServer> {
  const requests: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(seen);
      handler(seen, res, requests.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** History without the episode markers, as `type(detail)` strings. */
function outline(history: HistoryEventView[]): string[] {
  return history.flatMap((e) => {
    switch (e.type) {
      case "TaskScheduled":
        return [`TaskScheduled(${e.name} ${(e.input as { method: string; url: string }).method} ${new URL((e.input as { url: string }).url).pathname})`];
      case "TaskCompleted":
        return [`TaskCompleted(${(e.result as DurableHttpResponse).statusCode})`];
      case "TimerCreated":
      case "TimerFired":
      case "ExecutionStarted":
      case "ExecutionCompleted":
        return [e.type];
      default:
        return [];
    }
  });
}

forEachStore("callHttp", (start) => {
  it("GET and POST with a JSON object body return exactly { statusCode, content, headers }", async () => {
    const server = await stubServer((req, res) => {
      const echo = JSON.stringify({ method: req.method, url: req.url, contentType: req.headers["content-type"] ?? null, custom: req.headers["x-custom"] ?? null, body: req.body });
      send(res, req.method === "POST" ? 201 : 200, echo, { "Content-Type": "application/json", "X-Echo": "yes" });
    });
    const host = await start((app) => {
      app.orchestration("caller", function* (ctx) {
        const base = ctx.df.getInput<string>();
        const got: unknown = yield ctx.df.callHttp({ method: "GET", url: `${base}/items?id=1`, headers: { "X-Custom": "c1" } });
        const posted: unknown = yield ctx.df.callHttp({ method: "POST", url: `${base}/items`, body: { name: "widget", n: 2 } });
        const raw: unknown = yield ctx.df.callHttp({ method: "put", url: `${base}/raw`, body: "plain text", headers: { "Content-Type": "text/plain" } });
        return [got, posted, raw];
      });
    });
    const id = await host.client.startNew("caller", { input: server.url });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    const expected = (code: number, content: object): DurableHttpResponse => {
      const text = JSON.stringify(content);
      return { statusCode: code, content: text, headers: { ...CONNECTION_HEADERS, "content-type": "application/json", "x-echo": "yes", "content-length": String(Buffer.byteLength(text)) } };
    };
    assert.deepEqual(status.output, [
      expected(200, { method: "GET", url: "/items?id=1", contentType: null, custom: "c1", body: "" }),
      expected(201, { method: "POST", url: "/items", contentType: "application/json", custom: null, body: '{"name":"widget","n":2}' }),
      expected(200, { method: "PUT", url: "/raw", contentType: "text/plain", custom: null, body: "plain text" }),
    ]);
    // The response is the built-in activity's recorded result.
    const history = await storedHistory(host, id);
    const completed = history.filter((e) => e.type === "TaskCompleted").map((e) => e.result);
    assert.deepEqual(completed, status.output);
    assert.deepEqual(
      history.filter((e) => e.type === "TaskScheduled").map((e) => e.name),
      ["BuiltIn::HttpActivity", "BuiltIn::HttpActivity", "BuiltIn::HttpActivity"],
    );
  });

  it("follows 202 + Location with durable timers (Retry-After: 0) and GETs until a 200", async () => {
    const server = await stubServer((req, res, n) => {
      if (n === 1) send(res, 202, "", { Location: `/status/job-1`, "Retry-After": "0" });
      else if (n === 2) send(res, 202, "still running", { Location: "job-1?poll=2", "Retry-After": "0" }); // relative to /status/job-1
      else send(res, 200, JSON.stringify({ done: true }), { "Content-Type": "application/json" });
    });
    const host = await start((app) => {
      app.orchestration("longRunning", function* (ctx) {
        return yield ctx.df.callHttp({ method: "POST", url: `${ctx.df.getInput<string>()}/jobs`, body: { size: 3 }, headers: { Authorization: "Bearer abc" } });
      });
    });
    const id = await host.client.startNew("longRunning", { input: server.url });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    const out = status.output as DurableHttpResponse;
    assert.equal(out.statusCode, 200);
    assert.equal(out.content, '{"done":true}');
    assert.equal(out.headers["content-type"], "application/json");

    assert.equal(server.requests.length, 3);
    assert.deepEqual(server.requests.map((r) => `${r.method} ${r.url}`), ["POST /jobs", "GET /status/job-1", "GET /status/job-1?poll=2"]);
    assert.equal(server.requests[0]!.body, '{"size":3}');
    // Polls carry the caller's headers (authorization), not the body's.
    for (const poll of server.requests.slice(1)) {
      assert.equal(poll.headers.authorization, "Bearer abc");
      assert.equal(poll.headers["content-type"], undefined);
      assert.equal(poll.body, "");
    }

    const history = await storedHistory(host, id);
    assert.deepEqual(outline(history), [
      "ExecutionStarted",
      "TaskScheduled(BuiltIn::HttpActivity POST /jobs)",
      "TaskCompleted(202)",
      "TimerCreated",
      "TimerFired",
      "TaskScheduled(BuiltIn::HttpActivity GET /status/job-1)",
      "TaskCompleted(202)",
      "TimerCreated",
      "TimerFired",
      "TaskScheduled(BuiltIn::HttpActivity GET /status/job-1)",
      "TaskCompleted(200)",
      "ExecutionCompleted",
    ]);
    // Retry-After: 0 → each timer fires at the time of the step that created it.
    for (const t of history.filter((e) => e.type === "TimerCreated")) assert.equal(t.fireAt, t.timestamp);
  });

  it("without Retry-After, waits the host's httpPollingDefaultDelayMs between polls", async () => {
    const server = await stubServer((req, res, n) => {
      if (n <= 2) send(res, 202, "", { Location: `/status` });
      else send(res, 200, "ready");
    });
    const host = await start(
      (app) => {
        app.orchestration("defaultDelay", function* (ctx) {
          return yield ctx.df.callHttp({ method: "GET", url: `${ctx.df.getInput<string>()}/start` });
        });
      },
      { httpPollingDefaultDelayMs: 50 },
    );
    const id = await host.client.startNew("defaultDelay", { input: server.url });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    assert.equal((status.output as DurableHttpResponse).content, "ready");
    assert.equal(server.requests.length, 3);
    const history = await storedHistory(host, id);
    const timers = history.filter((e) => e.type === "TimerCreated");
    assert.equal(timers.length, 2);
    for (const t of timers) assert.equal(Date.parse(t.fireAt) - Date.parse(t.timestamp), 50);
    const fired = history.filter((e) => e.type === "TimerFired");
    assert.equal(fired.length, 2);
  });

  it("the default delay is 30 s and durable: nothing is polled early (manual clock)", async () => {
    const clock = new ManualClock();
    const server = await stubServer((req, res, n) => {
      if (n === 1) send(res, 202, "", { Location: `/status` });
      else send(res, 200, "ready");
    });
    const host = await start(
      (app) => {
        app.orchestration("thirtySeconds", function* (ctx) {
          return yield ctx.df.callHttp({ method: "GET", url: `${ctx.df.getInput<string>()}/start` });
        });
      },
      { clock, pollIntervalMs: 10 },
    );
    const id = await host.client.startNew("thirtySeconds", { input: server.url });
    const timer = await eventually(async () => (await storedHistory(host, id)).find((e) => e.type === "TimerCreated"));
    assert.equal(Date.parse(timer.fireAt) - Date.parse(timer.timestamp), 30_000);
    clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.requests.length, 1, "no poll before the delay");
    clock.advance(1_000);
    const status = await host.client.waitForCompletion(id);
    assert.equal((status.output as DurableHttpResponse).content, "ready");
    assert.equal(server.requests.length, 2);
  });

  it("enablePolling: false returns the 202 as-is", async () => {
    const server = await stubServer((req, res) => send(res, 202, "accepted", { Location: "/status", "Retry-After": "0" }));
    const host = await start((app) => {
      app.orchestration("noPolling", function* (ctx) {
        return yield ctx.df.callHttp({ method: "POST", url: `${ctx.df.getInput<string>()}/jobs`, body: "go", enablePolling: false });
      });
    });
    const id = await host.client.startNew("noPolling", { input: server.url });
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, {
      statusCode: 202,
      content: "accepted",
      headers: { ...CONNECTION_HEADERS, location: "/status", "retry-after": "0", "content-length": "8" },
    });
    assert.equal(server.requests.length, 1);
  });

  it("a 500 answer is a result, while a refused connection and a timeout fail with TaskFailedError", async () => {
    const server = await stubServer((req, res) => {
      if (req.url === "/slow") return; // never answers
      send(res, 500, "internal error");
    });
    const refused = `http://127.0.0.1:${await closedPort()}/nothing`;
    const host = await start((app) => {
      app.orchestration("errors", function* (ctx) {
        const { base, refusedUrl } = ctx.df.getInput<{ base: string; refusedUrl: string }>();
        const out: unknown[] = [];
        const failed = (yield ctx.df.callHttp({ method: "GET", url: `${base}/fail` })) as DurableHttpResponse;
        out.push({ statusCode: failed.statusCode, content: failed.content });
        for (const options of [{ method: "GET", url: refusedUrl }, { method: "GET", url: `${base}/slow`, timeoutMs: 200 }]) {
          try {
            yield ctx.df.callHttp(options);
            out.push("no error");
          } catch (err) {
            const e = err as TaskFailedError;
            out.push({ isTaskFailed: e instanceof TaskFailedError, name: e.taskName, message: e.message, type: e.failureDetails.errorType, code: e.failureDetails.code });
          }
        }
        return out;
      });
    });
    const id = await host.client.startNew("errors", { input: { base: server.url, refusedUrl: refused } });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    const [five, conn, slow] = status.output as [{ statusCode: number; content: string }, Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(five, { statusCode: 500, content: "internal error" });
    assert.equal(conn.isTaskFailed, true);
    assert.equal(conn.name, "BuiltIn::HttpActivity");
    assert.equal(conn.type, "HttpRequestError");
    assert.equal(conn.code, "HTTP_REQUEST_FAILED");
    assert.match(conn.message as string, new RegExp(`^Activity function 'BuiltIn::HttpActivity' failed: GET ${refused.replace(/[.?]/g, "\\$&")} failed: .*ECONNREFUSED`));
    assert.equal(slow.message, `Activity function 'BuiltIn::HttpActivity' failed: GET ${server.url}/slow timed out after 200 ms.`);
    assert.equal(slow.code, "HTTP_REQUEST_FAILED");
  });

  it("a ManagedIdentityTokenSource gets a token from IDENTITY_ENDPOINT, sends it as a bearer token (polls too) and never records it", async () => {
    const identity = await stubServer((req, res) => {
      const u = new URL(req.url, "http://x");
      if (req.headers["x-identity-header"] !== "the-secret") return send(res, 401, "no");
      send(res, 200, JSON.stringify({ access_token: `token-for:${u.searchParams.get("resource")}`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), token_type: "Bearer" }), { "Content-Type": "application/json" });
    });
    const api = await stubServer((req, res, n) => {
      if (n === 1) return send(res, 202, "", { Location: "/subscriptions/poll", "Retry-After": "0" });
      send(res, 200, JSON.stringify({ value: [{ subscriptionId: "s1", seenBearer: String(req.headers.authorization ?? "").startsWith("Bearer ") }] }), { "Content-Type": "application/json" });
    });
    const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
    process.env.IDENTITY_ENDPOINT = `${identity.url}/msi/token`;
    process.env.IDENTITY_HEADER = "the-secret";
    try {
      const host = await start((app) => {
        app.orchestration("listSubscriptions", function* (ctx) {
          return yield ctx.df.callHttp({ method: "GET", url: `${ctx.df.getInput<string>()}/subscriptions`, tokenSource: new ManagedIdentityTokenSource("https://management.core.windows.net") });
        });
      });
      const id = await host.client.startNew("listSubscriptions", { input: api.url });
      const status = await host.client.waitForCompletion(id);
      assert.equal(status.runtimeStatus, "Completed");
      assert.deepEqual(JSON.parse((status.output as DurableHttpResponse).content), { value: [{ subscriptionId: "s1", seenBearer: true }] });
      assert.deepEqual(api.requests.map((r) => r.headers.authorization), ["Bearer token-for:https://management.core.windows.net", "Bearer token-for:https://management.core.windows.net"]);
      assert.match(identity.requests[0]!.url, /^\/msi\/token\?resource=https%3A%2F%2Fmanagement\.core\.windows\.net&api-version=2019-08-01$/);
      const history = JSON.stringify(await storedHistory(host, id));
      assert.doesNotMatch(history, /token-for/, "the token is not in history");
      assert.match(history, /AzureManagedIdentity/);
    } finally {
      if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
      else process.env.IDENTITY_ENDPOINT = saved.endpoint;
      if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
      else process.env.IDENTITY_HEADER = saved.header;
    }
  });

  it("without a managed identity, a tokenSource request fails with MANAGED_IDENTITY_UNAVAILABLE and the way out", async () => {
    const saved = process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_ENDPOINT;
    try {
      const host = await start((app) => {
        app.orchestration("noIdentity", function* (ctx) {
          try {
            yield ctx.df.callHttp({ method: "GET", url: "http://127.0.0.1:9/", tokenSource: new ManagedIdentityTokenSource("https://management.core.windows.net") });
            return "sent";
          } catch (err) {
            return { code: (err as TaskFailedError).failureDetails.code ?? null, message: (err as Error).message };
          }
        });
      });
      const status = await host.client.waitForCompletion(await host.client.startNew("noIdentity"));
      const out = status.output as { code: string; message: string };
      assert.equal(out.code, "MANAGED_IDENTITY_UNAVAILABLE");
      assert.match(out.message, /no managed identity here to get a token for 'https:\/\/management\.core\.windows\.net' \(IDENTITY_ENDPOINT and IDENTITY_HEADER are not set.*Authorization header/);
    } finally {
      if (saved !== undefined) process.env.IDENTITY_ENDPOINT = saved;
    }
  });

  it("bad options throw InvalidArgumentError at the call site", async () => {
    const host = await start((app) => {
      app.orchestration("badOptions", function* (ctx) {
        const cases: unknown[] = [
          { url: "http://127.0.0.1/" },
          { method: "SEND", url: "http://127.0.0.1/" },
          { method: "GET", url: "/relative" },
          { method: "GET", url: "file:///etc/passwd" },
          { method: "GET", url: "http://127.0.0.1/", headers: { "X-Retries": 3 } },
          { method: "GET", url: "http://127.0.0.1/", tokenSource: { resource: "https://management.core.windows.net" } },
        ];
        const out: unknown[] = [];
        for (const options of cases) {
          try {
            ctx.df.callHttp(options as never);
            out.push("accepted");
          } catch (err) {
            out.push({ invalid: err instanceof InvalidArgumentError, code: (err as InvalidArgumentError).code, message: (err as Error).message });
          }
        }
        yield ctx.df.createTimer(ctx.df.currentUtcDateTime);
        return out;
      });
    });
    const id = await host.client.startNew("badOptions");
    const status = await host.client.waitForCompletion(id);
    const out = status.output as { invalid: boolean; code: string; message: string }[];
    assert.equal(out.length, 6);
    for (const o of out) {
      assert.equal(o.invalid, true);
      assert.equal(o.code, "INVALID_ARGUMENT");
    }
    assert.deepEqual(
      out.map((o) => o.message),
      [
        "callHttp: method is required: one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS.",
        'callHttp: unknown HTTP method "SEND"; use one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS.',
        'callHttp: url must be an absolute http:// or https:// URL, got "/relative".',
        'callHttp: url must be an absolute http:// or https:// URL, got "file:///etc/passwd" (scheme file:).',
        "callHttp: the value of header 'X-Retries' must be a string, got number.",
        'callHttp: tokenSource must be new df.ManagedIdentityTokenSource("<resource URI>"), e.g. "https://management.core.windows.net/".',
      ],
    );
  });
});

describe("BuiltIn::HttpActivity registration", () => {
  it("is reserved: a user function with that name (any case) or the BuiltIn:: prefix is refused", () => {
    const app = createApp();
    assert.throws(
      () => app.activity("BuiltIn::HttpActivity", { handler: () => 1 }),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.message ===
          "Invalid function name 'BuiltIn::HttpActivity': names starting with 'BuiltIn::' are reserved for Perdure's built-in functions ('BuiltIn::HttpActivity' runs the requests of context.df.callHttp and is always available). Choose another name.",
    );
    assert.throws(() => app.activity("builtin::httpactivity", { handler: () => 1 }), InvalidArgumentError);
    assert.throws(
      () =>
        app.orchestration("BUILTIN::Other", function* () {
          yield* [];
        }),
      /names starting with 'BuiltIn::' are reserved for Perdure's built-in functions\. Choose another name\./,
    );
    assert.deepEqual(app.registry.activityNames(), [], "built-ins are not listed as the app's activities");
    assert.equal(app.registry.getActivity("builtin::HTTPACTIVITY")?.name, "BuiltIn::HttpActivity", "but every app resolves them");
  });
});
