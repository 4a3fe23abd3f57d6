import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

/** The longest a request may ask the host to wait for an instance. */
export const MAX_WAIT_SECONDS = 86_400;

/** Default request body limit: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Requests the server gave up on (answered 408) while their body was still arriving. */
const abandoned = new WeakSet<IncomingMessage>();

/**
 * Marks a request the server already answered without reading its body (a timeout): a body that
 * completes afterwards must not be acted on, since the client was told it failed.
 */
export function abandonRequest(req: IncomingMessage): void {
  abandoned.add(req);
}

/** 413 when the declared Content-Length is over the limit, before a byte of the body is read. */
export function refuseDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
}

/**
 * Reads the body, refusing (413) anything over the limit before or while it arrives. A refused body
 * is left unread and paused, not destroyed: destroying the request would reset the connection
 * before the 413 reaches the client, so the server drains or closes it after answering.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  refuseDeclaredLength(req, limit);
  // Gone before the handler got here: 'close' has already been emitted and would never be seen below.
  if (abandoned.has(req) || req.destroyed) throw cutOff();
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err?: Error): void => {
      req.off("data", onData).off("end", onEnd).off("error", onGone).off("close", onGone);
      if (err === undefined) {
        resolve(Buffer.concat(chunks));
      } else {
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer): void => {
      if (abandoned.has(req)) return settle(cutOff());
      size += chunk.length;
      if (size > limit) return settle(tooLarge(limit));
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(abandoned.has(req) ? cutOff() : undefined);
    // An error or a close before 'end': the connection went away mid-body (the client's doing, so a 4xx that is not logged).
    const onGone = (): void => settle(cutOff());
    req.on("data", onData).on("end", onEnd).on("error", onGone).on("close", onGone);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body is larger than the limit of ${limit} bytes. Send less data, or raise the host's maxBodyBytes.`);
}

function cutOff(): HttpError {
  return new HttpError(400, "BAD_REQUEST", "The connection closed or timed out before the request body was complete.");
}

/**
 * Fatal: bytes that are not UTF-8 are refused rather than silently replaced with U+FFFD (which
 * would store data the client never sent). ignoreBOM keeps a leading BOM in the text, as
 * Buffer#toString did, so JSON.parse still refuses it.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(body: Buffer): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** A body used as text (not JSON): 400 when it is not valid UTF-8. */
export function bodyText(body: Buffer): string {
  const text = decodeUtf8(body);
  if (text === undefined) throw new HttpError(400, "BAD_REQUEST", "The request body is not valid UTF-8 text.");
  return text;
}

/** Deeper JSON is refused at the edge: it serves no real payload and could exhaust the stack later. */
export const MAX_JSON_DEPTH = 128;

function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Parses a JSON body; empty means "no payload". */
export function parseJsonBody(body: Buffer): { present: boolean; value: unknown } {
  const text = decodeUtf8(body);
  // JSON exchanged between systems must be UTF-8 (RFC 8259 §8.1).
  if (text === undefined) throw new HttpError(400, "INVALID_JSON", "Invalid JSON content: the body is not valid UTF-8.");
  if (text.trim() === "") return { present: false, value: undefined };
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new HttpError(400, "INVALID_JSON", `Invalid JSON content: nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  try {
    return { present: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    throw new HttpError(400, "INVALID_JSON", `Invalid JSON content: ${(err as Error).message}`);
  }
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const type = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/json" || type.endsWith("+json");
}

/** Query parameters with strict parsing: a bad value is a 400 naming the parameter, never a silent default. */
export class Query {
  constructor(readonly params: URLSearchParams) {}

  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.params.get(name);
    if (v === null || v === "") return fallback;
    const lower = v.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be true or false (got ${JSON.stringify(truncate(v))}).`);
  }

  /**
   * ISO 8601 only (Date.parse also accepts loose formats that mean different things to different
   * people); impossible calendar dates are refused, and a time without a zone is UTC.
   */
  date(name: string): Date | undefined {
    const v = this.params.get(name);
    if (v === null || v === "") return undefined;
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(v);
    let d = new Date(NaN);
    if (m) {
      const [, y, mo, day, h = "0", mi = "0", sec = "0", zone] = m;
      const daysInMonth = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
      const valid = Number(mo) >= 1 && Number(mo) <= 12 && Number(day) >= 1 && Number(day) <= daysInMonth && Number(h) <= 23 && Number(mi) <= 59 && Number(sec) <= 59;
      if (valid) d = new Date(m[4] !== undefined && zone === undefined ? `${v}Z` : v);
    }
    if (Number.isNaN(d.getTime())) {
      throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be an ISO 8601 date such as 2026-01-31T12:00:00Z (got ${JSON.stringify(truncate(v))}).`);
    }
    return d;
  }

  /** Seconds (decimals allowed), as Durable Functions' timeout/pollingInterval; at most one day. */
  seconds(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === "") return undefined;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) {
      throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be a number of seconds (got ${JSON.stringify(truncate(v))}).`);
    }
    if (n > MAX_WAIT_SECONDS) throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be at most ${MAX_WAIT_SECONDS} seconds (one day).`);
    return n;
  }

  /** A whole number from 0 (a position), or undefined when absent. */
  position(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === "") return undefined;
    if (!/^\d{1,9}$/.test(v)) throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be a whole number from 0 (got ${JSON.stringify(truncate(v))}).`);
    return Number(v);
  }

  positiveInt(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === "") return undefined;
    if (!/^\d{1,9}$/.test(v) || Number(v) < 1) {
      throw new HttpError(400, "INVALID_QUERY_PARAMETER", `Query parameter '${name}' must be a positive integer (got ${JSON.stringify(truncate(v))}).`);
    }
    return Number(v);
  }

  /** Comma-separated and/or repeated values. */
  list(name: string): string[] | undefined {
    const all = this.params.getAll(name);
    if (all.length === 0) return undefined;
    const values = all.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
    return values.length ? values : undefined;
  }
}

export function truncate(s: string, max = 100): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
