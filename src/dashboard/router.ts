/**
 * Pages live in the URL's fragment (`#/instances?runtimeStatus=Failed`, `#/instances/<id>`), so links
 * and the back button work and the host serves one page. The key is never part of it.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "instances"; query: URLSearchParams }
  | { page: "instance"; id: string }
  | { page: "entities"; query: URLSearchParams }
  | { page: "entity"; name: string; key: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/instances";
  const [path = "", search = ""] = raw.split("?", 2);
  const parts = path.split("/").filter((p) => p !== "");
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (parts[0] === "instances" && parts.length >= 2) return { page: "instance", id: decode(parts.slice(1).join("/")) };
  if (parts[0] === "entities" && parts.length >= 3) return { page: "entity", name: decode(parts[1]!), key: decode(parts.slice(2).join("/")) };
  if (parts[0] === "entities") return { page: "entities", query: new URLSearchParams(search) };
  return { page: "instances", query: new URLSearchParams(search) };
}

export const href = {
  instances: (query?: URLSearchParams): string => `#/instances${query && query.toString() !== "" ? `?${query.toString()}` : ""}`,
  instance: (id: string): string => `#/instances/${encodeURIComponent(id)}`,
  entities: (query?: URLSearchParams): string => `#/entities${query && query.toString() !== "" ? `?${query.toString()}` : ""}`,
  entity: (name: string, key: string): string => `#/entities/${encodeURIComponent(name)}/${encodeURIComponent(key)}`,
};

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(history.state, "", to);
  else location.hash = to.replace(/^#/, "");
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = (): void => setHash(location.hash);
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return parseRoute(hash);
}
