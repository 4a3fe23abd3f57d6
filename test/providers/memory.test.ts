import { MemoryProvider } from "../../src/providers/memory/memory-provider.js";
import { runConformanceSuite } from "./conformance.js";

runConformanceSuite("memory", async () => {
  const provider = new MemoryProvider();
  return { provider, cleanup: () => provider.close() };
});
