/**
 * Recovery of durable entities: a host process on a SQLite file is killed with SIGKILL in the middle of
 * a stream of 2,000 `add` signals to one entity (sent by this process, a client on the same file) while
 * 5 orchestrations each call `add` 20 times; a new process on the same file finishes. Every operation
 * is applied exactly once: the count and the sum are exact, the entity's bitmap of applied sequence
 * numbers has no gap, no number was applied twice, the client's signals were applied in sending order,
 * and every caller got 20 answers, one per call. Operations themselves may run more than once (a batch
 * in flight at the kill is rolled back and redone): re-executions are counted and reported.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { createApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { createHost, providerFromUrl } from "../../src/index.js";
import { LocalDurableClient } from "../../src/client/local-client.js";
import { readEntityRecord } from "../../src/core/entities/entity-record.js";
import { commitInstanceId } from "../../src/providers/provider.js";
import type { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { systemClock } from "../../src/runtime/clock.js";
import { assertReplaysCleanly } from "../helpers/determinism.js";
import {
  type AddInput,
  CALLER,
  callerInstanceId,
  CALLERS,
  CALLS_PER_CALLER,
  type CallerOutput,
  callSeq,
  EXPECTED_SUM,
  LEDGER_ID,
  type LedgerState,
  missingFrom,
  hasSeen,
  type OpEffect,
  registerEntityCrashFunctions,
  SIGNALS,
  TOTAL_OPS,
} from "./fixtures/entity-functions.js";
import { assertNothingLeftBehind, chaosSeed, type HostProcess, readEffects, rng, runName, scenario, sleep, until } from "./host-process.js";

const PROGRESS_TIMEOUT_MS = 60_000;
const FINISH_TIMEOUT_MS = 90_000;

/** Where the brakes of the first process sit (see the "once" plan). */
const HOLD_SIGNALS_FROM = 700;
const HOLD_CALLS_FROM = 10;
/** The sender waits for the kill before sending this signal, and for the next host before this one. */
const GATE_KILLED = 1500;
const GATE_NEXT_HOST = 1750;

interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

// ---------------------------------------------------------------------------------------------
// Reading the store from the test process.

interface Snapshot {
  ledger: LedgerState | undefined;
  callers: (string | undefined)[];
}

async function snapshot(client: LocalDurableClient, provider: SqliteProvider): Promise<Snapshot> {
  const state = await client.readEntityState<LedgerState>(LEDGER_ID);
  const callers: (string | undefined)[] = [];
  for (let c = 0; c < CALLERS; c++) callers.push((await provider.getInstance(callerInstanceId(c)))?.runtimeStatus);
  return { ledger: state.entityExists ? state.entityState : undefined, callers };
}

/** Operations `run` began whose effect the committed state does not hold: a batch in flight. */
function inFlight(effects: OpEffect[], run: string, ledger: LedgerState | undefined): number[] {
  const seqs = new Set(effects.filter((e) => e.run === run).map((e) => e.seq));
  return [...seqs].filter((seq) => !ledger || !hasSeen(ledger.seen, seq)).sort((a, b) => a - b);
}

interface KillFigure {
  run: string;
  /** Operations applied (committed) when the process died. */
  applied: number;
  /** Client signals sent by then. */
  sent: number;
  /** Operations the process had begun that were not committed. */
  inFlight: number;
  callersCompleted: number;
}

interface Figures {
  kills: KillFigure[];
  /** Operations begun per process (at least once: a rolled-back batch runs again). */
  executions: Record<string, number>;
  reExecutedOps: number;
  extraExecutions: number;
  lostLeaseWarnings: number;
}

// ---------------------------------------------------------------------------------------------

/**
 * `once`: one kill at a chosen point: the first process has applied some operations and is in the
 * middle of a batch (its brakes guarantee that however slow the machine is), the callers are mid-way,
 * and the sender has more to send, some while no host runs, some while the next one works.
 * `chaos`: kills at random times (seeded) while the signals stream in; only the end state is checked.
 */
type Plan = { kind: "once" } | { kind: "chaos"; seed: number; kills: number };

