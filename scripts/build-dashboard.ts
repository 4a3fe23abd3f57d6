/**
 * Bundles the dashboard (src/dashboard) into dist/dashboard: one ES module with Preact inside, the
 * stylesheet and the page. The host serves these files as they are, so nothing is fetched at run time.
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src/dashboard");
const out = join(root, "dist/dashboard");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(source, "main.tsx")],
  outfile: join(out, "dashboard.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  jsxImportSource: "preact",
  tsconfig: join(source, "tsconfig.json"),
  legalComments: "eof",
  logLevel: "warning",
});
copyFileSync(join(source, "index.html"), join(out, "index.html"));
copyFileSync(join(source, "dashboard.css"), join(out, "dashboard.css"));
