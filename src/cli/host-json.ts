import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CliError } from "./io.js";

/** The versioning settings of an Azure Functions app's host.json (`extensions.durableTask`). */
export interface HostJsonVersioning {
  defaultVersion?: string;
  versionMatchStrategy?: string;
  versionFailureStrategy?: string;
}

/**
 * The versioning settings an Azure Functions app sets in host.json (`extensions.durableTask`:
 * `defaultVersion`, `versionMatchStrategy`, `versionFailureStrategy`), so a ported app's
 * `context.df.version` and version rules are what they were on Azure without new flags. Only these are
 * read: the rest of host.json configures Azure's host, not Perdure.
 */
export async function hostJsonVersioning(dir: string): Promise<HostJsonVersioning> {
  const path = join(dir, "host.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`perdure: cannot read ${path}: ${(err as Error).message}`, 1, "HOST_JSON_INVALID");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`perdure: ${path} is not valid JSON (${(err as Error).message}); fix it, or pass --app-version to set the version without it.`, 1, "HOST_JSON_INVALID");
  }
  const durableTask = (parsed as { extensions?: { durableTask?: Record<string, unknown> } } | null)?.extensions?.durableTask ?? {};
  const out: HostJsonVersioning = {};
  for (const key of ["defaultVersion", "versionMatchStrategy", "versionFailureStrategy"] as const) {
    const value = durableTask[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw new CliError(`perdure: extensions.durableTask.${key} in ${path} must be a string, got ${JSON.stringify(value)}.`, 1, "HOST_JSON_INVALID");
    out[key] = value;
  }
  return out;
}

export function versionOption(version: string | undefined): { version?: string } {
  return version === undefined || version === "" ? {} : { version };
}
