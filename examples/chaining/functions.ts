/**
 * Pattern 1, function chaining: the `helloSequence` sample of durable-functions. The orchestrator calls
 * the `sayHello` activity three times in a row; each call starts only after the previous one returned,
 * and each result is checkpointed in the history, so a crash in the middle never repeats a finished step.
 */
import * as df from "../../src/index.js";
import type { DurableApp } from "../../src/index.js";

export const ORCHESTRATOR = "helloSequence";

export function register(app: DurableApp): void {
  app.activity("sayHello", { handler: (name: string) => `Hello ${name}` });

  app.orchestration(ORCHESTRATOR, function* (context) {
    const outputs: unknown[] = [];
    outputs.push(yield context.df.callActivity("sayHello", "Tokyo"));
    outputs.push(yield context.df.callActivity("sayHello", "Seattle"));
    outputs.push(yield context.df.callActivity("sayHello", "Cairo"));
    // ["Hello Tokyo", "Hello Seattle", "Hello Cairo"]
    return outputs;
  });
}

register(df.app);
