/**
 * entity: 10,000 `add` signals from one client to one counter entity; then 10,000 more spread over 100
 * counter entities (signal i goes to entity i mod 100). Signals are sent in chunks of 100 while the
 * host works (a stream, not a pre-filled inbox). Reports operations/s from just before the first
 * signal to the commit of the batch that applied the last one, and checks every entity's final state:
 * the count, the sum of the signalled values and that the values arrived in sending order.
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { EntityId, type StorageProvider } from "../../src/index.js";
import { readEntityRecord } from "../../src/core/entities/entity-record.js";
import { commitInstanceId } from "../../src/providers/provider.js";
import { BenchTimeoutError, type BenchStore, check, diagnostics, scaled, startHost, type Workload } from "../harness.js";

const COUNTER = "bench_counter";
const CHUNK = 100;

interface CounterState {
  count: number;
  sum: number;
  last: number;
  /** Values that arrived after a larger one from the same (only) sender. */
  disorder: number;
}

/**
 * Watches the provider's commits of entity batches: for each entity, how many operations its
 * committed state holds, and when the last commit was. Exact commit times without polling.
 */
class EntityTap {
  readonly applied = new Map<string, number>();
  total = 0;
  batches = 0;
  lastAt = 0;
  private waiter: { target: number; resolve: () => void } | undefined;

  constructor(provider: StorageProvider) {
    const original = provider.completeOrchestrationWorkItems.bind(provider);
    provider.completeOrchestrationWorkItems = async (commits, now) => {
      const results = await original(commits, now);
      const at = performance.now();
      commits.forEach((c, i) => {
        const text = c.instance.entityState;
        const id = commitInstanceId(c);
        if (!results[i]?.ok || text === undefined || !id.startsWith("@")) return;
        const state = readEntityRecord(text, id).state;
        const count = state === undefined ? 0 : (JSON.parse(state) as CounterState).count;
        this.total += count - (this.applied.get(id) ?? 0);
        this.applied.set(id, count);
        this.batches++;
        this.lastAt = at;
      });
      if (this.waiter && this.total >= this.waiter.target) this.waiter.resolve();
      return results;
    };
  }

  /** Resolves once the committed states hold `target` operations in all. */
  waitForTotal(target: number, timeoutMs: number): Promise<void> {
    if (this.total >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new BenchTimeoutError(`Timed out after ${timeoutMs} ms waiting for ${target} entity operations (${this.total} applied).`));
      }, timeoutMs);
      this.waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        },
      };
    });
  }
}

export const entity: Workload = {
  name: "entity",
  summary: "10,000 signals to one counter entity, then 10,000 spread over 100 entities (ops/s, exact final state)",
  warms: true,
  async run({ store, scale, timeoutMs }) {
    const n = scaled(10_000, scale);
    const spread = Math.min(100, n);
    let tap: EntityTap | undefined;
    const tapped: BenchStore = {
      ...store,
      provider: () => {
        const p = store.provider();
        tap = new EntityTap(p);
        return p;
      },
    };
    const bench = await startHost(tapped, (app) => {
      app.entity<CounterState>(COUNTER, (ctx) => {
        const s = ctx.df.getState(() => ({ count: 0, sum: 0, last: -1, disorder: 0 }));
        const v = ctx.df.getInput<number>();
        ctx.df.setState({ count: s.count + 1, sum: s.sum + v, last: v, disorder: s.disorder + (v < s.last ? 1 : 0) });
      });
    });
    const t = tap!;
    try {
      const client = bench.host.client;
      /** Sends values 0..n-1, value i to target(i), in chunks, letting the host work in between. */
      const phase = async (target: (i: number) => EntityId): Promise<{ seconds: number; sendMs: number; batches: number }> => {
        const before = t.total;
        const batchesBefore = t.batches;
        const start = performance.now();
        for (let i = 0; i < n; i += CHUNK) {
          const sends: Promise<void>[] = [];
          for (let j = i; j < Math.min(n, i + CHUNK); j++) sends.push(client.signalEntity(target(j), "add", j));
          await Promise.all(sends);
          await yieldToLoop();
        }
        const sendMs = performance.now() - start;
        await t.waitForTotal(before + n, timeoutMs);
        return { seconds: (t.lastAt - start) / 1000, sendMs, batches: t.batches - batchesBefore };
      };
      const verify = async (id: EntityId, count: number, sum: number, what: string): Promise<void> => {
        const r = await client.readEntityState<CounterState>(id);
        check(r.entityExists, () => `${what}: entity ${id.toString()} does not exist.${bench.logger.summary()}`);
        const s = r.entityState!;
        check(s.count === count && s.sum === sum, () => `${what}: ${id.toString()} holds count ${s.count}, sum ${s.sum}; expected ${count}, ${sum}.${bench.logger.summary()}`);
        check(s.disorder === 0, () => `${what}: ${id.toString()} applied ${s.disorder} signals out of sending order.`);
      };

      // Phase 1: one entity.
      const one = new EntityId(COUNTER, "one");
      const p1 = await phase(() => one);
      await verify(one, n, (n * (n - 1)) / 2, "entity (one)");

      // Phase 2: 100 entities; entity k gets the values i ≡ k (mod 100).
      const many = Array.from({ length: spread }, (_, k) => new EntityId(COUNTER, `many-${k}`));
      const p2 = await phase((i) => many[i % spread]!);
      for (let k = 0; k < spread; k++) {
        let count = 0;
        let sum = 0;
        for (let i = k; i < n; i += spread) {
          count++;
          sum += i;
        }
        await verify(many[k]!, count, sum, "entity (100)");
      }
      check(t.applied.size === spread + 1, () => `entity: ${t.applied.size} entities committed state, expected ${spread + 1}.`);
      check(bench.logger.errors.length === 0, () => `entity: the engine logged errors.${bench.logger.summary()}`);

      return {
        measurements: [
          { metric: "one entity ops/s", value: n / p1.seconds, unit: "ops/s", better: "higher" },
          { metric: `${spread} entities ops/s`, value: n / p2.seconds, unit: "ops/s", better: "higher" },
        ],
        params: {
          signals: n,
          entities: spread,
          oneSeconds: Number(p1.seconds.toFixed(3)),
          oneSendMs: Math.round(p1.sendMs),
          oneBatches: p1.batches,
          manySeconds: Number(p2.seconds.toFixed(3)),
          manySendMs: Math.round(p2.sendMs),
          manyBatches: p2.batches,
        },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
