import { InvalidArgumentError } from "./errors.js";

/**
 * Identifies a durable entity: a name (case-insensitive: kept as given, lower-cased in the instance
 * ID) and a key (case-sensitive). Its instance ID in storage is `@<name>@<key>`, as in Durable Functions.
 */
export class EntityId {
  readonly name: string;
  readonly key: string;

  constructor(name: string, key: string) {
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError("An entity name must be a non-empty string.");
    if (name.includes("@")) throw new InvalidArgumentError(`Entity name '${name}' must not contain '@'.`);
    if (!/^[A-Za-z_][A-Za-z0-9_\-.:]{0,127}$/.test(name)) {
      throw new InvalidArgumentError(`Entity name ${JSON.stringify(name)} is not valid: use 1-128 characters, starting with a letter or '_', then letters, digits, '_', '-', '.' or ':'.`);
    }
    if (typeof key !== "string" || key === "") throw new InvalidArgumentError(`The key of entity '${name}' must be a non-empty string.`);
    if (key.length > 200) throw new InvalidArgumentError(`Entity key is ${key.length} characters long; the limit is 200.`);
    // eslint-disable-next-line no-control-regex
    const bad = /[/\\#?\u0000-\u001f\u007f-\u009f]/.exec(key);
    if (bad) throw new InvalidArgumentError(`Entity key ${JSON.stringify(key)} contains ${JSON.stringify(bad[0])}; keys must not contain '/', '\\', '#', '?' or control characters.`);
    if (key === "." || key === "..") throw new InvalidArgumentError(`Entity key '${key}' is not allowed: '.' and '..' cannot be used in URLs.`);
    this.name = name;
    this.key = key;
  }

  /** The instance ID the entity is stored under: `@name@key`. */
  toString(): string {
    return `@${this.name.toLowerCase()}@${this.key}`;
  }

  static isEntityInstanceId(instanceId: string): boolean {
    return instanceId.startsWith("@") && instanceId.indexOf("@", 1) > 1;
  }

  static fromInstanceId(instanceId: string): EntityId {
    const at = instanceId.indexOf("@", 1);
    if (!instanceId.startsWith("@") || at < 2) throw new InvalidArgumentError(`'${instanceId}' is not an entity instance ID (@name@key).`);
    // The stored identity: an ID written by hand with upper case names the same entity.
    return new EntityId(instanceId.slice(1, at).toLowerCase(), instanceId.slice(at + 1));
  }

  /** Accepts an EntityId, or any `{ name, key }` (an EntityId from another copy of the package, or plain data). */
  static from(value: unknown): EntityId {
    if (value instanceof EntityId) return value;
    const v = value as { name?: unknown; key?: unknown } | null;
    if (v && typeof v === "object" && typeof v.name === "string" && typeof v.key === "string") return new EntityId(v.name, v.key);
    throw new InvalidArgumentError("Expected an entity ID: new df.EntityId(name, key).");
  }
}
