/**
 * Jest in its native ESM mode, with ts-jest compiling the TypeScript.
 *
 * Why this setup:
 * - perdure is an ES module package: its files are ESM whichever of `import` or `require` picks
 *   them. Jest's default CommonJS mode runs every module through its own `require`, which cannot
 *   load them (short of transforming perdure itself out of node_modules). Jest's ESM mode can; it
 *   needs Node's `--experimental-vm-modules` flag, which the `test` script in package.json passes.
 * - ts-jest, the TypeScript transform the Jest docs name, uses the TypeScript compiler the project
 *   has anyway and reads its tsconfig.json: no Babel presets, no native binary. With
 *   `isolatedModules: true` in tsconfig.json (which ts-jest requires for `module: NodeNext`) it
 *   compiles each file on its own without type-checking, as Vitest does: `npm run typecheck`
 *   (tsc) checks the types.
 *
 * @type {import("jest").Config}
 */
export default {
  testEnvironment: "node",
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  // Tests import `describe`, `test`, `expect` from @jest/globals: no globals are injected.
  injectGlobals: false,
  // .ts files are ES modules too (package.json "type": "module" speaks for .js only).
  extensionsToTreatAsEsm: [".ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true }] },
  // The sources import "./app.js", NodeNext style: Jest finds app.ts.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  // No fake timers: the test host's clock is manual already, and its worker needs the real event loop.
};
