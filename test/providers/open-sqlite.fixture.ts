/** Opens (and so migrates) the SQLite store argv[2] at the time argv[3] (ms since the epoch), then closes it. */
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";

const file = process.argv[2]!;
const startAt = Number(process.argv[3]);
// Spinning, not sleeping: the processes must hit the file within the same millisecond or so.
while (Date.now() < startAt) {
  // wait
}
const provider = new SqliteProvider({ filename: file });
try {
  await provider.initialize();
  await provider.close();
  console.log("ok");
} catch (err) {
  console.log(`failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
