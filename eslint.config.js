// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".perdure/**", "bench/results/**", "scratch/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
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
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // core/ is the pure replay engine: no I/O, no node:*, nothing from the layers above.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "fs", "path", "crypto", "../*/**", "../providers/*", "../worker/*", "../client/*", "../host/*", "../http/*"], message: "core/ stays pure: no I/O and no imports from other layers." }] }],
      "no-restricted-globals": ["error", { name: "setTimeout", message: "core/ has no clocks." }, { name: "setInterval", message: "core/ has no clocks." }, { name: "process", message: "core/ has no process access." }],
      "no-restricted-syntax": ["error", { selector: "MemberExpression[object.name='Date'][property.name='now']", message: "core/ has no clock: time comes from history." }, { selector: "MemberExpression[object.name='Math'][property.name='random']", message: "core/ has no randomness." }],
    },
  },
  {
    // Nothing above providers/ knows which database it talks to.
    files: ["src/worker/**/*.ts", "src/client/**/*.ts", "src/http/**/*.ts", "src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/providers/sqlite/*", "**/providers/memory/*", "**/providers/postgres/*", "better-sqlite3", "pg"], message: "Use the StorageProvider interface, not a concrete provider." }] }],
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
