import { MemoryProvider } from "../../src/providers/memory/memory-provider.js";
import { runConformanceSuite } from "./conformance/index.js";

runConformanceSuite("memory", async () => {
  const provider = new MemoryProvider();
  return { provider, cleanup: () => provider.close(), second: async () => provider.openSecondHandle(), leasesStarts: true, leasesReplacingStarts: true };
});
