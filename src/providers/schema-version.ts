import { DurableError } from "../core/errors.js";

/** The store was migrated by a newer Perdure: this one must not write to it. */
export class SchemaVersionError extends DurableError {
  constructor(found: number, known: number) {
    super("SCHEMA_VERSION_UNSUPPORTED", `The database schema is at version ${found}, newer than this Perdure understands (${known}). Upgrade Perdure, or point it at another database.`);
  }
}
