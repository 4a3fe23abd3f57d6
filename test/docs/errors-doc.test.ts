import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { PARK_CODES } from "../../src/core/step-policy.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

it("docs/errors.md lists every park reason", () => {
  const doc = readFileSync(join(root, "docs", "errors.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Park reasons"));
  assert.ok(section.startsWith("## Park reasons"), "the section exists");
  for (const code of Object.values(PARK_CODES)) assert.match(section, new RegExp(`^- \`${code}\` — `, "m"), `${code} is documented`);
});

it("docs/errors.md lists exactly the error codes the source raises", () => {
  const raised = new Set<string>();
  for (const file of sources(join(root, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:super|DurableError|errorBody)\(\s*"([A-Z][A-Z_]+)"/g)) raised.add(m[1]!);
    for (const m of text.matchAll(/HttpError\(\s*\d{3},\s*"([A-Z][A-Z_]+)"/g)) raised.add(m[1]!);
  }
  const doc = readFileSync(join(root, "docs", "errors.md"), "utf8");
  const documented = new Set([...doc.matchAll(/^\| `([A-Z][A-Z_]+)` \|/gm)].map((m) => m[1]!));
  assert.ok(raised.size >= 10, `found the codes in src (${raised.size})`);
  assert.deepEqual([...raised].filter((c) => !documented.has(c)).sort(), [], "codes raised in src/ but missing from docs/errors.md");
  assert.deepEqual([...documented].filter((c) => !raised.has(c)).sort(), [], "codes documented but never raised");
});
