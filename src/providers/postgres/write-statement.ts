/**
 * One statement for all of a batch's writes (after its rows were locked and read). Each part is a
 * data-modifying CTE over one JSON array parameter (json_to_recordset), so the statement's size does
 * not grow with the batch and its rows cross the wire as one string that JSON.stringify builds; only
 * the parts a batch needs are included, and each combination of parts is prepared once per
 * connection. The planner guarantees that no two parts touch the same row.
 *
 * ready_at (an instance's earliest message due time) is kept here, from what the statement writes:
 * an instance's rows are locked, so no other transaction changes its messages meanwhile.
 */
import type { BatchPlanner, NewRow, TaskRow } from "./batch-plan.js";

interface Part {
  /** CTE name. */
  name: string;
  /** Rows, sent as one JSON array; empty: the part is left out. */
  rows: readonly object[];
  /** The record definition of a row, for json_to_recordset. */
  record?: string;
  /** Single values instead of rows (`[type, value]`); the part is left out when `rows` is empty. */
  scalars?: readonly (readonly [string, unknown])[];
  /**
   * The CTE's statement. `src` is the row source (`json_to_recordset(...) AS x(...)`) or the
   * placeholders of the scalars joined by ", "; `g` is the gate's condition to AND into it.
   */
  sql: (src: string, g: string, scalars: string[]) => string;
  /** A SELECT over the CTE that reports something back (`k`, `v`, `w` text columns). */
  report?: string;
}

export interface WriteStatement {
  name: string;
  text: string;
  values: unknown[];
}

/**
 * What an optimistic batch presumes, checked inside the statement itself: every part writes only
 * when every instance is unleased at the execution and history length its step was computed on,
 * and every activity task still holds its lease. A batch that fails the check writes nothing.
 */
export interface Gate {
  /**
   * Without `lockToken`, an optimistic step: the row must be unleased. With it, a leased step: the
   * row must still hold that lease and status, and be the very version the statement's snapshot
   * sees (its ready_at is computed from the messages in that snapshot; every message sent to an
   * instance updates its row, so a newer version means a message this statement cannot see).
   */
  instances: readonly { instanceId: string; executionId: string; historyLength: number; lockToken?: string; runtimeStatus?: string }[];
  tasks: readonly { id: number; lockToken: string }[];
  now: number;
}

const ONE: readonly object[] = [{}];

/** A new instance row (a start, or a finished instance replaced), as a json_to_recordset record. */
const NEW_ROW_RECORD = "instance_id text, kind text, name text, name_key text, execution_id text, status text, input text, parent text, version text, at bigint, due bigint, lock_token text, locked_until bigint, worker_id text";

function newRowRecord(id: string, n: NewRow, due: Map<string, number>): object {
  return {
    instance_id: id,
    kind: n.kind,
    name: n.name,
    name_key: n.nameKey,
    execution_id: n.executionId,
    status: n.runtimeStatus,
    input: n.input,
    parent: n.parentInstanceId,
    version: n.version,
    at: n.at,
    due: due.get(id) ?? null,
    lock_token: n.lease?.lockToken ?? null,
    locked_until: n.lease?.lockedUntil ?? 0,
    worker_id: n.lease?.workerId ?? null,
  };
}

const TASK_RECORD =
  "instance_id text, execution_id text, task_scheduled_id int, name text, name_key text, input text, metadata text, visible_at bigint, lock_token text, locked_until bigint, dequeue_count int, worker_id text, origin text";

function taskRecord(t: TaskRow): object {
  return {
    instance_id: t.instanceId,
    execution_id: t.executionId,
    task_scheduled_id: t.taskScheduledId,
    name: t.name,
    name_key: t.nameKey,
    input: t.input,
    metadata: t.metadata,
    visible_at: t.visibleAt,
    lock_token: t.lockToken,
    locked_until: t.lockedUntil,
    dequeue_count: t.dequeueCount,
    worker_id: t.workerId,
    origin: t.origin,
  };
}

