import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: { root: string; version: string } | undefined | null = null;

/**
 * Perdure's own package folder and version, found by walking up from this file to the package.json
 * named "perdure": two levels up in a source checkout (src/runtime), three in the built package
 * (dist/src/runtime). Undefined if it cannot be found (a bundler that dropped the manifest).
 */
export function perdurePackage(): { root: string; version: string } | undefined {
  if (cached !== null) return cached;
  cached = undefined;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "perdure") {
        cached = { root: dir, version: typeof pkg.version === "string" ? pkg.version : "unknown" };
        break;
      }
    } catch {
      // Not here: look one level up.
    }
    if (dirname(dir) === dir) break;
  }
  return cached;
}
