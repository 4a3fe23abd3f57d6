import { PayloadError } from "./errors.js";

/** JSON is the one data converter: payloads cross storage as JSON text and are parsed only for user code. */
export function serializePayload(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new PayloadError(`${what} is not JSON-serializable: ${(err as Error).message}. Pass plain data (objects, arrays, strings, numbers, booleans, null).`);
  }
  // JSON.stringify returns undefined for functions and symbols.
  if (text === undefined) throw new PayloadError(`${what} is not JSON-serializable (got ${typeof value}). Pass plain data.`);
  return text;
}

export function parsePayload(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Payloads written by other tools may be raw text; hand them over as a string rather than failing.
    return text;
  }
}
