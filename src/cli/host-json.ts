import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CliError } from "./io.js";

/**
 * The `defaultVersion` an Azure Functions app sets in host.json (`extensions.durableTask.defaultVersion`),
 * so a ported app's `context.df.version` reads what it read on Azure without a new flag. Only this one
 * setting is read: the rest of host.json configures Azure's host, not Perdure.
 */
export async function hostJsonDefaultVersion(dir: string): Promise<string | undefined> {
  const path = join(dir, "host.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`perdure: cannot read ${path}: ${(err as Error).message}`, 1, "HOST_JSON_INVALID");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`perdure: ${path} is not valid JSON (${(err as Error).message}); fix it, or pass --app-version to set the version without it.`, 1, "HOST_JSON_INVALID");
  }
  const version = (parsed as { extensions?: { durableTask?: { defaultVersion?: unknown } } } | null)?.extensions?.durableTask?.defaultVersion;
  if (version === undefined || version === null) return undefined;
  if (typeof version !== "string") {
    throw new CliError(`perdure: extensions.durableTask.defaultVersion in ${path} must be a string, got ${JSON.stringify(version)}.`, 1, "HOST_JSON_INVALID");
  }
  return version;
}

export function versionOption(version: string | undefined): { version?: string } {
  return version === undefined || version === "" ? {} : { version };
}
