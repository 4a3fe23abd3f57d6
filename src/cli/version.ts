import { perdurePackage } from "../runtime/package-root.js";

/** The version in Perdure's own package.json. */
export function packageVersion(): string {
  return perdurePackage()?.version ?? "unknown";
}
