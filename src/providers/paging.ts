import { InvalidArgumentError } from "../core/errors.js";
import type { InstanceRecord } from "./provider.js";

/** Continuation tokens are opaque to callers: base64url of the sort key of the last row returned. */
export interface PageCursor {
  createdAt: number;
  instanceId: string;
}

export function encodeCursor(r: Pick<InstanceRecord, "createdAt" | "instanceId">): string {
  return Buffer.from(JSON.stringify([r.createdAt, r.instanceId]), "utf8").toString("base64url");
}

export function decodeCursor(token: string | undefined): PageCursor | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "string") return { createdAt: v[0], instanceId: v[1] };
  } catch {
    // fall through
  }
  throw new InvalidArgumentError("The continuation token is not valid. Pass back the token from a previous page unchanged, or omit it to start from the first page.");
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function pageSizeOf(n: number | undefined): number {
  if (n === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`Page size must be a positive integer (got ${String(n)}).`);
  return Math.min(n, MAX_PAGE_SIZE);
}
