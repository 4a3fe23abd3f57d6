/**
 * The management key, asked once and kept for the browser session (sessionStorage: gone when the
 * tab closes, never in the page's URL, never sent anywhere but this host's API).
 */
const STORAGE_KEY = "perdure.key";

export function storedKey(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeKey(key: string | undefined): void {
  try {
    if (key === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Storage refused (private mode quotas): the key lives only as long as this page.
  }
}

/**
 * A link such as `/dashboard/?code=<key>` (as the management URLs carry it) logs in: the key moves to
 * the session and leaves the address bar and the browser history at once.
 */
export function takeKeyFromUrl(): void {
  const url = new URL(location.href);
  const code = url.searchParams.get("code");
  if (code === null) return;
  storeKey(code);
  url.searchParams.delete("code");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}
