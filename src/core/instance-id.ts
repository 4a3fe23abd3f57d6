import { InvalidArgumentError } from "./errors.js";

export const MAX_INSTANCE_ID_LENGTH = 256;

/** Durable Functions' rule, one for every backend: ≤256 chars, no leading '@', no / \ # ? or control characters. */
export function validateInstanceId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0) throw new InvalidArgumentError("An instance ID must be a non-empty string.");
  if (id.length > MAX_INSTANCE_ID_LENGTH) throw new InvalidArgumentError(`Instance ID is ${id.length} characters long; the limit is ${MAX_INSTANCE_ID_LENGTH}.`);
  if (id.startsWith("@")) throw new InvalidArgumentError(`Instance ID '${id}' must not start with '@' (reserved for entities).`);
  // URLs resolve "." and ".." as relative path segments, even percent-encoded: such IDs could not be addressed over HTTP.
  if (id === "." || id === "..") throw new InvalidArgumentError(`Instance ID '${id}' is not allowed: '.' and '..' cannot be used in URLs.`);
  // eslint-disable-next-line no-control-regex
  const bad = /[/\\#?\u0000-\u001f\u007f-\u009f]/.exec(id);
  if (bad) {
    throw new InvalidArgumentError(`Instance ID ${JSON.stringify(id)} contains the character ${JSON.stringify(bad[0])}; instance IDs must not contain '/', '\\', '#', '?' or control characters.`);
  }
  return id;
}

export function validateEventName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new InvalidArgumentError("An event name must be a non-empty string.");
  if (name.length > 256) throw new InvalidArgumentError(`Event name is ${name.length} characters long; the limit is 256.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new InvalidArgumentError(`Event name ${JSON.stringify(name)} contains control characters.`);
  if (name === "." || name === "..") throw new InvalidArgumentError(`Event name '${name}' is not allowed: '.' and '..' cannot be used in URLs.`);
  return name;
}
