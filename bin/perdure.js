#!/usr/bin/env node
// The CLI runs from the compiled package. In a source checkout without a build (or with
// PERDURE_CLI_FROM_SOURCE=1, used by the tests) it runs the TypeScript sources through tsx.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
let mod;
if (existsSync(compiled) && process.env.PERDURE_CLI_FROM_SOURCE !== "1") {
  mod = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
// Exit as soon as main is done: a host that has stopped must not be kept alive by timers that
// user code left behind (an activity abandoned at the end of the grace period may hold one).
process.exit(await mod.main(process.argv.slice(2)));
