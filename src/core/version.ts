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