async function entityCrashScenario(t: TestContext, plan: Plan): Promise<Figures> {
  // The sender: this process signals 0..SIGNALS-1, in order, one signal per transaction.
  const sender = { sent: 0, done: false, error: undefined as unknown, stop: false };
  let sending: Promise<void> = Promise.resolve();
  const { db, effectsFile, provider, all, hostProcess, report } = scenario(t, "entity-host.ts", "perdure-entity-crash-", async () => {
    sender.stop = true;
    await sending.catch(() => undefined);
  });
  const client = new LocalDurableClient(provider, systemClock);
  const senderError = (): unknown => sender.error;
  const figures: Figures = { kills: [], executions: {}, reExecutedOps: 0, extraExecutions: 0, lostLeaseWarnings: 0 };

  /** Sends signals [from, to) in order, yielding every few so the test's polling goes on. */
  const send = async (from: number, to: number, pauseMs = 2): Promise<void> => {
    for (let seq = from; seq < to && !sender.stop; seq++) {
      const input: AddInput = { seq };
      await client.signalEntity(LEDGER_ID, "add", input);
      sender.sent = seq + 1;
      if (seq % 10 === 9) await sleep(pauseMs);
    }
  };
  const startSending = (body: () => Promise<void>): void => {
    sending = body().then(
      () => void (sender.done = true),
      (err: unknown) => void (sender.error = err ?? new Error("sender failed")),
    );
  };

  /** SIGKILLs the victim, then reads (and records) where the store stands: what it committed last is in the file now. */
  const kill = async (victim: HostProcess): Promise<{ snap: Snapshot; figure: KillFigure }> => {
    await victim.killHard();
    const snap = await snapshot(client, provider);
    const figure: KillFigure = {
      run: victim.run,
      applied: snap.ledger?.count ?? 0,
      sent: sender.sent,
      inFlight: inFlight(readEffects<OpEffect>(effectsFile), victim.run, snap.ledger).length,
      callersCompleted: snap.callers.filter((s) => s === "Completed").length,
    };
    figures.kills.push(figure);
    return { snap, figure };
  };

  const startCallers = async (from = 0, to = CALLERS): Promise<void> => {
    for (let c = from; c < to; c++) await client.startNew(CALLER, { instanceId: callerInstanceId(c), input: c });
  };

  let final: HostProcess | undefined;
  if (plan.kind === "once") {
    // Process A applies operations until a signal numbered ≥ 700 or a caller's 11th call comes up: that
    // operation never finishes in A, so A dies with a batch in flight (operations run, none committed).
    const a = hostProcess("A", ["--hold-signals-from", String(HOLD_SIGNALS_FROM), "--hold-calls-from", String(HOLD_CALLS_FROM)]);
    await a.waitForLine("ready");
    await provider.initialize();
    await startCallers();
    const killed = gate();
    const nextHost = gate();
    startSending(async () => {
      await send(0, 100);
      // A commits something before the brake's signal is even sent (so the kill is after some progress).
      while (!sender.stop && ((await client.readEntityState<LedgerState>(LEDGER_ID)).entityState?.count ?? 0) < 1) await sleep(10);
      await send(100, GATE_KILLED);
      await killed.opened;
      await send(GATE_KILLED, GATE_NEXT_HOST); // no host runs: they wait in the store
      await nextHost.opened;
      await send(GATE_NEXT_HOST, SIGNALS); // while B works
    });

    await until(
      "A to begin a held operation (mid-batch)",
      PROGRESS_TIMEOUT_MS,
      [a],
      async () => readEffects<OpEffect>(effectsFile).some((e) => e.run === "A" && e.seq >= HOLD_SIGNALS_FROM && (e.seq < SIGNALS || (e.seq - SIGNALS) % CALLS_PER_CALLER >= HOLD_CALLS_FROM)),
      senderError,
    );
    const { snap, figure } = await kill(a);
    assert.ok(figure.applied > 0 && figure.applied < TOTAL_OPS, `some but not all operations were applied when A died: ${JSON.stringify(figure)}`);
    assert.ok(figure.inFlight > 0, `A died with operations in flight (run, not committed): ${JSON.stringify(figure)}`);
    assert.ok(figure.sent < SIGNALS && !sender.done, `A died in the middle of the stream of signals: ${JSON.stringify(figure)}`);
    assert.ok(
      snap.callers.every((s) => s !== "Completed"),
      `A died with every caller mid-way (their 11th call cannot finish in A): ${JSON.stringify(snap.callers)}`,
    );
    assert.equal(snap.ledger?.dupCount, 0, "nothing applied twice before the kill");
    killed.open();
    await until("the signals sent while no host runs", PROGRESS_TIMEOUT_MS, [], async () => sender.sent >= GATE_NEXT_HOST, senderError);
    // B is the last process: it starts while signals still come, and more come while it works.
    final = hostProcess("B", []);
    await final.waitForLine("ready");
    nextHost.open();
  } else {
    const random = rng(plan.seed);
    const a = hostProcess("A", []);
    await a.waitForLine("ready");
    await provider.initialize();
    // Three callers now, two more after the first kill (so some calls are in flight at a later kill too).
    await startCallers(0, 3);
    // A steady stream (10 signals every ≥ 20 ms: ≥ 4 s) that the kills cut through.
    startSending(() => send(0, SIGNALS, 20));
    for (let k = 0; k < plan.kills; k++) {
      // Each process dies 0.3-2 s after its spawn (A: after the stream began): during start-up, while
      // waiting out the dead one's leases, or in the middle of a batch or of its commit.
      const victim = k === 0 ? a : hostProcess(runName(k), []);
      await sleep(300 + random() * 1700);
      await kill(victim);
      if (k === 0) await startCallers(3, CALLERS);
    }
  }

  // The last process must finish everything.
  final ??= hostProcess(runName(all.length), []);
  await until(
    "every signal and call to be applied and every caller to finish",
    FINISH_TIMEOUT_MS,
    [final],
    async () => {
      const s = await snapshot(client, provider);
      for (const status of s.callers) if (status === "Failed" || status === "Terminated") assert.fail(`a caller ended ${status}: ${JSON.stringify(s.callers)}\n${final.describe()}`);
      return sender.done && (s.ledger?.count ?? 0) >= TOTAL_OPS && s.callers.every((c) => c === "Completed") ? s : undefined;
    },
    senderError,
  );
  await final.stopFinal();

  // ---- the entity: every operation applied exactly once, the client's signals in order
  const state = await client.readEntityState<LedgerState>(LEDGER_ID);
  assert.ok(state.entityExists, "the ledger exists");
  const ledger = state.entityState!;
  assert.deepEqual({ dups: ledger.dups, dupCount: ledger.dupCount }, { dups: [], dupCount: 0 }, "no operation applied twice");
  assert.deepEqual(missingFrom(ledger.seen), [], "no operation lost (sequence numbers never applied)");
  assert.equal(ledger.count, TOTAL_OPS, `${TOTAL_OPS} operations applied`);
  assert.equal(ledger.sum, EXPECTED_SUM, `the sum is Σ seq for seq < ${TOTAL_OPS}`);
  assert.deepEqual(ledger.outOfOrder, [], "the client's signals were applied in sending order");
  assert.equal(ledger.lastSignal, SIGNALS - 1);

  // ---- the callers: 20 answers each, one per call, in call order; every count distinct
  const counts = new Set<number>();
  for (let c = 0; c < CALLERS; c++) {
    const id = callerInstanceId(c);
    const status = await client.getStatus(id);
    assert.equal(status.runtimeStatus, "Completed", `${id} completed`);
    const output = status.output as CallerOutput;
    assert.equal(output.caller, c);
    assert.deepEqual(
      output.results.map((r) => r.seq),
      Array.from({ length: CALLS_PER_CALLER }, (_, k) => callSeq(c, k)),
      `${id}: each call answered with its own operation`,
    );
    for (let k = 1; k < output.results.length; k++) {
      assert.ok(output.results[k]!.count > output.results[k - 1]!.count, `${id}: call ${k} was applied after call ${k - 1} (${JSON.stringify(output.results)})`);
    }
    for (const r of output.results) {
      assert.ok(r.count >= 1 && r.count <= TOTAL_OPS, `${id}: count ${r.count} in range`);
      assert.ok(!counts.has(r.count), `${id}: count ${r.count} seen by two calls (an operation applied twice?)`);
      counts.add(r.count);
    }
    // The history holds one request and one answer per call, none twice.
    const history = await provider.getHistory(id);
    const sent = history.filter((e) => e.type === "EntityOperationCalled");
    const answers = history.filter((e) => e.type === "EntityOperationCompleted" || e.type === "EntityOperationFailed");
    assert.equal(sent.length, CALLS_PER_CALLER, `${id}: ${CALLS_PER_CALLER} requests recorded`);
    const requestIds = sent.map((e) => (e.type === "EntityOperationCalled" ? e.requestId : ""));
    assert.equal(new Set(requestIds).size, CALLS_PER_CALLER, `${id}: distinct request IDs`);
    assert.deepEqual(
      answers.map((e) => (e.type === "EntityOperationCompleted" || e.type === "EntityOperationFailed" ? e.requestId : "")),
      requestIds,
      `${id}: one answer per request, in order, none twice`,
    );
    assert.equal(history.filter((e) => e.type === "ExecutionCompleted").length, 1, `${id}: one ExecutionCompleted`);
  }

  // ---- replay from scratch reproduces the callers' histories
  const app = createApp();
  registerEntityCrashFunctions(app);
  for (let c = 0; c < CALLERS; c++) await assertReplaysCleanly(provider, app.registry, callerInstanceId(c));

  // ---- no work left behind (internal tables, read-only): nothing would run again later
  assertNothingLeftBehind(db, { messages: "no message left unconsumed" }, (raw) => {
    const row = raw.prepare("SELECT entity_state FROM instances WHERE instance_id = ?").get(LEDGER_ID.toString()) as { entity_state: string | null } | undefined;
    const record = readEntityRecord(row?.entity_state ?? undefined, LEDGER_ID.toString());
    assert.deepEqual({ queue: record.queue.length, lock: record.lock }, { queue: 0, lock: undefined }, "the ledger holds no queued request and no lock");
  });

  // ---- effects: every operation ran (at least once; re-executions allowed and reported)
  const effects = readEffects<OpEffect>(effectsFile);
  const begins = new Map<number, number>();
  for (const e of effects) begins.set(e.seq, (begins.get(e.seq) ?? 0) + 1);
  const neverRan = Array.from({ length: TOTAL_OPS }, (_, seq) => seq).filter((seq) => !begins.has(seq));
  assert.deepEqual(neverRan, [], "every operation ran");
  for (const c of all) figures.executions[c.run] = effects.filter((e) => e.run === c.run).length;
  if (plan.kind === "once") {
    assert.ok(figures.executions.A! > 0 && figures.executions.B! > 0, `operations ran in A and in B: ${JSON.stringify(figures.executions)}`);
    // What A had run but not committed ran again in B, and counts once.
    assert.ok([...begins.values()].some((n) => n > 1), "some operation of A's batch in flight ran again after the restart");
  }
  figures.reExecutedOps = [...begins.values()].filter((n) => n > 1).length;
  figures.extraExecutions = [...begins.values()].reduce((sum, n) => sum + n - 1, 0);
  return report(figures);
}

