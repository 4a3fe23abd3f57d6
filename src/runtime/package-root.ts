import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
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

/** "file:line:col" of the first frame of a stack in the app's code (not Node's, a package's or Perdure's). */
export function appFrame(stack: string | undefined): string | undefined {
  const own = perdurePackage()?.root;
  for (const line of (stack ?? "").split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, "");
    if (file.includes("/node_modules/") || (own !== undefined && (file.startsWith(join(own, "src")) || file.startsWith(join(own, "dist"))))) continue;
    return `${relative(process.cwd(), file) || file}:${m[2]}:${m[3]}`;
  }
  return undefined;
}
