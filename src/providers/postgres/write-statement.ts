/**
 * One statement for all of a batch's writes (after its rows were locked and read). Each part is a
 * data-modifying CTE over arrays, one array per column (unnest), so the statement's size does not
 * grow with the batch; only the parts a batch needs are included, and each combination of parts is
 * prepared once per connection. The planner guarantees that no two parts touch the same row.
 *
 * ready_at (an instance's earliest message due time) is kept here, from what the statement writes:
 * an instance's rows are locked, so no other transaction changes its messages meanwhile.
 */
import type { BatchPlanner, TargetPatch } from "./batch-plan.js";

type Column = readonly [type: string, value: (i: number) => unknown];

interface Part {
  /** CTE name. */
  name: string;
  rows: number;
  /** Its parameters are single values (typed as given), not one array per column. */
  scalar?: boolean;
  columns: readonly Column[];
  /**
   * The CTE's statement; `p` are the placeholders of its columns, in order; `g` is the gate's
   * condition to AND into it ("" without a gate).
   */
  sql: (p: string[], g: string) => string;
  /** A SELECT over the CTE that reports something back (`k`, `v`, `w` text columns). */
  report?: string;
}

export interface WriteStatement {
  name: string;
  text: string;
  values: unknown[];
}

const cols = <T>(rows: readonly T[], ...columns: [string, (row: T) => unknown][]): Column[] => columns.map(([type, f]) => [type, (i: number) => f(rows[i]!)] as const);

/** The part's bind values: one array per column, or the single values of a scalar part. */
function valuesOf(part: Part): unknown[] {
  if (part.scalar) return part.columns.map(([, value]) => value(0));
  return part.columns.map(([, value]) => Array.from({ length: part.rows }, (_, i) => value(i)));
}

/**
 * What an optimistic batch presumes, checked inside the statement itself: every part writes only
 * when every instance is unleased at the execution and history length its step was computed on,
 * and every activity task still holds its lease. A batch that fails the check writes nothing.
 */
export interface Gate {
  instances: readonly { instanceId: string; executionId: string; historyLength: number }[];
  tasks: readonly { id: number; lockToken: string }[];
  now: number;
}

