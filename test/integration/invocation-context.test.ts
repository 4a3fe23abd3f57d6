/** The invocation context of @azure/functions, as Perdure builds it: defaults, bindings and logging. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { InvocationContext, loggerHandler } from "../../src/runtime/invocation-context.js";
import type { LogFields, Logger } from "../../src/runtime/logger.js";

it("has the defaults of @azure/functions and keys extra bindings by name", () => {
  const c = new InvocationContext();
  assert.equal(c.invocationId, "unknown");
  assert.equal(c.functionName, "unknown");
  assert.deepEqual(c.options, { trigger: { name: "unknown", type: "unknown" }, extraInputs: [], extraOutputs: [] });
  const blob = { type: "blob", name: "blobOutput1", path: "out/{x}" };
  c.extraOutputs.set(blob, "data");
  assert.equal(c.extraOutputs.get("blobOutput1"), "data");
  assert.equal(c.extraInputs.get(blob), undefined);
});

it("logs each method at its level, formatted as util.format does, with the invocation's fields", () => {
  const records: [string, string, LogFields | undefined][] = [];
  const logger: Logger = {
    info: (m, f) => records.push(["info", m, f]),
    warn: (m, f) => records.push(["warn", m, f]),
    error: (m, f) => records.push(["error", m, f]),
    debug: (m, f) => records.push(["debug", m, f]),
  };
  const c = new InvocationContext({ functionName: "f", logHandler: loggerHandler(logger, { functionName: "f" }) });
  c.log("a %d", 1);
  c.trace("t");
  c.debug("d", { x: 1 });
  c.info("i");
  c.warn("w");
  c.error("e");
  assert.deepEqual(
    records.map(([level, message]) => `${level}:${message}`),
    ["info:a 1", "debug:t", "debug:d { x: 1 }", "info:i", "warn:w", "error:e"],
  );
  assert.deepEqual(records[0]![2], { functionName: "f" });
});
