import Module, { register } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * The packages an Azure Durable Functions app imports, answered by Perdure's own entries while
 * `perdure start` runs the app: `durable-functions` is `perdure`, `@azure/functions` is
 * `perdure/azure-functions`. So an app ported without touching its imports (types through a
 * tsconfig `paths` mapping, see docs/porting.md) registers its functions with this host, and an app
 * that still has the real packages installed does too — they would register with an Azure Functions
 * worker that does not exist here.
 */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
export const PACKAGE_ALIASES: Readonly<Record<string, string>> = {
  "durable-functions": fileURLToPath(new URL(`../index${EXT}`, import.meta.url)),
  "@azure/functions": fileURLToPath(new URL(`../azure-functions${EXT}`, import.meta.url)),
};

let installed = false;

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

export async function installPackageAliases(): Promise<void> {
  if (installed) return;
  installed = true;
  // Running from the sources (a checkout without a build): a CommonJS app's require() of an alias
  // reaches a .ts file, which only tsx's CommonJS loader can read.
  if (EXT === ".ts") (await import("tsx/cjs/api")).register();
  // require(): CommonJS apps (tsc's default output for Azure Functions projects).
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = cjs._resolveFilename;
  cjs._resolveFilename = function (request, parent, isMain, options) {
    // Own keys only: a module named "constructor" must not resolve to Object.prototype's.
    return Object.hasOwn(PACKAGE_ALIASES, request) ? PACKAGE_ALIASES[request]! : resolveFilename.call(this, request, parent, isMain, options);
  };
  // import: ES module apps, through a resolve hook (it runs on the loader's thread, so it gets the map as data).
  register(new URL(`./package-alias-hooks${EXT}`, import.meta.url), { data: PACKAGE_ALIASES });
}
