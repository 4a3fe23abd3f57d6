import { InvalidArgumentError } from "./errors.js";

/** Longest version accepted: a label, not a payload. */
const MAX_VERSION_LENGTH = 100;

/**
 * An app version (`context.df.version`): free text, as in Durable Functions (which compares dotted
 * numbers as numbers, else strings). Checked wherever one enters — a host's, a start's, a
 * sub-orchestration's — so history never holds one that is not a short printable string.
 * "" means none.
 */
export function checkVersion(version: unknown, what: string): string | undefined {
  if (version === undefined || version === "") return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (typeof version !== "string" || version.length > MAX_VERSION_LENGTH || /[\u0000-\u001f\u007f]/.test(version)) {
    throw new InvalidArgumentError(
      `${what} must be a string of at most ${MAX_VERSION_LENGTH} printable characters, got ${typeof version === "string" ? JSON.stringify(version.length > 40 ? `${version.slice(0, 40)}...` : version) : typeof version}. Use one like "1.0" or "2026-12-07".`,
    );
  }
  return version;
}

/** Which instances a host runs, by their version against its own (Durable Functions' `versionMatchStrategy`). */
export type VersionMatchStrategy = "None" | "Strict" | "CurrentOrOlder";
/** What a host does with an instance it may not run (`versionFailureStrategy`). */
export type VersionFailureStrategy = "Reject" | "Fail";

export const VERSION_MATCH_STRATEGIES: readonly VersionMatchStrategy[] = ["None", "Strict", "CurrentOrOlder"];
export const VERSION_FAILURE_STRATEGIES: readonly VersionFailureStrategy[] = ["Reject", "Fail"];

/** Two to four dot-separated numbers, as .NET's System.Version parses. */
const DOTTED = /^\d+(\.\d+){1,3}$/;

/**
 * Durable Functions' order of versions: none ("") is the oldest; two that both parse as dotted
 * numbers compare part by part as numbers (a missing part is lower than any); else case-insensitive
 * text order.
 */
export function compareVersions(a: string, b: string): number {
  if (a === "" || b === "") return a === b ? 0 : a === "" ? -1 : 1;
  if (DOTTED.test(a) && DOTTED.test(b)) {
    const x = a.split(".").map(Number);
    const y = b.split(".").map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const p = x[i] ?? -1;
      const q = y[i] ?? -1;
      if (p !== q) return p < q ? -1 : 1;
    }
    return 0;
  }
  const p = a.toLowerCase();
  const q = b.toLowerCase();
  return p === q ? 0 : p < q ? -1 : 1;
}

/** Why a host of version `host` may not run an instance of version `instance` under `strategy`; undefined when it may. */
export function versionMismatch(instance: string, host: string, strategy: VersionMatchStrategy): string | undefined {
  if (strategy === "None") return undefined;
  const order = compareVersions(instance, host);
  const shown = (v: string): string => (v === "" ? "none" : `'${v}'`);
  if (strategy === "Strict" && order !== 0) return `the instance's version ${shown(instance)} is not this host's ${shown(host)} (version match strategy Strict)`;
  if (strategy === "CurrentOrOlder" && order > 0) return `the instance's version ${shown(instance)} is newer than this host's ${shown(host)} (version match strategy CurrentOrOlder)`;
  return undefined;
}
