import { DurableError } from "../core/errors.js";

/** The store was migrated by a newer Perdure: this one must not write to it. */
export class SchemaVersionError extends DurableError {
  constructor(found: number, known: number) {
    super("SCHEMA_VERSION_UNSUPPORTED", `The database schema is at version ${found}, newer than this Perdure understands (${known}). Upgrade Perdure, or point it at another database.`);
  }
}

/** The store's role may not create or change the schema it needs (a least-privilege role on a schema not yet migrated). */
export class SchemaPermissionError extends DurableError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(
      "STORE_PERMISSION_DENIED",
      `${what}. Start once with a role that may create it (then grant this role data rights on its tables), or grant the rights; see docs/scale-out.md#least-privilege-role.`,
      options,
    );
  }
}
