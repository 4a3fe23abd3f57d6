import { readFileSync } from "node:fs";

/**
 * The version in Perdure's own package.json, found by walking up from this file: it sits two
 * levels up in a source checkout (src/cli) and three in the built package (dist/src/cli).
 */
export function packageVersion(): string {
  for (let dir = new URL("./", import.meta.url); dir.pathname !== "/"; dir = new URL("../", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "perdure" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here: look one level up
    }
  }
  return "unknown";
}
