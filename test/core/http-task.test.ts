import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError, NonDeterminismError, TaskFailedError } from "../../src/core/errors.js";
import { OrchestrationExecutor } from "../../src/core/executor.js";
import { buildHttpRequest, type CallHttpOptions, type DurableHttpResponse, HTTP_ACTIVITY_NAME, pollLocation, retryAfterMs } from "../../src/core/http-task.js";
import { at, episode, newExecutionStarted, newTaskCompleted, newTaskFailed, newTaskScheduled, newTimerCreated, newTimerFired, startEvents, T0 } from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

const HTTP = HTTP_ACTIVITY_NAME;

function response(statusCode: number, headers: Record<string, string> = {}, content = ""): DurableHttpResponse {
  return { statusCode, content, headers };
}

/** An orchestrator making one callHttp with `options` and returning the response (or the error it caught). */
function caller(options: CallHttpOptions, sink: { error?: unknown } = {}) {
  return orch(function* (ctx) {
    try {
      return yield ctx.df.callHttp(options);
    } catch (err) {
      sink.error = err;
      throw err;
    }
  });
}

function input(request: object): string {
  return JSON.stringify(request);
}

describe("callHttp: the polling loop", () => {
  test("202 + Location → timer (Retry-After, else the default) → GET Location, until a non-202, with deterministic replay", () => {
    const fn = caller({ method: "POST", url: "https://api.example.com/jobs", body: { n: 1 }, headers: { Authorization: "Bearer t", "x-functions-key": "k" } });
    const sim = new Simulation(fn);
    const first = {
      method: "POST",
      url: "https://api.example.com/jobs",
      timeoutMs: 100_000,
      headers: { Authorization: "Bearer t", "x-functions-key": "k", "Content-Type": "application/json" },
      body: '{"n":1}',
    };
    let r = sim.step(0, newExecutionStarted("O"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 0, name: HTTP, input: input(first) }]);

    // 202 with a relative Location and Retry-After: 5 → a timer 5 s after this step's time
    r = sim.step(100, newTaskCompleted(0, response(202, { location: "/jobs/7/status", "retry-after": "5" })));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(5100) }]);

    // the poll is a GET of the resolved Location, without the body's headers and the function key
    const poll = { method: "GET", url: "https://api.example.com/jobs/7/status", timeoutMs: 100_000, headers: { Authorization: "Bearer t" } };
    r = sim.step(5100, newTimerFired(1, at(5100)));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 2, name: HTTP, input: input(poll) }]);

    // 202 without Retry-After → the default 30 s; a relative Location resolves against the URL that answered
    r = sim.step(5200, newTaskCompleted(2, response(202, { Location: "?again=1" })));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 3, fireAt: at(35_200) }]);
    r = sim.step(35_200, newTimerFired(3, at(35_200)));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 4, name: HTTP, input: input({ ...poll, url: "https://api.example.com/jobs/7/status?again=1" }) }]);

    const done = response(200, { "content-type": "application/json" }, '{"ok":true}');
    r = sim.step(35_300, newTaskCompleted(4, done));
    assert.deepEqual(r.actions, []);
    assert.equal(r.completion?.status, "Completed");
    assert.deepEqual(JSON.parse(r.completion.result!), done);

    assert.deepEqual(
      sim.history.filter((e) => e.type !== "OrchestratorStarted" && e.type !== "OrchestratorCompleted").map((e) => e.type),
      ["ExecutionStarted", "TaskScheduled", "TaskCompleted", "TimerCreated", "TimerFired", "TaskScheduled", "TaskCompleted", "TimerCreated", "TimerFired", "TaskScheduled", "TaskCompleted", "ExecutionCompleted"],
    );

    // Replaying the whole history from scratch: no new action, same result.
    const replay = run(fn, sim.history, []);
    assert.deepEqual(replay.actions, []);
    assert.equal(replay.completion?.result, r.completion.result);
  });

  test("the host's default polling delay is used when Retry-After is absent or invalid", () => {
    const fn = caller({ method: "GET", url: "http://127.0.0.1:9/start" });
    const executor = new OrchestrationExecutor(fn, { httpPollingDefaultDelayMs: 50 });
    let r = executor.execute([], [...startEvents("O")]);
    assert.equal(r.actions.length, 1);
    r = executor.execute([], [{ type: "OrchestratorStarted", eventId: -1, timestamp: at(10) }, newTaskCompleted(0, response(202, { location: "/s", "retry-after": "soon" }))]);
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(60) }]);
  });

  test("Retry-After as an HTTP date counts from the orchestration's clock", () => {
    const fn = caller({ method: "GET", url: "http://h/start" });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    const when = new Date(T0 + 60_000).toUTCString();
    const r = sim.step(1000, newTaskCompleted(0, response(202, { location: "/s", "retry-after": when })));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(60_000) }]);
  });

  test("enablePolling: false (and the deprecated asynchronousPatternEnabled: false) return the 202 as-is", () => {
    for (const options of [{ enablePolling: false }, { asynchronousPatternEnabled: false }]) {
      const sim = new Simulation(caller({ method: "GET", url: "http://h/start", ...options }));
      sim.step(0, newExecutionStarted("O"));
      const accepted = response(202, { location: "/s", "retry-after": "0" });
      const r = sim.step(10, newTaskCompleted(0, accepted));
      assert.deepEqual(r.actions, []);
      assert.deepEqual(JSON.parse(r.completion!.result!), accepted);
    }
  });

  test("a 202 without a usable Location, and any other status (500 included), is the result", () => {
    for (const answer of [response(202), response(202, { location: "ftp://elsewhere/x" }), response(500, {}, "boom"), response(404, { location: "/x" })]) {
      const sim = new Simulation(caller({ method: "GET", url: "http://h/start" }));
      sim.step(0, newExecutionStarted("O"));
      const r = sim.step(10, newTaskCompleted(0, answer));
      assert.deepEqual(r.actions, [], `no polling for ${JSON.stringify(answer)}`);
      assert.deepEqual(JSON.parse(r.completion!.result!), answer);
    }
  });

  test("a failed request (during polling too) is thrown as a TaskFailedError of BuiltIn::HttpActivity", () => {
    const sink: { error?: unknown } = {};
    const sim = new Simulation(caller({ method: "GET", url: "http://h/start" }, sink));
    sim.step(0, newExecutionStarted("O"));
    sim.step(10, newTaskCompleted(0, response(202, { location: "/s", "retry-after": "0" })));
    sim.step(10, newTimerFired(1, at(10)));
    const r = sim.step(20, newTaskFailed(2, HTTP, "GET http://h/s failed: connect ECONNREFUSED"));
    assert.equal(r.completion?.status, "Failed");
    const err = sink.error;
    assert.ok(err instanceof TaskFailedError);
    assert.equal(err.taskName, HTTP);
    assert.equal(err.message, "Activity function 'BuiltIn::HttpActivity' failed: GET http://h/s failed: connect ECONNREFUSED");
  });

  test("works inside Task.any: a timeout timer can win over a long poll", () => {
    const fn = orch(function* (ctx) {
      const call = ctx.df.callHttp({ method: "GET", url: "http://h/start" });
      const deadline = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000));
      const winner = yield ctx.df.Task.any([call, deadline]);
      return winner === call ? "answered" : "timed out";
    });
    const sim = new Simulation(fn);
    let r = sim.step(0, newExecutionStarted("O"));
    assert.deepEqual(r.actions.map((a) => a.kind), ["ScheduleTask", "CreateTimer"]);
    r = sim.step(10, newTaskCompleted(0, response(202, { location: "/s" })));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 2, fireAt: at(30_010) }]);
    r = sim.step(1000, newTimerFired(1, at(1000)));
    assert.equal(r.completion?.result, JSON.stringify("timed out"));
  });

  test("replay checks each poll step: code that stops polling no longer matches the recorded timer", () => {
    const history = [
      ...episode(0, newExecutionStarted("O"), newTaskScheduled(0, HTTP, { method: "GET", url: "http://h/start", timeoutMs: 100_000 })),
      ...episode(10, newTaskCompleted(0, response(202, { location: "/s", "retry-after": "1" })), newTimerCreated(1, at(1010))),
    ];
    // Same code as recorded: replays cleanly.
    assert.deepEqual(run(caller({ method: "GET", url: "http://h/start" }), history, []).actions, []);
    // Polling turned off afterwards: the recorded timer has no counterpart.
    assert.ok(new OrchestrationExecutor(caller({ method: "GET", url: "http://h/start", enablePolling: false })).execute(history, []).replayFailure instanceof NonDeterminismError);
    // An activity instead of the HTTP call: the name differs.
    const other = orch(function* (ctx) {
      return yield ctx.df.callActivity("Fetch");
    });
    assert.match(String(new OrchestrationExecutor(other).execute(history, []).replayFailure?.message), /scheduled an activity task named 'BuiltIn::HttpActivity' with sequence ID 0, but the current orchestration replay instead scheduled an activity task named 'Fetch'/);
  });
});

