/**
 * The management key, asked once and kept for the browser session (sessionStorage: gone when the
 * tab closes, never in the page's URL, never sent anywhere but this host's API). Where the browser
 * refuses storage, it is kept in memory for as long as the page is open.
 */
const STORAGE_KEY = "perdure.key";
let inMemory: string | undefined;

export function storedKey(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? inMemory;
  } catch {
    return inMemory;
  }
}

export function storeKey(key: string | undefined): void {
  inMemory = key;
  try {
    if (key === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Storage refused: the in-memory copy serves until the page closes.
  }
}

/** A preference kept across sessions (not a secret); storage refused means the default. */
export function preference(name: string): string | undefined {
  try {
    return localStorage.getItem(`perdure.${name}`) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setPreference(name: string, value: string): void {
  try {
    localStorage.setItem(`perdure.${name}`, value);
  } catch {
    // Not kept: the choice holds for this page only.
  }
}