/** The write statement of `p`, or undefined when the batch writes no row. */
export function writeStatement(
  s: string,
  p: BatchPlanner,
  notify: { channel: string; payload: string | null },
  gate?: Gate,
  /** Every other part writes only if this part wrote a row (a create that found the ID taken writes nothing). */
  only?: "ic",
): WriteStatement | undefined {
  const due = p.newMessagesDue();
  const own = [...p.own];
  const resets = [...p.resets];
  const creates = [...p.creates];
  const targets: TargetPatch[] = p.targetPatches(due);
  const consumed = p.consumedMessageIds;
  const parts: Part[] = [
    {
      name: "dm",
      rows: consumed.length > 0 ? 1 : 0,
      scalar: true,
      columns: [["bigint[]", () => consumed]],
      sql: ([ids], g) => `DELETE FROM ${s}.messages WHERE id = ANY(${ids})${g}`,
    },
    {
      name: "dt",
      rows: p.deletedTaskIds.length > 0 ? 1 : 0,
      scalar: true,
      columns: [["bigint[]", () => p.deletedTaskIds]],
      sql: ([ids], g) => `DELETE FROM ${s}.activity_tasks WHERE id = ANY(${ids})${g}`,
    },
    {
      name: "ih",
      rows: p.history.length,
      columns: cols(p.history, ["text", (h) => h.instanceId], ["int", (h) => h.seq], ["text", (h) => h.executionId], ["text", (h) => h.type], ["text", (h) => h.event]),
      sql: (c, g) => `INSERT INTO ${s}.history (instance_id, seq, execution_id, event_type, event) SELECT * FROM unnest(${c.join(", ")}) WHERE true${g}`,
    },
    {
      // A step's own row: the step's update, the lease released, ready_at from the messages that
      // are left (those it consumed go in this statement) and those it adds.
      name: "uo",
      rows: own.length,
      columns: [
        ...cols(
          own,
          ["text", ([id]) => id],
          ["text", ([, u]) => u.name],
          ["text", ([, u]) => u.nameKey],
          ["text", ([, u]) => u.executionId],
          ["text", ([, u]) => u.runtimeStatus],
          ["text", ([, u]) => u.input],
          ["text", ([, u]) => u.output],
          ["text", ([, u]) => u.customStatus],
          ["text", ([, u]) => u.failureDetails],
          ["text", ([, u]) => u.entityState],
          ["bigint", ([, u]) => u.lastUpdatedAt],
          ["int", ([, u]) => u.historyLength],
          ["text", ([, u]) => u.affinity],
          ["bigint", ([id]) => due.get(id) ?? null],
        ),
      ],
      sql: (c, g) => `UPDATE ${s}.instances i SET name = x.name, name_key = x.name_key, execution_id = x.execution_id, runtime_status = x.status,
          input = x.input, output = x.output, custom_status = x.custom_status, failure_details = x.failure, entity_state = x.entity_state,
          last_updated_at = x.updated, history_length = x.history_length, affinity = COALESCE(x.affinity, i.affinity),
          lock_token = NULL, locked_until = 0, worker_id = NULL, parked = NULL, wake_pending = false,
          ready_at = ${
            // Gated (optimistic) steps consume nothing: the row's ready_at stays right as it is. A
            // lease's step consumed messages: the earliest of those left (its rows are locked, so
            // no other transaction adds any meanwhile).
            g ? "LEAST(i.ready_at, x.due)" : `LEAST((SELECT min(m.visible_at) FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND NOT (m.id = ANY($$consumed))), x.due)`
          }
        FROM unnest(${c.join(", ")}) AS x(instance_id, name, name_key, execution_id, status, input, output, custom_status, failure, entity_state, updated, history_length, affinity, due)
        WHERE i.instance_id = x.instance_id${g}
        RETURNING i.instance_id, i.ready_at`,
      report: "SELECT 'r' AS k, instance_id AS v, ready_at::text AS w FROM uo",
    },
    {
      // A finished instance replaced by a new one (its old data was dropped before this statement).
      name: "ur",
      rows: resets.length,
      columns: cols(
        resets,
        ["text", ([id]) => id],
        ["text", ([, n]) => n.kind],
        ["text", ([, n]) => n.name],
        ["text", ([, n]) => n.nameKey],
        ["text", ([, n]) => n.executionId],
        ["text", ([, n]) => n.runtimeStatus],
        ["text", ([, n]) => n.input],
        ["text", ([, n]) => n.parentInstanceId],
        ["bigint", ([, n]) => n.at],
        ["bigint", ([id]) => due.get(id) ?? null],
      ),
      sql: (c, g) => `UPDATE ${s}.instances i SET kind = x.kind, name = x.name, name_key = x.name_key, execution_id = x.execution_id, runtime_status = x.status,
          input = x.input, output = NULL, custom_status = NULL, failure_details = NULL, parent_instance_id = x.parent, created_at = x.at,
          last_updated_at = x.at, history_length = 0, entity_state = NULL, parked = NULL, lock_token = NULL, locked_until = 0, worker_id = NULL,
          wake_pending = false, affinity = NULL, ready_at = x.due
        FROM unnest(${c.join(", ")}) AS x(instance_id, kind, name, name_key, execution_id, status, input, parent, at, due)
        WHERE i.instance_id = x.instance_id${g}`,
    },
    {
      name: "ic",
      rows: creates.length,
      columns: cols(
        creates,
        ["text", ([id]) => id],
        ["text", ([, n]) => n.kind],
        ["text", ([, n]) => n.name],
        ["text", ([, n]) => n.nameKey],
        ["text", ([, n]) => n.executionId],
        ["text", ([, n]) => n.runtimeStatus],
        ["text", ([, n]) => n.input],
        ["text", ([, n]) => n.parentInstanceId],
        ["bigint", ([, n]) => n.at],
        ["bigint", ([id]) => due.get(id) ?? null],
      ),
      sql: (c, g) => `INSERT INTO ${s}.instances (instance_id, kind, name, name_key, execution_id, runtime_status, input, parent_instance_id, created_at, last_updated_at, ready_at)
        SELECT x.instance_id, x.kind, x.name, x.name_key, x.execution_id, x.status, x.input, x.parent, x.at, x.at, x.due
        FROM unnest(${c.join(", ")}) AS x(instance_id, kind, name, name_key, execution_id, status, input, parent, at, due)
        WHERE true${g}
        ON CONFLICT (instance_id) DO NOTHING RETURNING instance_id`,
      report: "SELECT 'c' AS k, instance_id AS v, NULL AS w FROM ic",
    },
    {
      name: "ut",
      rows: targets.length,
      columns: cols(targets, ["text", (t) => t.instanceId], ["bigint", (t) => t.due], ["boolean", (t) => t.wake], ["bigint", (t) => t.lockedUntil], ["boolean", (t) => t.wakePending]),
      sql: (c, g) => `UPDATE ${s}.instances i SET ready_at = LEAST(i.ready_at, x.due),
          locked_until = CASE WHEN x.wake THEN x.locked_until ELSE i.locked_until END,
          wake_pending = CASE WHEN x.wake THEN x.wake_pending ELSE i.wake_pending END
        FROM unnest(${c.join(", ")}) AS x(instance_id, due, wake, locked_until, wake_pending)
        WHERE i.instance_id = x.instance_id${g}`,
    },
    {
      name: "it",
      rows: p.tasks.length,
      columns: cols(
        p.tasks,
        ["text", (t) => t.instanceId],
        ["text", (t) => t.executionId],
        ["int", (t) => t.taskScheduledId],
        ["text", (t) => t.name],
        ["text", (t) => t.nameKey],
        ["text", (t) => t.input],
        ["text", (t) => t.metadata],
        ["bigint", (t) => t.visibleAt],
        ["text", (t) => t.lockToken],
        ["bigint", (t) => t.lockedUntil],
        ["int", (t) => t.dequeueCount],
        ["text", (t) => t.workerId],
      ),
      sql: (c, g) => `INSERT INTO ${s}.activity_tasks (instance_id, execution_id, task_scheduled_id, name, name_key, input, metadata, visible_at, lock_token, locked_until, dequeue_count, worker_id)
        SELECT * FROM unnest(${c.join(", ")}) WHERE true${g} RETURNING id, lock_token`,
      report: "SELECT 't' AS k, id::text AS v, lock_token AS w FROM it WHERE lock_token IS NOT NULL",
    },
    {
      // In order: ids are the arrival order of an instance's messages.
      name: "im",
      rows: p.messages.length,
      columns: cols(p.messages, ["text", (m) => m.instanceId], ["text", (m) => m.executionId], ["text", (m) => m.type], ["text", (m) => m.event], ["bigint", (m) => m.visibleAt], ["text", (m) => m.metadata]),
      sql: (c, g) => `INSERT INTO ${s}.messages (instance_id, execution_id, event_type, event, visible_at, metadata)
        SELECT x.instance_id, x.execution_id, x.event_type, x.event, x.visible_at, x.metadata
        FROM unnest(${c.join(", ")}) WITH ORDINALITY AS x(instance_id, execution_id, event_type, event, visible_at, metadata, n)
        WHERE true${g}
        ORDER BY x.n`,
    },
    {
      // Delivered at COMMIT (and dropped with a rollback), so other hosts never look too early.
      name: "nt",
      rows: notify.payload !== null ? 1 : 0,
      scalar: true,
      columns: [
        ["text", () => notify.channel],
        ["text", () => notify.payload],
      ],
      sql: ([channel, payload], g) => `SELECT pg_notify(${channel}, ${payload}) WHERE true${g}`,
      report: "SELECT 'n' AS k, NULL AS v, NULL AS w FROM nt",
    },
  ];
  const used = parts.filter((x) => x.rows > 0);
  if (!used.some((x) => x.name !== "nt")) return undefined;
  const values: unknown[] = [];
  const ctes: string[] = [];
  const reports: string[] = [];
  let consumedParam = "";
  let g = "";
  const param = (v: unknown, type: string): string => {
    values.push(v);
    return `$${values.length}::${type}`;
  };
  if (gate) {
    // The rows first, in ascending ID order, then the tasks: the lock order of every transaction.
    const ids = gate.instances.map((i) => i.instanceId);
    ctes.push(`f AS (SELECT i.instance_id, i.runtime_status FROM ${s}.instances i
        JOIN unnest(${param(ids, "text[]")}, ${param(gate.instances.map((i) => i.executionId), "text[]")}, ${param(gate.instances.map((i) => i.historyLength), "int[]")}) AS x(instance_id, execution_id, history_length)
          ON i.instance_id = x.instance_id
        WHERE i.execution_id = x.execution_id AND i.history_length = x.history_length
          AND i.locked_until <= LEAST(${param(gate.now, "bigint")}, (extract(epoch FROM statement_timestamp()) * 1000)::bigint)
        ORDER BY i.instance_id FOR UPDATE OF i)`);
    ctes.push(`ft AS (SELECT t.id FROM ${s}.activity_tasks t
        JOIN unnest(${param(gate.tasks.map((t) => t.id), "bigint[]")}, ${param(gate.tasks.map((t) => t.lockToken), "text[]")}) AS x(id, lock_token)
          ON t.id = x.id AND t.lock_token = x.lock_token
        ORDER BY t.id FOR UPDATE OF t)`);
    ctes.push(`ok AS (SELECT (SELECT count(*) FROM f) = ${param(ids.length, "int")} AND (SELECT count(*) FROM ft) = ${param(gate.tasks.length, "int")} AS ok)`);
    reports.push("SELECT 'ok' AS k, ok::text AS v, NULL AS w FROM ok", "SELECT 's' AS k, instance_id AS v, runtime_status AS w FROM f");
    g = " AND (SELECT ok FROM ok)";
  }
  for (const part of used) {
    const placeholders = valuesOf(part).map((v, i) => {
      values.push(v);
      return `$${values.length}::${part.columns[i]![0]}${part.scalar ? "" : "[]"}`;
    });
    if (part.name === "uo" && !gate) consumedParam = param(consumed, "bigint[]");
    const condition = only && part.name !== only ? `${g} AND EXISTS (SELECT 1 FROM ${only})` : g;
    ctes.push(`${part.name} AS (${part.sql(placeholders, condition).replace("$$consumed", consumedParam)})`);
    if (part.report) reports.push(part.report);
  }
  const select = reports.length > 0 ? reports.join(" UNION ALL ") : "SELECT NULL::text AS k, NULL::text AS v, NULL::text AS w WHERE false";
  return { name: `write:${s}:${gate ? "gated:" : ""}${only ? `only-${only}:` : ""}${used.map((x) => x.name).join("+")}`, text: `WITH ${ctes.join(",\n")}\n${select}`, values };
}
