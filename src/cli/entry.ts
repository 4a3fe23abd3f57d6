import { existsSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { glob } from "tinyglobby";
import { app } from "../app.js";
import { isDurableError } from "../core/errors.js";
import { appFrame } from "../runtime/package-root.js";
import { CliError } from "./io.js";

const MODULE_FILE = /\.(m?js|cjs|m?ts|cts)$/;

/**
 * The files an app is made of. A file entry is itself; a folder, or no entry at all, means the
 * `main` of that folder's package.json, which (as in Azure Functions) may be a glob such as
 * `dist/src/functions/*.js`: every file it matches is loaded.
 */
export async function entryFiles(entry: string | undefined, cwd: string): Promise<string[]> {
  const target = resolve(cwd, entry ?? ".");
  if (entry !== undefined && !existsSync(target)) throw new CliError(`perdure: entry file '${entry}' not found (looked for ${target}).`, 1, "ENTRY_NOT_FOUND");
  if (statSync(target).isFile()) {
    if (!MODULE_FILE.test(target)) throw new CliError(`perdure: entry '${entry ?? target}' must be a .js, .mjs, .cjs or .ts file.`, 1, "ENTRY_NOT_A_MODULE");
    return [target];
  }
  const manifest = join(target, "package.json");
  if (!existsSync(manifest)) {
    const what = entry === undefined ? "no entry given, and this folder has no package.json" : `'${entry}' is a folder without a package.json`;
    throw new CliError(`perdure: ${what}: name the file that registers your functions (perdure start app.ts), or the app's folder, whose package.json "main" names its files.`, 1, "NO_ENTRY");
  }
  let main: unknown;
  try {
    main = (JSON.parse(readFileSync(manifest, "utf8")) as { main?: unknown }).main;
  } catch (err) {
    throw new CliError(`perdure: cannot read ${manifest}: ${(err as Error).message}`, 1, "NO_ENTRY");
  }
  if (typeof main !== "string" || main.trim() === "") {
    throw new CliError(`perdure: ${manifest} has no "main": set it to the app's entry file or a glob of its function files (e.g. "dist/src/functions/*.js"), or name the entry: perdure start <file>.`, 1, "NO_ENTRY");
  }
  const files = (await glob(main, { cwd: target, absolute: true, onlyFiles: true, expandDirectories: false })).filter((f) => MODULE_FILE.test(f)).sort();
  if (files.length === 0) {
    throw new CliError(`perdure: "main" in ${manifest} is '${main}', which matches no .js or .ts file (not built yet? run your build first).`, 1, "ENTRY_NOT_FOUND");
  }
  return files;
}


/**
 * Loads the app's files (TypeScript without a build step), turning each way that can fail into one
 * line with a code; the stack goes to `detail` for --verbose.
 */
export async function loadEntryFiles(files: readonly string[], label: string): Promise<void> {
  if (files.some((f) => /\.[mc]?ts$/.test(f))) {
    const { register } = await import("tsx/esm/api");
    register();
  }
  // A top-level await that never settles leaves nothing to run: Node would exit (code 13) without a word.
  let loading = "";
  const neverLoaded = (): void => {
    process.stderr.write(`perdure: entry '${loading}' never finished loading: a top-level await in it (or in a module it imports) waits for something that never happens. (ENTRY_NEVER_LOADED)\n`);
    process.exit(1);
  };
  process.on("beforeExit", neverLoaded);
  try {
    for (const file of files) {
      loading = relative(process.cwd(), file) || file;
      try {
        await import(pathToFileURL(file).href);
      } catch (err) {
        throw loadFailure(err, loading);
      }
    }
  } finally {
    process.off("beforeExit", neverLoaded);
  }
  if (app.registry.size === 0) {
    throw new CliError(
      `perdure: entry '${label}' registered no functions. Register them with df.app.orchestration(name, function* (context) {...}) and df.app.activity(name, { handler }).`,
      1,
      "ENTRY_NO_FUNCTIONS",
    );
  }
}

function loadFailure(err: unknown, entry: string): CliError {
  const stack = (err as Error)?.stack ?? String(err);
  if (isDurableError(err)) return new CliError(`perdure: ${err.message}`, 1, err.code, stack);
  const code = (err as NodeJS.ErrnoException)?.code;
  const message = (err as Error)?.message ?? String(err);
  // esbuild (through tsx) reports TypeScript syntax errors as "Transform failed with 1 error:\n<file>:<line>:<col>: ERROR: <what>".
  const transform = /^([^\n]*?):(\d+):(\d+): ERROR: (.+)$/m.exec(message);
  if ((err as Error)?.name === "TransformError" || (err instanceof SyntaxError && transform)) {
    const where = transform ? `${relative(process.cwd(), transform[1]!) || transform[1]}:${transform[2]}:${transform[3]}` : entry;
    return new CliError(`perdure: syntax error in ${where}: ${transform?.[4] ?? message.split("\n")[0]}`, 1, "ENTRY_SYNTAX_ERROR", stack);
  }
  if (err instanceof SyntaxError) {
    const where = /^(\/[^\n:]+):(\d+)$/m.exec(stack);
    return new CliError(`perdure: syntax error in ${where ? `${relative(process.cwd(), where[1]!)}:${where[2]}` : entry}: ${message}`, 1, "ENTRY_SYNTAX_ERROR", stack);
  }
  if (code === "ERR_REQUIRE_CYCLE_MODULE" || code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_ASYNC_MODULE") {
    return new CliError(
      `perdure: entry '${entry}' was loaded as CommonJS but uses import/export. Add "type": "module" to the nearest package.json, or name the entry .mts/.mjs.`,
      1,
      "ENTRY_MODULE_TYPE",
      stack,
    );
  }
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    return new CliError(`perdure: loading entry '${entry}' failed: ${message.split("\n")[0]}`, 1, "ENTRY_IMPORT_NOT_FOUND", stack);
  }
  const at = appFrame((err as Error | undefined)?.stack);
  const name = (err as Error)?.name ?? "Error";
  return new CliError(`perdure: loading entry '${entry}' failed: ${name}: ${message.split("\n")[0]}${at ? ` (at ${at})` : ""}`, 1, "ENTRY_FAILED", stack);
}
