/**
 * `perdure/azure-functions` standing in for `@azure/functions` v4: the HTTP starter every
 * durable-functions sample uses (`app.http` with `extraInputs: [df.input.durableClient()]`,
 * `df.getClient(context)`, `client.createCheckStatusResponse`), written as in the samples with only
 * the imports changed, served by a host; and HttpRequest/HttpResponse for handlers' unit tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { app, HttpRequest, HttpResponse, input, InvocationContext, output, type HttpHandler } from "../../src/azure-functions.js";
import * as df from "../../src/index.js";
import { createHost, type Host } from "../../src/host/host.js";
import { silentLogger } from "../../src/runtime/logger.js";

// ---- as in the samples (durable-functions samples-ts), imports changed ----
const helloActivity = "sayHello";
df.app.activity(helloActivity, { handler: (input: string): string => `Hello, ${input}` });
df.app.orchestration("helloSequence", function* (context) {
  context.log("Starting helloSequence.");
  const outputs: string[] = [];
  outputs.push(yield context.df.callActivity(helloActivity, "Tokyo"));
  outputs.push(yield context.df.callActivity(helloActivity, "Seattle"));
  outputs.push(yield context.df.callActivity(helloActivity, "Cairo"));
  return outputs;
});
const httpStart: HttpHandler = async (request: HttpRequest, context: InvocationContext): Promise<HttpResponse> => {
  const client = df.getClient(context);
  const body: unknown = await request.text();
  const instanceId: string = await client.startNew(request.params.orchestratorName!, { input: body });
  context.log(`Started orchestration with ID = '${instanceId}'.`);
  return client.createCheckStatusResponse(request, instanceId);
};
app.http("durableOrchestrationStart1", {
  route: "orchestrators/{orchestratorName}",
  extraInputs: [df.input.durableClient()],
  handler: httpStart,
});
app.get("ping", async (request: HttpRequest) => new HttpResponse({ jsonBody: { pong: request.query.get("x") }, headers: { "x-seen": "yes" } }));
app.post("withCookie", () => ({ status: 201, jsonBody: { ok: true }, headers: new Headers({ "x-h": "1" }), cookies: [{ name: "session", value: "s1", path: "/", httpOnly: true }] }));
// ---- end of the sample ----

describe("perdure/azure-functions", () => {
  let host: Host;
  before(async () => {
    host = createHost({ store: "memory:", port: 0, logger: silentLogger, pollIntervalMs: 20 });
    await host.start();
  });
  after(async () => host?.stop());

  it("the samples' HTTP starter starts an orchestration and answers 202 with the check-status payload", async () => {
    const res = await fetch(`${host.url!}/api/orchestrators/helloSequence`, { method: "POST", body: "" });
    assert.equal(res.status, 202);
    const payload = (await res.json()) as { id: string; statusQueryGetUri: string };
    assert.equal(res.headers.get("location"), payload.statusQueryGetUri);
    const status = await host.client.waitForCompletion(payload.id, { timeoutInMilliseconds: 10_000 });
    assert.deepEqual(status.output, ["Hello, Tokyo", "Hello, Seattle", "Hello, Cairo"]);
  });

  it("app.get registers a GET route whose HttpResponse is sent as it is", async () => {
    const res = await fetch(`${host.url!}/api/ping?x=7`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-seen"), "yes");
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), { pong: "7" });
    assert.equal((await fetch(`${host.url!}/api/ping`, { method: "POST" })).status, 405);
  });

  it("a plain object returned is sent as an HttpResponse would be: headers in any form, cookies", async () => {
    const res = await fetch(`${host.url!}/api/withCookie`, { method: "POST" });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-h"), "1");
    assert.equal(res.headers.get("set-cookie"), "session=s1; Path=/; HttpOnly");
    assert.deepEqual(await res.json(), { ok: true });
  });

  it("HttpRequest and HttpResponse behave as @azure/functions' for handlers tested alone", async () => {
    const req = new HttpRequest({ method: "POST", url: "http://localhost/api/x", body: { string: '{"a":1}' }, query: { q: "1" }, params: { id: "7" }, headers: { "Content-Type": "application/json" } });
    assert.equal(req.params.id, "7");
    assert.equal(req.query.get("q"), "1");
    assert.equal(req.headers.get("content-type"), "application/json");
    assert.equal(req.user, null);
    assert.deepEqual(await req.json(), { a: 1 });
    assert.throws(() => new HttpRequest({ method: "GET" }), /needs init.url/);

    const json = new HttpResponse({ jsonBody: { a: 1 }, status: 202, headers: { Location: "http://l" }, cookies: [{ name: "s", value: "1", httpOnly: true }] });
    assert.equal(json.status, 202);
    assert.equal(json.headers.get("content-type"), "application/json");
    assert.equal(json.headers.get("location"), "http://l");
    assert.equal(json.headers.get("set-cookie"), "s=1; HttpOnly");
    assert.equal(await json.text(), '{"a":1}');
    assert.equal(new HttpResponse().status, 200);
    assert.equal(await new HttpResponse({ status: 204, body: "dropped" }).text(), "");

    const ctx = new InvocationContext({ functionName: "f" });
    const out = output.http();
    ctx.extraOutputs.set(out, new HttpResponse({ body: "x" }));
    assert.ok(ctx.extraOutputs.get(out) instanceof HttpResponse);
    assert.match(out.name, /^http[0-9a-f]{10}$/, "a generated, stable binding name");
  });

  it("triggers that exist only on Azure are refused with the way out; their output bindings are for the hook", () => {
    for (const kind of ["storageBlob", "storageQueue", "serviceBusQueue", "serviceBusTopic", "eventHub", "eventGrid", "cosmosDB", "sql", "mySql", "webPubSub", "warmup", "generic"] as const) {
      assert.throws(
        () => app[kind]("onSomething", { handler: () => undefined }),
        (e: df.DurableError) => e.code === "UNSUPPORTED_TRIGGER" && e.message.startsWith(`app.${kind}('onSomething'): Perdure has no ${kind} trigger`) && /df\.createRemoteClient\(url\).*app\.http or app\.timer/.test(e.message),
        kind,
      );
    }
    const queue = output.storageQueue({ queueName: "orders", connection: "Storage" });
    assert.equal(queue.type, "queue");
    assert.equal(queue.queueName, "orders");
    assert.match(queue.name, /^queue[0-9a-f]{10}$/);
    assert.equal(output.serviceBusTopic({ topicName: "t", connection: "c" }).type, "serviceBus");
    assert.equal(input.cosmosDB({ databaseName: "d", containerName: "c", connection: "c" }).type, "cosmosDB");
  });

  it("app.hook.appStart and appTerminate run when a host starts and stops; per-invocation hooks are refused; app.setup is accepted", async () => {
    const seen: string[] = [];
    const start = app.hook.appStart((context) => {
      context.appHookData.startedAt = "start";
      seen.push("start");
    });
    const stop = app.hook.appTerminate((context) => void seen.push(`terminate after ${String(context.appHookData.startedAt)}`));
    try {
      const other = createHost({ store: "memory:", port: false, logger: silentLogger });
      await other.start();
      assert.deepEqual(seen, ["start"]);
      await other.stop();
      assert.deepEqual(seen, ["start", "terminate after start"]);
    } finally {
      start.dispose();
      stop.dispose();
    }
    const failing = app.hook.appStart(() => {
      throw new Error("no config");
    });
    try {
      await assert.rejects(createHost({ store: "memory:", port: false, logger: silentLogger }).start(), /no config/);
    } finally {
      failing.dispose();
    }
    assert.throws(() => app.hook.preInvocation(() => undefined), (e: df.DurableError) => e.code === "UNSUPPORTED_HOOK" && /appStart/.test(e.message));
    assert.throws(() => app.hook.postInvocation(() => undefined), { code: "UNSUPPORTED_HOOK" });
    app.setup({ enableHttpStream: true });
  });
});