describe("callHttp: building the request", () => {
  test("object bodies are JSON with Content-Type set when absent; string bodies are sent as-is", () => {
    assert.deepEqual(buildHttpRequest({ method: "post", url: "http://h:8080", body: [1, { a: "b" }] }).request, {
      method: "POST",
      url: "http://h:8080/",
      timeoutMs: 100_000,
      headers: { "Content-Type": "application/json" },
      body: '[1,{"a":"b"}]',
    });
    assert.deepEqual(buildHttpRequest({ method: "PUT", url: "https://h/x", body: { a: 1 }, headers: { "content-type": "application/merge-patch+json" } }).request, {
      method: "PUT",
      url: "https://h/x",
      timeoutMs: 100_000,
      headers: { "content-type": "application/merge-patch+json" },
      body: '{"a":1}',
    });
    assert.deepEqual(buildHttpRequest({ method: "POST", url: "https://h/x", body: "raw text", timeoutMs: 5000 }).request, { method: "POST", url: "https://h/x", timeoutMs: 5000, body: "raw text" });
    assert.deepEqual(buildHttpRequest({ method: "GET", url: "https://h/x", body: null }), { request: { method: "GET", url: "https://h/x", timeoutMs: 100_000 }, enablePolling: true });
    assert.equal(buildHttpRequest({ method: "GET", url: "https://h/x", enablePolling: true, asynchronousPatternEnabled: false }).enablePolling, true);
  });

  const bad: [string, unknown, RegExp][] = [
    ["no options", undefined, /callHttp needs an options object/],
    ["no method", { url: "http://h/" }, /method is required: one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS/],
    ["unknown method", { method: "FETCH", url: "http://h/" }, /unknown HTTP method "FETCH"/],
    ["no url", { method: "GET" }, /url is required: an absolute http:\/\/ or https:\/\/ URL/],
    ["relative url", { method: "GET", url: "/api/x" }, /url must be an absolute http:\/\/ or https:\/\/ URL, got "\/api\/x"/],
    ["ftp url", { method: "GET", url: "ftp://h/x" }, /scheme ftp:/],
    ["credentials in url", { method: "GET", url: "http://u:p@h/x" }, /must not contain credentials/],
    ["header value not a string", { method: "GET", url: "http://h/", headers: { "X-N": 1 } }, /the value of header 'X-N' must be a string, got number/],
    ["bad header name", { method: "GET", url: "http://h/", headers: { "Bad Name": "v" } }, /"Bad Name" is not a valid header name/],
    ["header with a line break", { method: "GET", url: "http://h/", headers: { "X-A": "a\r\nX-B: b" } }, /contains a line break/],
    ["headers not an object", { method: "GET", url: "http://h/", headers: "X-A: 1" }, /headers must be an object/],
    ["GET with a body", { method: "GET", url: "http://h/", body: { a: 1 } }, /a GET request cannot have a body/],
    ["enablePolling not boolean", { method: "GET", url: "http://h/", enablePolling: "yes" }, /enablePolling must be true or false/],
    ["bad timeout", { method: "GET", url: "http://h/", timeoutMs: -1 }, /timeoutMs must be a whole number of milliseconds/],
    ["tokenSource", { method: "GET", url: "http://h/", tokenSource: { resource: "https://management.core.windows.net" } }, /tokenSource must be new df.ManagedIdentityTokenSource/],
    ["tokenSource and Authorization", { method: "GET", url: "http://h/", headers: { authorization: "Bearer x" }, tokenSource: { kind: "AzureManagedIdentity", resource: "r" } }, /either a tokenSource or an Authorization header/],
  ];
  for (const [what, options, message] of bad) {
    test(`${what}: InvalidArgumentError at the call site`, () => {
      let thrown: unknown;
      const fn = orch(function* (ctx) {
        let task;
        try {
          task = ctx.df.callHttp(options as CallHttpOptions);
        } catch (err) {
          thrown = err;
          throw err;
        }
        yield task;
      });
      const r = run(fn, [], startEvents("O"));
      assert.ok(thrown instanceof InvalidArgumentError, `${what}: ${String(thrown)}`);
      assert.match(thrown.message, message);
      // Uncaught, it fails the instance with that message, and nothing is scheduled.
      assert.deepEqual(r.actions, []);
      assert.equal(r.completion?.status, "Failed");
      assert.equal(r.completion.failureDetails?.code, "INVALID_ARGUMENT");
    });
  }
});