function insertTasks(s: string, src: string): string {
  return `INSERT INTO ${s}.activity_tasks (instance_id, execution_id, task_scheduled_id, name, name_key, input, metadata, visible_at, lock_token, locked_until, dequeue_count, worker_id, origin)
        SELECT x.instance_id, x.execution_id, x.task_scheduled_id, x.name, x.name_key, x.input, x.metadata, x.visible_at, x.lock_token, x.locked_until, x.dequeue_count, x.worker_id, x.origin
        FROM ${src}`;
}

/**
 * Unleased activity tasks inserted on their own, in a batch's transaction before its statement: a
 * fan-out of many thousands goes in chunks instead of one parameter of all of them.
 */
export function bulkTaskInsert(s: string, tasks: readonly TaskRow[]): WriteStatement {
  return { name: `bulk-tasks:${s}`, text: insertTasks(s, `json_to_recordset($1::json) AS x(${TASK_RECORD})`), values: [JSON.stringify(tasks.map(taskRecord))] };
}

/** The write statement of `p`, or undefined when the batch writes no row. */
export function writeStatement(
  s: string,
  p: BatchPlanner,
  notify: { channel: string; payload: string | null },
  gate?: Gate,
  /**
   * Every other part writes only with the rows this part inserted: a start whose ID was taken
   * meanwhile writes nothing (its messages are matched by instance ID).
   */
  only?: "ic",
): WriteStatement | undefined {
  const due = p.newMessagesDue();
  const targets = p.targetPatches(due);
  const leasedMessages = p.messages.filter((m) => m.dequeueCount > 0);
  const plainMessages = leasedMessages.length > 0 ? p.messages.filter((m) => m.dequeueCount === 0) : p.messages;
  const consumed = p.consumedMessageIds;
  const parts: Part[] = [
    {
      name: "dm",
      rows: consumed.length > 0 ? ONE : [],
      scalars: [["bigint[]", consumed]],
      sql: (_, g, [ids]) => `DELETE FROM ${s}.messages WHERE id = ANY(${ids})${g}`,
    },
    {
      name: "dt",
      rows: p.deletedTaskIds.length > 0 ? ONE : [],
      scalars: [["bigint[]", p.deletedTaskIds]],
      sql: (_, g, [ids]) => `DELETE FROM ${s}.activity_tasks WHERE id = ANY(${ids})${g}`,
    },
    {
      name: "ih",
      rows: p.history.map((h) => ({ instance_id: h.instanceId, seq: h.seq, count: h.count, execution_id: h.executionId, events: h.events })),
      record: "instance_id text, seq int, count int, execution_id text, events text",
      sql: (src, g) => `INSERT INTO ${s}.history (instance_id, seq, count, execution_id, events)
        SELECT x.instance_id, x.seq, x.count, x.execution_id, x.events FROM ${src} WHERE true${g}`,
    },
    {
      // A step's own row: the step's update, the lease released, ready_at from the messages that
      // are left and those the batch adds.
      name: "uo",
      // Joined through an index on the IDs as well: a join with the recordset alone could be planned
      // (once, generically) as a scan of every instance.
      scalars: [["text[]", [...p.own.keys()]]],
      rows: [...p.own].map(([id, u]) => ({
        instance_id: id,
        name: u.name,
        name_key: u.nameKey,
        execution_id: u.executionId,
        status: u.runtimeStatus,
        input: u.input,
        output: u.output,
        custom_status: u.customStatus,
        failure: u.failureDetails,
        entity_state: u.entityState,
        updated: u.lastUpdatedAt,
        history_length: u.historyLength,
        affinity: u.affinity,
        due: due.get(id) ?? null,
        released: p.released.has(id),
      })),
      record:
        "instance_id text, name text, name_key text, execution_id text, status text, input text, output text, custom_status text, failure text, entity_state text, updated bigint, history_length int, affinity text, due bigint, released boolean",
      sql: (src, g, [ids]) => `UPDATE ${s}.instances i SET name = x.name, name_key = x.name_key, execution_id = x.execution_id, runtime_status = x.status,
          input = x.input, output = x.output, custom_status = x.custom_status, failure_details = x.failure, entity_state = x.entity_state,
          last_updated_at = x.updated, history_length = x.history_length, affinity = COALESCE(x.affinity, i.affinity),
          lock_token = NULL, locked_until = 0, worker_id = NULL, parked = NULL, wake_pending = false,
          ready_at = ${
            // A lease's step consumed messages: the earliest of those left. Its row was locked
            // before this statement, or (gated) is the version this statement's snapshot sees, so
            // no message sent to it is missing from that snapshot. Optimistic steps consume
            // nothing: the row's ready_at stays right as it is.
            g
              ? `CASE WHEN x.released THEN LEAST((SELECT min(m.visible_at) FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND NOT (m.id = ANY($$consumed))), x.due) ELSE LEAST(i.ready_at, x.due) END`
              : `LEAST((SELECT min(m.visible_at) FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND NOT (m.id = ANY($$consumed))), x.due)`
          }
        FROM ${src}
        WHERE i.instance_id = x.instance_id AND i.instance_id = ANY(${ids})${g}
        RETURNING i.instance_id, i.ready_at`,
      report: "SELECT 'r' AS k, instance_id AS v, ready_at::text AS w FROM uo",
    },
    {
      // A finished instance replaced by a new one (its old data was dropped before this statement).
      name: "ur",
      scalars: [["text[]", [...p.resets.keys()]]],
      rows: [...p.resets].map(([id, n]) => newRowRecord(id, n, due)),
      record: NEW_ROW_RECORD,
      sql: (src, g, [ids]) => `UPDATE ${s}.instances i SET kind = x.kind, name = x.name, name_key = x.name_key, execution_id = x.execution_id, runtime_status = x.status,
          input = x.input, output = NULL, custom_status = NULL, failure_details = NULL, parent_instance_id = x.parent, version = x.version, created_at = x.at,
          last_updated_at = x.at, history_length = 0, entity_state = NULL, parked = NULL, lock_token = NULL, locked_until = 0, worker_id = NULL,
          wake_pending = false, affinity = NULL, ready_at = x.due
        FROM ${src}
        WHERE i.instance_id = x.instance_id AND i.instance_id = ANY(${ids})${g}`,
    },
    {
      name: "ic",
      rows: [...p.creates].map(([id, n]) => newRowRecord(id, n, due)),
      record: NEW_ROW_RECORD,
      sql: (src, g) => `INSERT INTO ${s}.instances (instance_id, kind, name, name_key, execution_id, runtime_status, input, parent_instance_id, version, created_at, last_updated_at, ready_at, lock_token, locked_until, worker_id)
        SELECT x.instance_id, x.kind, x.name, x.name_key, x.execution_id, x.status, x.input, x.parent, x.version, x.at, x.at, x.due, x.lock_token, x.locked_until, x.worker_id
        FROM ${src}
        WHERE true${g}
        ON CONFLICT (instance_id) DO NOTHING RETURNING instance_id`,
      report: "SELECT 'c' AS k, instance_id AS v, NULL AS w FROM ic",
    },
    {
      name: "ut",
      scalars: [["text[]", targets.map((t) => t.instanceId)]],
      rows: targets.map((t) => ({ instance_id: t.instanceId, due: t.due, wake: t.wake, locked_until: t.lockedUntil, wake_pending: t.wakePending })),
      record: "instance_id text, due bigint, wake boolean, locked_until bigint, wake_pending boolean",
      // ready_at: the earliest message, but not before the end of a retry delay that goes on.
      sql: (src, g, [ids]) => `UPDATE ${s}.instances i SET ready_at = CASE WHEN LEAST(i.ready_at, x.due) IS NULL THEN NULL
            ELSE GREATEST(LEAST(i.ready_at, x.due), CASE WHEN i.lock_token IS NULL THEN (CASE WHEN x.wake THEN x.locked_until ELSE i.locked_until END) ELSE 0 END) END,
          locked_until = CASE WHEN x.wake THEN x.locked_until ELSE i.locked_until END,
          wake_pending = CASE WHEN x.wake THEN x.wake_pending ELSE i.wake_pending END
        FROM ${src}
        WHERE i.instance_id = x.instance_id AND i.instance_id = ANY(${ids})${g}`,
    },
    {
      name: "it",
      rows: p.tasks.map(taskRecord),
      record: TASK_RECORD,
      sql: (src, g) => `${insertTasks(s, src)} WHERE true${g} RETURNING id, lock_token`,
      report: "SELECT 't' AS k, id::text AS v, lock_token AS w FROM it WHERE lock_token IS NOT NULL",
    },
    {
      // The start messages of leased starts, handed out with their lease: counted as delivered once,
      // and their IDs reported for the work items.
      name: "iml",
      rows: leasedMessages.map((m) => ({ instance_id: m.instanceId, execution_id: m.executionId, event_type: m.type, event: m.event, visible_at: m.visibleAt, metadata: m.metadata })),
      record: "instance_id text, execution_id text, event_type text, event text, visible_at bigint, metadata text",
      sql: (src, g) => `INSERT INTO ${s}.messages (instance_id, execution_id, event_type, event, visible_at, metadata, dequeue_count)
        SELECT x.instance_id, x.execution_id, x.event_type, x.event, x.visible_at, x.metadata, 1
        FROM ${src}
        WHERE true${g}
        RETURNING instance_id, id`,
      report: "SELECT 'm' AS k, instance_id AS v, id::text AS w FROM iml",
    },
    {
      // In order: ids are the arrival order of an instance's messages.
      name: "im",
      rows: plainMessages.map((m) => ({ instance_id: m.instanceId, execution_id: m.executionId, event_type: m.type, event: m.event, visible_at: m.visibleAt, metadata: m.metadata })),
      record: "instance_id text, execution_id text, event_type text, event text, visible_at bigint, metadata text",
      sql: (src, g) => `INSERT INTO ${s}.messages (instance_id, execution_id, event_type, event, visible_at, metadata)
        SELECT x.instance_id, x.execution_id, x.event_type, x.event, x.visible_at, x.metadata
        FROM ROWS FROM (${src.replace(/ AS x\((.*)\)$/, " AS ($1)")}) WITH ORDINALITY AS x(instance_id, execution_id, event_type, event, visible_at, metadata, n)
        WHERE true${g}
        ORDER BY x.n`,
    },
    {
      // Delivered at COMMIT (and dropped with a rollback), so other hosts never look too early.
      name: "nt",
      rows: notify.payload !== null ? ONE : [],
      scalars: [
        ["text", notify.channel],
        ["text", notify.payload],
      ],
      sql: (_, g, [channel, payload]) => `SELECT pg_notify(${channel}, ${payload}) WHERE true${g}`,
      report: "SELECT 'n' AS k, NULL AS v, NULL AS w FROM nt",
    },
  ];
  const used = parts.filter((x) => x.rows.length > 0);
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
    const instances = param(
      JSON.stringify(gate.instances.map((i) => ({ instance_id: i.instanceId, execution_id: i.executionId, history_length: i.historyLength, lock_token: i.lockToken ?? null, status: i.runtimeStatus ?? null }))),
      "json",
    );
    const tasks = param(JSON.stringify(gate.tasks.map((t) => ({ id: t.id, lock_token: t.lockToken }))), "json");
    const ids = param(gate.instances.map((i) => i.instanceId), "text[]");
    ctes.push(`f AS (SELECT i.instance_id, i.runtime_status FROM ${s}.instances i
        JOIN json_to_recordset(${instances}) AS x(instance_id text, execution_id text, history_length int, lock_token text, status text) ON i.instance_id = x.instance_id
        WHERE i.instance_id = ANY(${ids}) AND i.execution_id = x.execution_id AND i.history_length = x.history_length
          AND CASE WHEN x.lock_token IS NULL THEN i.locked_until <= LEAST(${param(gate.now, "bigint")}, (extract(epoch FROM statement_timestamp()) * 1000)::bigint)
            ELSE i.lock_token = x.lock_token AND i.runtime_status = x.status
              AND i.ctid = (SELECT v.ctid FROM ${s}.instances v WHERE v.instance_id = x.instance_id) END
        ORDER BY i.instance_id FOR UPDATE OF i)`);
    ctes.push(`ft AS (SELECT t.id FROM ${s}.activity_tasks t
        JOIN json_to_recordset(${tasks}) AS x(id bigint, lock_token text) ON t.id = x.id AND t.lock_token = x.lock_token
        WHERE t.id = ANY(${param(gate.tasks.map((t) => t.id), "bigint[]")})
        ORDER BY t.id FOR UPDATE OF t)`);
    ctes.push(`ok AS (SELECT (SELECT count(*) FROM f) = ${param(gate.instances.length, "int")} AND (SELECT count(*) FROM ft) = ${param(gate.tasks.length, "int")} AS ok)`);
    reports.push("SELECT 'ok' AS k, ok::text AS v, NULL AS w FROM ok", "SELECT 's' AS k, instance_id AS v, runtime_status AS w FROM f");
    g = " AND (SELECT ok FROM ok)";
  }
  for (const part of used) {
    const scalars = (part.scalars ?? []).map(([type, v]) => param(v, type));
    const src = part.record ? `json_to_recordset(${param(JSON.stringify(part.rows), "json")}) AS x(${part.record})` : "";
    if (part.name === "uo") consumedParam = param(consumed, "bigint[]");
    // With `only`, a message goes in with its own instance's row, everything else with any row.
    const condition = !only || part.name === only ? g : part.name === "im" || part.name === "iml" ? `${g} AND x.instance_id IN (SELECT instance_id FROM ${only})` : `${g} AND EXISTS (SELECT 1 FROM ${only})`;
    ctes.push(`${part.name} AS (${part.sql(src, condition, scalars).replace("$$consumed", consumedParam)})`);
    if (part.report) reports.push(part.report);
  }
  const select = reports.length > 0 ? reports.join(" UNION ALL ") : "SELECT NULL::text AS k, NULL::text AS v, NULL::text AS w WHERE false";
  const shape = `${gate ? "gated:" : ""}${only ? `only-${only}:` : ""}${used.map((x) => x.name).join("+")}`;
  return { name: `write:${s}:${shape}`, text: `WITH ${ctes.join(",\n")}\n${select}`, values };
}

