/**
 * GET /dashboard without a browser: the static files, their security headers, what is refused, and
 * the answer when the dashboard was never built.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApp } from "../../src/app.js";
import { createHost, type Host } from "../../src/host/host.js";
import { serveDashboard } from "../../src/http/dashboard.js";
import { sendError } from "../../src/http/http-error.js";
import { silentLogger } from "../../src/runtime/logger.js";

describe("GET /dashboard", () => {
  let host: Host;
  before(async () => {
    host = createHost({ store: "memory:", port: 0, app: createApp(), key: "k3y", logger: silentLogger });
    await host.start();
  });
  after(async () => host.stop());

  it("redirects /dashboard to /dashboard/, without repeating a query (a key put there goes no further)", async () => {
    const res = await fetch(`${host.url!}/dashboard?code=k3y`, { redirect: "manual" });
    assert.equal(res.status, 308);
    assert.equal(res.headers.get("location"), "/dashboard/");
  });

  it("serves the page and its bundle without the key, with a policy that runs only the bundle", async () => {
    const page = await fetch(`${host.url!}/dashboard/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const html = await page.text();
    assert.match(html, /<script type="module" src="\.\/dashboard\.js"><\/script>/);
    const js = await fetch(`${host.url!}/dashboard/dashboard.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.ok((await js.text()).length > 10_000, "the bundle, Preact included");
    const css = await fetch(`${host.url!}/dashboard/dashboard.css`);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    const head = await fetch(`${host.url!}/dashboard/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });

  it("keeps the data behind the key", async () => {
    assert.equal((await fetch(`${host.url!}/runtime/webhooks/durabletask/instances`)).status, 401);
    assert.equal((await fetch(`${host.url!}/runtime/webhooks/durabletask/instances`, { headers: { "x-functions-key": "k3y" } })).status, 200);
  });

  it("serves nothing outside its folder and nothing but its own kinds of file", async () => {
    for (const path of ["../package.json", "..%2Fpackage.json", "%2e%2e/package.json", "sub/dashboard.js", ".hidden.js", "nope.js", "main.tsx", "index.ts"]) {
      const res = await fetch(`${host.url!}/dashboard/${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "NOT_FOUND", path);
    }
    const post = await fetch(`${host.url!}/dashboard/`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });

  it("says how to build it when it was never built", async () => {
    const empty = mkdtempSync(join(tmpdir(), "perdure-nodash-"));
    const server = createServer((req, res) => {
      serveDashboard(empty, req, res, new URL(req.url ?? "/", "http://x")).catch((err: unknown) => sendError(res, err));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard/`);
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "DASHBOARD_NOT_BUILT");
      assert.match(body.error.message, /npm run build/);
    } finally {
      server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
