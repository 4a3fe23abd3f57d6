/**
 * `HttpRequest` and `HttpResponse` of `@azure/functions` v4, as WHATWG Request and Response
 * subclasses: what an HTTP-triggered function receives and may return. A handler that uses only the
 * fetch API works as well; the extras (`params`, `query`, `user`, `jsonBody`) are Azure's.
 */

export interface HttpRequestInit {
  method?: string;
  url?: string;
  body?: { bytes?: Uint8Array; string?: string };
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
}

export interface HttpRequestUser {
  type: "AppService" | "StaticWebApps";
  id: string;
  username: string;
  identityProvider: string;
  claimsPrincipalData: Record<string, unknown>;
}

export class HttpRequest extends Request {
  /** The route's parameters (`orchestrators/{orchestratorName}` gives `params.orchestratorName`). */
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** Azure App Service authentication's user; there is none outside Azure. */
  readonly user: HttpRequestUser | null = null;

  constructor(init: HttpRequestInit | Request, params?: Record<string, string>) {
    if (init instanceof Request) {
      super(init);
      this.query = new URL(init.url).searchParams;
    } else {
      if (!init.url) throw new TypeError("new HttpRequest(init) needs init.url (an absolute URL).");
      const url = new URL(init.url);
      for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
      const method = (init.method ?? "GET").toUpperCase();
      const body = method === "GET" || method === "HEAD" ? undefined : (init.body?.bytes ?? init.body?.string);
      super(url, { method, headers: init.headers ?? {}, ...(body !== undefined ? { body } : {}) });
      this.query = url.searchParams;
    }
    this.params = params ?? (init instanceof Request ? {} : (init.params ?? {}));
  }
}

export interface Cookie {
  name: string;
  value: string;
  domain?: string;
  path?: string;
  expires?: Date | number;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: "Strict" | "Lax" | "None";
  maxAge?: number;
}

export type HttpHeadersInit = Headers | Record<string, string> | [string, string][];
/** What a response body may be (the fetch API's BodyInit). */
export type HttpResponseBodyInit = ConstructorParameters<typeof Response>[0];

export interface HttpResponseInit {
  /** Ignored when `jsonBody` is set. */
  body?: HttpResponseBodyInit;
  /** Sent as JSON, with `Content-Type: application/json` unless a header says otherwise. */
  jsonBody?: unknown;
  /** Default 200. */
  status?: number;
  headers?: HttpHeadersInit;
  cookies?: Cookie[];
  enableContentNegotiation?: boolean;
}

function cookieHeader(c: Cookie): string {
  const parts = [`${c.name}=${c.value}`];
  if (c.domain) parts.push(`Domain=${c.domain}`);
  if (c.path) parts.push(`Path=${c.path}`);
  if (c.expires !== undefined) parts.push(`Expires=${new Date(c.expires).toUTCString()}`);
  if (c.maxAge !== undefined) parts.push(`Max-Age=${c.maxAge}`);
  if (c.secure) parts.push("Secure");
  if (c.httpOnly) parts.push("HttpOnly");
  if (c.sameSite) parts.push(`SameSite=${c.sameSite}`);
  return parts.join("; ");
}

export class HttpResponse extends Response {
  readonly cookies: Cookie[];
  readonly enableContentNegotiation: boolean;

  constructor(init: HttpResponseInit = {}) {
    const headers = new Headers(init.headers);
    let body: HttpResponseBodyInit = init.body ?? null;
    if (init.jsonBody !== undefined) {
      body = JSON.stringify(init.jsonBody);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    for (const c of init.cookies ?? []) headers.append("set-cookie", cookieHeader(c));
    const status = init.status ?? 200;
    // Statuses that carry no body: fetch refuses one, Azure drops it.
    super(status === 204 || status === 205 || status === 304 ? null : body, { status, headers });
    this.cookies = init.cookies ?? [];
    this.enableContentNegotiation = init.enableContentNegotiation ?? false;
  }
}
