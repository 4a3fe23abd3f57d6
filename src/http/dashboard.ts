import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { perdurePackage } from "../runtime/package-root.js";
import { HttpError, sendJson, errorBody } from "./http-error.js";

export const DASHBOARD_PATH = "/dashboard";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * The page may only run its own bundle and talk to this host: even if user data ever reached the
 * DOM as HTML, an injected script or event handler would not run.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/** Where the built dashboard is: `dist/dashboard` of the package, from the sources or from the build. */
export function defaultDashboardDir(): string {
  const root = perdurePackage()?.root;
  return root ? join(root, "dist", "dashboard") : join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dashboard");
}

/**
 * Serves the dashboard's static files under /dashboard/. The files hold no data, so they are served
 * without the key: the page asks for it and sends it with each API request. Only plain file names
 * directly in the folder are served, so no path can reach outside it.
 */
export async function serveDashboard(dir: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendJson(res, 405, errorBody("METHOD_NOT_ALLOWED", "The dashboard is read with GET."), { allow: "GET, HEAD" });
    return;
  }
  const rest = url.pathname.slice(DASHBOARD_PATH.length);
  if (rest === "") {
    // Relative asset URLs need the trailing slash. The query is dropped: the page reads nothing
    // from it, and a key someone put there must not be repeated in another request line.
    res.writeHead(308, { location: `${DASHBOARD_PATH}/`, "content-length": 0 });
    res.end();
    return;
  }
  const name = rest === "/" || rest === "/index.html" ? "index.html" : rest.slice(1);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || !(extname(name) in TYPES)) {
    throw new HttpError(404, "NOT_FOUND", `No dashboard file ${rest}.`);
  }
  let body: Buffer;
  try {
    body = await readFile(join(dir, name));
  } catch {
    if (!existsSync(join(dir, "index.html"))) {
      throw new HttpError(404, "DASHBOARD_NOT_BUILT", `The dashboard is not built (nothing in ${dir}): run \`npm run build\` in the perdure package.`);
    }
    throw new HttpError(404, "NOT_FOUND", `No dashboard file ${rest}.`);
  }
  res.writeHead(200, { "content-type": TYPES[extname(name)]!, "content-length": body.length, ...SECURITY_HEADERS });
  res.end(req.method === "HEAD" ? undefined : body);
}
