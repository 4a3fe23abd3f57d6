/** Module resolve hooks (node:module register) for installPackageAliases: a bare name in the map resolves to its file. */
import { pathToFileURL } from "node:url";

let aliases: Record<string, string> = {};

export function initialize(data: Record<string, string>): void {
  aliases = data;
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

/** The target goes on down the chain as a file URL, so the loaders after this one (tsx, in a source checkout) load it as their own. */
export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<{ url: string }> {
  const target = Object.hasOwn(aliases, specifier) ? aliases[specifier] : undefined;
  return nextResolve(target === undefined ? specifier : pathToFileURL(target).href, context);
}
