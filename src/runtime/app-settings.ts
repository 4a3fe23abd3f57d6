/**
 * Azure's `%Name%`: the app setting of that name, which is an environment variable here. A name ends
 * at `{` or `}`, so binding expressions written beside one stay apart. `missing` makes the error for
 * a setting that is not set, in the words of whoever asked.
 */
export function replaceAppSettings(text: string, missing: (name: string) => Error): string {
  return text.replace(/%([^%{}\s]+)%/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw missing(name);
    return value;
  });
}