describe("callHttp: helpers", () => {
  test("pollLocation resolves relative Locations and only polls 202s", () => {
    assert.equal(pollLocation(response(202, { Location: "../b?x=1" }), "http://h/a/c"), "http://h/b?x=1");
    assert.equal(pollLocation(response(202, { location: "https://other/s" }), "http://h/a"), "https://other/s");
    assert.equal(pollLocation(response(200, { location: "/s" }), "http://h/a"), undefined);
    assert.equal(pollLocation(response(202, { location: "  " }), "http://h/a"), undefined);
    assert.equal(pollLocation("not a response", "http://h/a"), undefined);
  });

  test("retryAfterMs reads whole seconds or an HTTP date", () => {
    assert.equal(retryAfterMs("0", T0), 0);
    assert.equal(retryAfterMs(" 12 ", T0), 12_000);
    assert.equal(retryAfterMs(undefined, T0), undefined);
    assert.equal(retryAfterMs("-1", T0), undefined);
    assert.equal(retryAfterMs("1.5", T0), undefined);
    assert.equal(retryAfterMs("99999999999999999999", T0), undefined);
    assert.equal(retryAfterMs(new Date(T0 + 3000).toUTCString(), T0), 3000);
    assert.equal(retryAfterMs(new Date(T0 - 3000).toUTCString(), T0), 0);
  });
});