/** A row a write statement reports back: `k` names the part (see each part's `report`). */
export interface ReportRow {
  k: string | null;
  v: string | null;
  w: string | null;
}

/** What a write statement's report rows say, by the part that reported them. */
export interface WriteReport {
  /** `ok`: a gated statement's gate held, so it wrote. */
  ok: boolean;
  /** `c`: the instances whose rows it created. */
  created: Set<string>;
  /** `s`: a gated statement's instances, with their status before it. */
  statusBefore: Map<string, string>;
  /** `t`: the IDs of the activity tasks it leased, by lock token. */
  taskIds: Map<string, number>;
  /** `m`: the start message of each leased start, by instance. */
  startMessageIds: Map<string, number>;
  /** `r`: the instances whose lease it released, with the time their next message is ready. */
  released: Map<string, number>;
}

export function readReport(rows: readonly ReportRow[]): WriteReport {
  const report: WriteReport = { ok: false, created: new Set(), statusBefore: new Map(), taskIds: new Map(), startMessageIds: new Map(), released: new Map() };
  for (const { k, v, w } of rows) {
    if (k === "ok") report.ok = v === "true";
    else if (v === null) continue;
    else if (k === "c") report.created.add(v);
    else if (w === null) continue;
    else if (k === "s") report.statusBefore.set(v, w);
    else if (k === "t") report.taskIds.set(w, Number(v));
    else if (k === "m") report.startMessageIds.set(v, Number(w));
    else if (k === "r") report.released.set(v, Number(w));
  }
  return report;
}
