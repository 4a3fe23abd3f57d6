import { DurableError } from "../core/errors.js";

/**
 * Tokens of a managed identity, for `callHttp({ tokenSource })`, by the protocol Azure App Service,
 * Azure Functions and Container Apps offer their code: the platform sets IDENTITY_ENDPOINT and
 * IDENTITY_HEADER, and a GET of the endpoint with the resource answers a bearer token. A Perdure host
 * deployed there gets tokens as the Durable Functions extension would; anywhere else the call fails
 * with MANAGED_IDENTITY_UNAVAILABLE and the way out. AZURE_CLIENT_ID picks a user-assigned identity.
 */
const API_VERSION = "2019-08-01";
/** Refresh this long before a token expires, so a request never leaves with one about to lapse. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

const cache = new Map<string, { token: string; expiresAt: number }>();

export async function managedIdentityToken(resource: string, env: NodeJS.ProcessEnv = process.env, now = Date.now()): Promise<string> {
  const endpoint = env.IDENTITY_ENDPOINT;
  const secret = env.IDENTITY_HEADER;
  if (!endpoint || !secret) {
    throw new DurableError(
      "MANAGED_IDENTITY_UNAVAILABLE",
      `callHttp: no managed identity here to get a token for '${resource}' (IDENTITY_ENDPOINT and IDENTITY_HEADER are not set; Azure sets them on App Service, Functions and Container Apps). Run the host where the identity exists, or get a token yourself and pass it as an Authorization header instead of tokenSource.`,
    );
  }
  const clientId = env.AZURE_CLIENT_ID;
  const key = `${endpoint} ${clientId ?? ""} ${resource}`;
  const cached = cache.get(key);
  if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > now) return cached.token;

  const url = new URL(endpoint);
  url.searchParams.set("resource", resource);
  url.searchParams.set("api-version", API_VERSION);
  if (clientId) url.searchParams.set("client_id", clientId);
  let response: Response;
  try {
    response = await fetch(url, { headers: { "X-IDENTITY-HEADER": secret }, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new DurableError("MANAGED_IDENTITY_FAILED", `callHttp: the managed identity endpoint ${url.origin}${url.pathname} did not answer: ${(err as Error).message}.`, { cause: err });
  }
  const text = await response.text();
  if (!response.ok) {
    throw new DurableError("MANAGED_IDENTITY_FAILED", `callHttp: the managed identity endpoint refused a token for '${resource}': HTTP ${response.status} ${text.slice(0, 300)}`);
  }
  let body: { access_token?: unknown; expires_on?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new DurableError("MANAGED_IDENTITY_FAILED", `callHttp: the managed identity endpoint answered something that is not JSON: ${text.slice(0, 100)}`);
  }
  if (typeof body.access_token !== "string" || body.access_token === "") {
    throw new DurableError("MANAGED_IDENTITY_FAILED", `callHttp: the managed identity endpoint's answer has no access_token.`);
  }
  // expires_on is seconds since the epoch, as a string or a number.
  const expiresOn = Number(body.expires_on);
  const expiresAt = Number.isFinite(expiresOn) && expiresOn > 0 ? expiresOn * 1000 : now + EXPIRY_MARGIN_MS;
  cache.set(key, { token: body.access_token, expiresAt });
  return body.access_token;
}
