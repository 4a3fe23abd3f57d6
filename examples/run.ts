/**
 * `npm run example -- <name>`: runs `examples/<name>/run.ts`. Without a name it lists the examples;
 * an unknown name lists them too and exits with status 1.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const names = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(here, e.name, "run.ts")))
  .map((e) => e.name)
  .sort();

const usage = `Usage: npm run example -- <name>\n\nExamples:\n${names.map((n) => `  ${n}`).join("\n")}\n\nSee examples/README.md for what each one shows.`;
const name = process.argv[2];

if (name === undefined || name === "--help" || name === "-h") {
  console.log(usage);
} else if (!names.includes(name)) {
  console.error(`Unknown example '${name}'.\n\n${usage}`);
  process.exitCode = 1;
} else {
  await import(pathToFileURL(join(here, name, "run.ts")).href);
}
