import { PostgresProvider } from "../../src/providers/postgres/postgres-provider.js";
import { dropSchema, newSchema, PG_URL, withPostgres } from "../helpers/pg.js";
import { runConformanceSuite } from "./conformance/index.js";

const open = (schema: string): PostgresProvider => new PostgresProvider({ connectionString: PG_URL, schema, poolSize: 4 });

await withPostgres("StorageProvider conformance: postgres", () => {
  runConformanceSuite("postgres (a schema per test, pools of 4)", async () => {
    const schema = newSchema("conf");
    let current = open(schema);
    await current.initialize();
    return {
      provider: current,
      cleanup: async () => {
        await current.close();
        await dropSchema(schema);
      },
      reopen: async () => {
        await current.close();
        current = open(schema);
        await current.initialize();
        return current;
      },
      second: async () => open(schema),
    };
  });
});
