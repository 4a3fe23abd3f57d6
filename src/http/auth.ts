import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Checks the management key (`?code=` or `x-functions-key`). Both sides are hashed first, so the
 * comparison is constant-time and equal-length whatever the caller sent.
 */
export class KeyCheck {
  private readonly digest: Buffer | undefined;

  constructor(key: string | undefined) {
    this.digest = key ? createHash("sha256").update(key, "utf8").digest() : undefined;
  }

  get enabled(): boolean {
    return this.digest !== undefined;
  }

  allows(req: IncomingMessage, query: URLSearchParams): boolean {
    if (!this.digest) return true;
    const header = req.headers["x-functions-key"];
    const presented = (Array.isArray(header) ? header[0] : header) ?? query.get("code") ?? "";
    const candidate = createHash("sha256").update(presented, "utf8").digest();
    return timingSafeEqual(candidate, this.digest);
  }
}

/** Loopback addresses, where binding without a key is allowed. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}
