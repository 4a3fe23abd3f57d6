import assert from "node:assert/strict";
import { type ExecutorOptions, OrchestrationExecutor } from "../../src/core/executor.js";
import type { StorageProvider } from "../../src/providers/provider.js";
import type { FunctionRegistry } from "../../src/runtime/registry.js";

/**
 * The determinism self-check: replays an instance's whole stored history from scratch through a
 * fresh executor and asserts that the code produces no action the history does not already hold,
 * and reaches the same end state. Run it after every integration test on each instance it touched.
 */
export async function assertReplaysCleanly(provider: StorageProvider, registry: FunctionRegistry, instanceId: string, options: ExecutorOptions = {}): Promise<void> {
  const instance = await provider.getInstance(instanceId);
  assert.ok(instance, `instance ${instanceId} exists`);
  const history = await provider.getHistory(instanceId);
  const started = history.find((e) => e.type === "ExecutionStarted");
  if (!started || started.type !== "ExecutionStarted") return; // not started yet: nothing to replay
  const fn = registry.getOrchestration(started.name);
  assert.ok(fn, `orchestrator '${started.name}' is registered`);
  // The host's limits, as its own replays would apply them (a payload limit decides what the code sees).
  const executor = new OrchestrationExecutor(fn.handler, options);
  const result = executor.execute(history, []);
  assert.deepEqual(
    result.actions,
    [],
    `replaying ${instanceId} (${started.name}) from scratch produced new actions: ${JSON.stringify(result.actions)}`,
  );
  const recorded = history.find((e) => e.type === "ExecutionCompleted");
  if (recorded?.type === "ExecutionCompleted" && recorded.orchestrationStatus !== "Terminated") {
    assert.equal(result.completion?.status, recorded.orchestrationStatus, `replay of ${instanceId} ends ${recorded.orchestrationStatus}`);
    assert.equal(result.completion?.result, recorded.result, `replay of ${instanceId} reproduces the recorded result`);
  }
}

/** Runs the self-check on every instance in the store. */
export async function assertAllReplayCleanly(provider: StorageProvider, registry: FunctionRegistry, options: ExecutorOptions = {}): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await provider.queryInstances(token === undefined ? { pageSize: 1000 } : { pageSize: 1000, continuationToken: token });
    for (const i of page.instances) {
      await assertReplaysCleanly(provider, registry, i.instanceId, options);
      n++;
    }
    token = page.continuationToken;
  } while (token);
  return n;
}
