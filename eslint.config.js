// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * The layers of DESIGN.md §2, lowest first. A file may import its own layer and the layers it
 * stands on (`uses`), nothing else. test/lint/layering.test.ts holds its own copy of this table and
 * checks it against the real imports, and lints probe files that break each rule, so a config edit
 * that weakens a rule fails the tests.
 */
const LAYERS = {
  core: { uses: [] },
  runtime: { uses: ["core"] },
  providers: { uses: ["core"] },
  worker: { uses: ["core", "runtime", "providers/provider.ts"] },
  client: { uses: ["core", "runtime", "providers/provider.ts"] },
  http: { uses: ["core", "runtime", "client"] },
  host: { uses: ["core", "runtime", "providers", "worker", "client", "http", "app.ts"] },
  cli: { uses: ["core", "runtime", "host", "app.ts"] },
  // The browser page: it reaches the runtime only through the HTTP API, so it may use core's types and nothing else.
  dashboard: { uses: ["core"] },
};

/** One no-restricted-paths zone per layer: everything under src/ except the layer itself and what it uses. */
const layerZones = Object.entries(LAYERS).map(([layer, { uses }]) => ({
  target: `./src/${layer}`,
  from: "./src",
  except: [`./${layer}`, ...uses.map((u) => `./${u}`)],
  message: `The ${layer} layer may import only ${[layer, ...uses].join(", ")} (DESIGN.md §2: arrows point down).`,
}));

const NOT_A_DRIVER = { group: ["better-sqlite3", "pg", "pg-*"], message: "Only providers/ talks to a database driver; use the StorageProvider interface." };

export default tseslint.config(
  // compat/samples and examples/testing/* are projects of their own, whose "perdure" dependency resolves only
  // once installed: their tests install them in a temporary folder and type-check them there.
  { ignores: ["dist/**", "node_modules/**", ".perdure/**", "bench/results/**", "compat/**", "examples/testing/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] }] },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    // The layering and the cycle rule, for every source file (one block: flat config does not merge
    // one rule's options across blocks, a later block for the same files would replace this list).
    files: ["src/**/*.ts", "src/**/*.tsx"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })],
      // The cycle rule parses the modules it follows: with the TypeScript parser, as the linted files.
      "import-x/extensions": [".ts", ".tsx", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts", ".tsx"] },
    },
    rules: {
      "import-x/no-restricted-paths": ["error", { zones: layerZones }],
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  },
  {
    // core/ is the pure replay engine: no I/O, no node:*, no clocks, no randomness.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "fs/*", "path", "crypto", "os", "http", "https", "net", "child_process", "worker_threads", "util", "events", "stream", "timers", "process"], message: "core/ stays pure: no I/O and no node modules." },
            NOT_A_DRIVER,
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "setTimeout", message: "core/ has no clocks." },
        { name: "setInterval", message: "core/ has no clocks." },
        { name: "setImmediate", message: "core/ has no clocks." },
        { name: "queueMicrotask", message: "core/ runs synchronously." },
        { name: "process", message: "core/ has no process access." },
        { name: "fetch", message: "core/ does no I/O." },
        { name: "crypto", message: "core/ has no randomness: ids come in as data." },
        { name: "Buffer", message: "core/ uses no node globals." },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: "core/ has no clock: time comes from history." },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: "core/ has no clock: time comes from history." },
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: "core/ has no randomness." },
        { selector: "MemberExpression[object.name='performance']", message: "core/ has no clock." },
      ],
    },
  },
  {
    // The dashboard runs in a browser: no node modules, no drivers.
    files: ["src/dashboard/**/*.ts", "src/dashboard/**/*.tsx"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "fs/*", "path", "crypto", "os", "http", "https", "net", "child_process", "worker_threads", "util", "events", "stream", "timers", "process"], message: "The dashboard runs in a browser: no node modules." },
            NOT_A_DRIVER,
          ],
        },
      ],
    },
  },
  {
    // Nothing above providers/ knows which database it talks to.
    files: ["src/runtime/**/*.ts", "src/worker/**/*.ts", "src/client/**/*.ts", "src/http/**/*.ts", "src/cli/**/*.ts", "src/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [NOT_A_DRIVER] }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "examples/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      // `yield` hands back `any` (as in durable-functions); returning it from an orchestrator is normal.
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      // Orchestrators that only throw are legitimate test subjects.
      "require-yield": "off",
    },
  },
);
