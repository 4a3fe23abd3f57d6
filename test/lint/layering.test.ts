/**
 * The guardrails of DESIGN.md §2, tested so that they survive the next edit of eslint.config.js:
 * probe files that break each rule must fail lint, and the real imports of src/ must follow the
 * layer table below (a copy kept here on purpose: weakening the config does not weaken this test).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

/** Who may import whom: a layer imports itself and what it stands on, never what stands on it. */
const LAYERS: Record<string, string[]> = {
  core: [],
  runtime: ["core"],
  providers: ["core"],
  worker: ["core", "runtime", "providers/provider.ts"],
  client: ["core", "runtime", "providers/provider.ts"],
  http: ["core", "runtime", "client"],
  host: ["core", "runtime", "providers", "worker", "client", "http", "app.ts"],
  cli: ["core", "runtime", "host", "app.ts"],
  dashboard: ["core"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name.startsWith("__probe") ? [] : sourceFiles(p);
    return d.name.endsWith(".ts") || d.name.endsWith(".tsx") ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;"']*?from\s*["']([^"']+)["']/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) specs.push(m[1]!);
  return specs;
}

/** The source file a relative `./x.js` import names: x.ts, or x.tsx in the dashboard. */
function resolveSource(file: string, spec: string): string {
  const ts = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
  return existsSync(ts) ? ts : `${ts}x`;
}

const layerOf = (file: string): string => relative(src, file).split("/")[0]!;

describe("layering of src/ (DESIGN.md §2)", () => {
  const files = sourceFiles(src);

  it("every import between layers points down", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const layer = layerOf(file);
      const allowed = LAYERS[layer];
      if (!allowed) continue; // src/index.ts and src/app.ts: the package's top, may use anything
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(src, resolveSource(file, spec));
        const targetLayer = target.split("/")[0]!;
        if (targetLayer === layer) continue;
        if (!allowed.some((a) => target === a || target.startsWith(`${a}/`))) wrong.push(`${relative(root, file)} imports ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("core/ imports no node module and no package", () => {
    const wrong = files
      .filter((f) => layerOf(f) === "core")
      .flatMap((f) => importsOf(f).filter((s) => !s.startsWith(".")).map((s) => `${relative(root, f)} imports ${s}`));
    assert.deepEqual(wrong, []);
  });

  it("there is no import cycle in src/", () => {
    const graph = new Map<string, string[]>();
    for (const file of files) {
      graph.set(
        file,
        importsOf(file)
          .filter((s) => s.startsWith("."))
          .map((s) => resolveSource(file, s)),
      );
    }
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(src, p)).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const next of graph.get(f) ?? []) visit(next, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });
});

describe("lint rejects probes that break the guardrails", () => {
  const probeDirs: string[] = [];
  const probe = (layer: string, name: string, text: string): string => {
    const dir = join(src, layer, `__probe_${process.pid}`);
    mkdirSync(dir, { recursive: true });
    if (!probeDirs.includes(dir)) probeDirs.push(dir);
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const results = new Map<string, string[]>();
  const cases: { layer: string; name: string; text: string; rule: string }[] = [
    { layer: "core", name: "node-import.ts", text: 'import { randomUUID } from "node:crypto";\nexport const id = (): string => randomUUID();\n', rule: "no-restricted-imports" },
    { layer: "core", name: "bare-node-import.ts", text: 'import { readFileSync } from "fs";\nexport const read = (p: string): string => readFileSync(p, "utf8");\n', rule: "no-restricted-imports" },
    { layer: "core", name: "upper-import.ts", text: 'import { systemClock } from "../../runtime/clock.js";\nexport const now = (): number => systemClock.now();\n', rule: "import-x/no-restricted-paths" },
    { layer: "core", name: "worker-import.ts", text: 'import type { Worker } from "../../worker/worker.js";\nexport type W = Worker;\n', rule: "import-x/no-restricted-paths" },
    { layer: "core", name: "clock.ts", text: "export const now = (): number => Date.now();\n", rule: "no-restricted-syntax" },
    { layer: "core", name: "random.ts", text: "export const r = (): number => Math.random();\n", rule: "no-restricted-syntax" },
    { layer: "core", name: "timer.ts", text: "export const later = (f: () => void): unknown => setTimeout(f, 1);\n", rule: "no-restricted-globals" },
    { layer: "core", name: "cycle-a.ts", text: 'import { b } from "./cycle-b.js";\nexport const a = (): number => b() + 1;\n', rule: "import-x/no-cycle" },
    { layer: "core", name: "cycle-b.ts", text: 'import { a } from "./cycle-a.js";\nexport const b = (): number => (a.length > 9 ? 0 : 1);\n', rule: "import-x/no-cycle" },
    { layer: "worker", name: "concrete-provider.ts", text: 'import { SqliteProvider } from "../../providers/sqlite/sqlite-provider.js";\nexport const P = SqliteProvider;\n', rule: "import-x/no-restricted-paths" },
    { layer: "worker", name: "driver.ts", text: 'import Database from "better-sqlite3";\nexport const D = Database;\n', rule: "no-restricted-imports" },
    { layer: "client", name: "worker-import.ts", text: 'import type { Worker } from "../../worker/worker.js";\nexport type W = Worker;\n', rule: "import-x/no-restricted-paths" },
    { layer: "http", name: "provider-import.ts", text: 'import type { StorageProvider } from "../../providers/provider.js";\nexport type P = StorageProvider;\n', rule: "import-x/no-restricted-paths" },
    { layer: "providers", name: "worker-import.ts", text: 'import type { Worker } from "../../worker/worker.js";\nexport type W = Worker;\n', rule: "import-x/no-restricted-paths" },
    { layer: "dashboard", name: "client-import.ts", text: 'import type { DurableClient } from "../../client/durable-client.js";\nexport type C = DurableClient;\n', rule: "import-x/no-restricted-paths" },
    { layer: "dashboard", name: "node-import.ts", text: 'import { readFileSync } from "node:fs";\nexport const read = (p: string): string => readFileSync(p, "utf8");\n', rule: "no-restricted-imports" },
    { layer: "runtime", name: "client-import.ts", text: 'import type { DurableClient } from "../../client/durable-client.js";\nexport type C = DurableClient;\n', rule: "import-x/no-restricted-paths" },
  ];

  before(async () => {
    const files = cases.map((c) => probe(c.layer, c.name, c.text));
    try {
      const eslint = new ESLint({ cwd: root });
      for (const r of await eslint.lintFiles(files)) {
        results.set(r.filePath, r.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`));
      }
    } finally {
      for (const d of probeDirs) rmSync(d, { recursive: true, force: true });
    }
  });
  after(() => {
    for (const d of probeDirs) rmSync(d, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(`${c.layer}/${c.name} fails with ${c.rule}`, () => {
      const file = join(src, c.layer, `__probe_${process.pid}`, c.name);
      const rules = results.get(file);
      assert.ok(rules, `the probe ${c.name} was linted`);
      assert.ok(rules.includes(c.rule), `expected ${c.rule} on ${c.layer}/${c.name}, got: ${rules.join(", ") || "no error"}`);
    });
  }

  it("a clean file in core/ passes lint (the probes fail for their rule, not for being probes)", async () => {
    const file = probe("core", "clean.ts", "export const twice = (n: number): number => n * 2;\n");
    try {
      const [r] = await new ESLint({ cwd: root }).lintFiles([file]);
      assert.deepEqual(r?.messages.map((m) => m.ruleId ?? m.message), []);
    } finally {
      rmSync(dirname(file), { recursive: true, force: true });
    }
  });
});
