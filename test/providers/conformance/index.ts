/**
 * The storage provider conformance suite (reliability anchors T20), for provider contract v2. One
 * suite, run against every StorageProvider (memory, SQLite file, SQLite :memory:, and later
 * PostgreSQL) through the interface only: no SQL, no provider internals, and time always passed in
 * as fixed `now` values. Each topic is a file of this folder; every test gets a fresh store.
 */
import { describe, it } from "node:test";
import type { StorageProvider } from "../../../src/providers/provider.js";
import type { Define, MakeProvider, ProviderHandle } from "../fixtures.js";
import { activityResultTests, activityTests, leaseActivitiesTests } from "./activities.js";
import { commitTests } from "./commit.js";
import { createTests, initializeTests, startLeaseTests } from "./create.js";
import { durabilityTests } from "./durability.js";
import { entityTests } from "./entities.js";
import { leaseFenceTests, optimisticFenceTests } from "./fencing.js";
import { interleavingTests } from "./interleaving.js";
import { lockingTests } from "./locking.js";
import { deliveryTests, sendMessagesTests } from "./messages.js";
import { onInstanceChangeTests, onWorkTests, statsTests } from "./notifications.js";
import { abandonTests, parkTests, strandedWorkTests } from "./parking.js";
import { purgeTests } from "./purge.js";
import { countInstancesTests, instanceReadTests, nextVisibleAtTests, queryInstancesTests, workCountsTests } from "./queries.js";
import { timerOccurrenceTests } from "./timers.js";

export type { MakeProvider, ProviderHandle } from "../fixtures.js";

const TOPICS: [string, (test: Define) => void][] = [
  ["initialize", initializeTests],
  ["createInstance", createTests],
  ["createInstance with a lease", startLeaseTests],
  ["sendMessages", sendMessagesTests],
  ["delivery of a step's messages", deliveryTests],
  ["lockOrchestrationWorkItems", lockingTests],
  ["completeOrchestrationWorkItems", commitTests],
  ["lease fence", leaseFenceTests],
  ["optimistic fence", optimisticFenceTests],
  ["activity work items", activityTests],
  ["activityResults in a commit", activityResultTests],
  ["leaseActivities", leaseActivitiesTests],
  ["abandon and renew", abandonTests],
  ["park records and wake", parkTests],
  ["findStrandedWork", strandedWorkTests],
  ["getInstance and getHistory", instanceReadTests],
  ["queryInstances", queryInstancesTests],
  ["nextVisibleAt", nextVisibleAtTests],
  ["workCounts", workCountsTests],
  ["countInstances", countInstancesTests],
  ["purge", purgeTests],
  ["entities", entityTests],
  ["onWork", onWorkTests],
  ["onInstanceChange", onInstanceChangeTests],
  ["stats", statsTests],
  ["durability across reopen", durabilityTests],
  ["two handles on one store", interleavingTests],
  ["timer trigger occurrences", timerOccurrenceTests],
];

export function runConformanceSuite(name: string, makeProvider: MakeProvider): void {
  const test: Define = (title, body) => {
    it(title, async (t) => {
      const h = await makeProvider();
      const opened: StorageProvider[] = [];
      const handle: ProviderHandle = { ...h };
      const openSecond = h.second;
      if (openSecond) {
        handle.second = async () => {
          const q = await openSecond();
          opened.push(q);
          await q.initialize();
          return q;
        };
      }
      try {
        await h.provider.initialize();
        await body(h.provider, handle, t);
      } finally {
        // Second handles first: cleanup may delete the files they hold open.
        for (const q of opened) await q.close();
        await h.cleanup();
      }
    });
  };

  describe(`StorageProvider conformance: ${name}`, () => {
    for (const [topic, define] of TOPICS) describe(topic, () => define(test));
  });
}