test("SIGKILL in the middle of a stream of entity signals and calls: a new process applies each exactly once", { timeout: 180_000 }, async (t) => {
  await entityCrashScenario(t, { kind: "once" });
});

test("entity signals and calls, killed at random moments three times: still each applied exactly once", { timeout: 240_000 }, async (t) => {
  await entityCrashScenario(t, { kind: "chaos", seed: chaosSeed(t, "PERDURE_ENTITY_CRASH_SEED"), kills: 3 });
});

/**
 * A transient storage error (the commit of an entity's batch throws once) is recovered from like a
 * crash: the batch is redone, nothing is lost or applied twice, and one sender's signals are still
 * applied in the order it sent them, including those that arrived while the failed batch ran.
 */
for (const kind of ["memory", "sqlite"] as const) {
  test(`${kind}: an entity batch whose commit fails is redone without reordering a sender's signals`, { timeout: 60_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "perdure-entity-commit-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const provider = providerFromUrl(kind === "memory" ? "memory:" : `sqlite:${join(dir, "perdure.db")}`);
    const original = provider.completeOrchestrationWorkItems.bind(provider);
    let failures = 0;
    provider.completeOrchestrationWorkItems = async (commits, now) => {
      if (failures === 0 && commits.some((c) => EntityId.isEntityInstanceId(commitInstanceId(c)))) {
        failures++;
        throw new Error("simulated transient storage error");
      }
      return original(commits, now);
    };
    let firstBegun = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const app = createApp();
    app.entity<number[]>("OrderLog", async (ctx) => {
      const v = ctx.df.getInput<number>();
      if (v === 0 && !firstBegun) {
        // The first run of the first operation waits until later signals have arrived.
        firstBegun = true;
        await released;
      }
      ctx.df.setState([...ctx.df.getState(() => []), v]);
    });
    const errors: string[] = [];
    const host = createHost({ store: provider, port: false, app, logger: { info: () => undefined, warn: () => undefined, error: (m) => void errors.push(m) } });
    await host.start();
    t.after(() => host.stop());
    const id = new EntityId("OrderLog", "k");
    const n = 10;
    for (let i = 0; i < n / 2; i++) await host.client.signalEntity(id, "add", i);
    await until("the first batch to begin", 20_000, [], async () => firstBegun);
    for (let i = n / 2; i < n; i++) await host.client.signalEntity(id, "add", i);
    release();
    const applied = await until("every signal to be applied", 30_000, [], async () => {
      const s = await host.client.readEntityState<number[]>(id);
      return (s.entityState?.length ?? 0) >= n ? s.entityState : undefined;
    });
    assert.equal(failures, 1, "the simulated failure happened");
    assert.ok(errors.length > 0, "the failed step was logged");
    assert.deepEqual(applied, Array.from({ length: n }, (_, i) => i), "each signal applied once, in sending order");
  });
}
