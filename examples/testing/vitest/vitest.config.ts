import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    // No fake timers: the test host's clock is already manual, and its worker needs the real event loop.
  },
});
