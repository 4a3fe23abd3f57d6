import { TERMINAL_STATUSES } from "../../core/status.js";
import { PAYLOAD_CODEC } from "../payloads.js";

/**
 * The provider's statements for one schema (`s` is the quoted schema name). Every value is a bind
 * parameter; only the schema name, validated and quoted, is part of the text. Statements that run on
 * every step carry a `name`, so each connection parses and plans them once.
 *
 * Time: `$now` is the caller's clock; whatever decides that something is due (a message visible, a
 * lease or retry delay over) compares with the smaller of it and the database's own clock, so a host
 * whose clock runs ahead can never fire a timer or take over a lease early.
 */
export function statements(s: string) {
  const dbNow = "(extract(epoch FROM statement_timestamp()) * 1000)::bigint";
  const cap = (p: string): string => `LEAST(${p}::bigint, ${dbNow})`;
  const terminal = `(${TERMINAL_STATUSES.map((x) => `'${x}'`).join(", ")})`;
  // core's processableWithoutCode, on a message `m` of instance `i`.
  const withoutCode = `(m.event_type = 'ExecutionTerminated' OR (i.runtime_status IN ${terminal} AND m.event_type <> 'ExecutionRewound'))`;
  const instanceColumns =
    "i.instance_id, i.kind, i.name, i.execution_id, i.runtime_status, i.input, i.output, i.custom_status, i.failure_details, i.parent_instance_id, i.version, i.created_at, i.last_updated_at, i.history_length, i.entity_state, i.parked, i.lock_token, i.locked_until";

  return {
    dbNow: `SELECT ${dbNow} AS now`,
    getInstance: `SELECT ${instanceColumns} FROM ${s}.instances i WHERE i.instance_id = $1`,
    history: `SELECT seq, events FROM ${s}.history WHERE instance_id = $1 ORDER BY seq`,
    /** The steps that hold events from position $2 on, up to position $3 (exclusive; NULL: all). */
    historyPage: `SELECT seq, events FROM ${s}.history WHERE instance_id = $1 AND seq + count > $2 AND ($3::int IS NULL OR seq < $3) ORDER BY seq`,
    historyOf: `SELECT instance_id, events FROM ${s}.history WHERE instance_id = ANY($1::text[]) ORDER BY instance_id, seq`,

    /**
     * Claims up to $8 ready instances for worker $5 and hands out their visible messages, counting the
     * delivery, in one statement. Parameters: $1 now, $2 any function, $3 orchestration names,
     * $4 entity names, $5 worker, $6 affinity grace ms, $7 host liveness ms, $8 max, $9 lease expiry.
     * An instance sticks to the host it last ran on while that host is alive and picks it up within
     * the grace. Oldest ready first, along the ready_at index: no sort, however many are ready.
     */
    claim: {
      name: `claim:${s}`,
      // Rows are found by index and joined by arrays of IDs, so the plan (generic: prepared once per
      // connection) never scans a table, however many instances it holds.
      text: `
        WITH c AS (
          SELECT i.instance_id, i.lock_token AS prev FROM ${s}.instances i
          WHERE i.ready_at <= ${cap("$1")} AND i.locked_until <= ${cap("$1")}
            AND ($2::boolean
              OR (i.kind = 'orchestration' AND i.name_key = ANY($3::text[]))
              OR (i.kind = 'entity' AND i.name_key = ANY($4::text[]))
              OR EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND m.visible_at <= ${cap("$1")} AND ${withoutCode}))
            AND (i.affinity IS NULL OR i.affinity = $5 OR i.ready_at <= ${cap("$1")} - $6::bigint
              OR NOT EXISTS (SELECT 1 FROM ${s}.hosts h WHERE h.worker_id = i.affinity AND h.heartbeat_at > ${cap("$1")} - $7::bigint))
            -- The row as this statement's snapshot sees it: a version written after the snapshot was
            -- taken (the lock re-reads the newest) may come with messages the snapshot cannot see,
            -- and the item would go out without them. Such a row waits for the next claim.
            AND i.ctid = (SELECT v.ctid FROM ${s}.instances v WHERE v.instance_id = i.instance_id)
          ORDER BY i.ready_at
          LIMIT $8
          FOR UPDATE OF i SKIP LOCKED
        ),
        u AS (
          UPDATE ${s}.instances i SET lock_token = gen_random_uuid()::text, locked_until = $9::bigint, worker_id = $5
          WHERE i.instance_id = ANY(ARRAY(SELECT instance_id FROM c))
          RETURNING ${instanceColumns}
        ),
        m AS (
          UPDATE ${s}.messages m SET dequeue_count = m.dequeue_count + 1
          WHERE m.instance_id = ANY(ARRAY(SELECT instance_id FROM u)) AND m.visible_at <= ${cap("$1")}
          RETURNING m.instance_id, m.id, m.execution_id, m.event, m.metadata, m.dequeue_count
        )
        SELECT u.*, c.prev IS NOT NULL AS takeover, g.ids, g.execs, g.events, g.metas, g.counts
        FROM u JOIN c ON c.instance_id = u.instance_id
        LEFT JOIN (
          SELECT instance_id, array_agg(id ORDER BY id) AS ids, array_agg(execution_id ORDER BY id) AS execs, array_agg(event ORDER BY id) AS events,
                 array_agg(metadata ORDER BY id) AS metas, array_agg(dequeue_count ORDER BY id) AS counts
          FROM m GROUP BY instance_id) g ON g.instance_id = u.instance_id`,
    },

    /**
     * Claims up to $5 visible activity tasks for worker $4: $1 now, $2 any function, $3 names,
     * $6 lease expiry, $7 affinity grace ms. The candidates come from two index scans: the tasks this
     * worker scheduled, and those visible for longer than the grace (anyone's by then).
     */
    claimTasks: {
      name: `claim-tasks:${s}`,
      text: `
        WITH c AS (
          SELECT id FROM ${s}.activity_tasks
          WHERE id = ANY(ARRAY(
              (SELECT id FROM ${s}.activity_tasks WHERE origin = $4 AND visible_at <= ${cap("$1")} AND locked_until <= ${cap("$1")} ORDER BY id LIMIT $5 * 2)
              UNION ALL
              (SELECT id FROM ${s}.activity_tasks WHERE visible_at <= ${cap("$1")} - $7::bigint AND locked_until <= ${cap("$1")} ORDER BY visible_at, id LIMIT $5 * 2)))
            AND visible_at <= ${cap("$1")} AND locked_until <= ${cap("$1")} AND ($2::boolean OR name_key = ANY($3::text[]))
          ORDER BY id LIMIT $5
          FOR UPDATE SKIP LOCKED
        )
        UPDATE ${s}.activity_tasks a SET lock_token = gen_random_uuid()::text, locked_until = $6::bigint, worker_id = $4, dequeue_count = a.dequeue_count + 1
        WHERE a.id = ANY(ARRAY(SELECT id FROM c))
        RETURNING a.id, a.instance_id, a.execution_id, a.task_scheduled_id, a.name, a.input, a.metadata, a.lock_token, a.locked_until, a.dequeue_count`,
    },

    /**
     * Locks the rows a batch touches, instances in ascending ID order, then the activity tasks whose
     * results it records, and reads what the batch decides on. $1 instance IDs, $2 task IDs.
     */
    lockRows: {
      name: `lock-rows:${s}`,
      text: `
        SELECT 'i' AS k, i.instance_id AS id, i.kind, i.runtime_status, i.lock_token, i.locked_until, i.history_length, i.execution_id, NULL::bigint AS db_now
        FROM (SELECT instance_id, kind, runtime_status, lock_token, locked_until, history_length, execution_id FROM ${s}.instances
              WHERE instance_id = ANY($1::text[]) ORDER BY instance_id FOR UPDATE) i
        UNION ALL
        SELECT 't', t.id::text, NULL, NULL, t.lock_token, NULL, NULL, NULL, NULL
        FROM (SELECT id, lock_token FROM ${s}.activity_tasks WHERE id = ANY($2::bigint[]) ORDER BY id FOR UPDATE) t
        UNION ALL
        SELECT 'n', NULL, NULL, NULL, NULL, NULL, NULL, NULL, ${dbNow}`,
    },

    /** What a replace or a new history drops first: $1 instances whose history goes, $2 whose messages and tasks go. */
    dropData: {
      name: `drop-data:${s}`,
      text: `
        WITH h AS (DELETE FROM ${s}.history WHERE instance_id = ANY($1::text[])),
        m AS (DELETE FROM ${s}.messages WHERE instance_id = ANY($2::text[]))
        DELETE FROM ${s}.activity_tasks WHERE instance_id = ANY($2::text[])`,
    },

    /** Entities left with nothing to do after a batch ($1): deleted when no message waits for them. */
    deleteIdle: {
      name: `delete-idle:${s}`,
      text: `
        WITH del AS (
          DELETE FROM ${s}.instances i WHERE i.instance_id = ANY($1::text[])
            AND NOT EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.instance_id = i.instance_id)
          RETURNING i.instance_id),
        dh AS (DELETE FROM ${s}.history h USING del WHERE h.instance_id = del.instance_id),
        dp AS (DELETE FROM ${s}.payloads p USING del WHERE p.instance_id = del.instance_id)
        DELETE FROM ${s}.activity_tasks k USING del WHERE k.instance_id = del.instance_id`,
    },

    /** Payload rows ($1 instance, $2 key, $3 bytes, $4 data), each inserted unless present. */
    insertPayloads: {
      name: `insert-payloads:${s}`,
      text: `
        INSERT INTO ${s}.payloads (instance_id, key, codec, bytes, data)
        SELECT id, k, '${PAYLOAD_CODEC}', b, d FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[]) AS x(id, k, b, d)
        ON CONFLICT (instance_id, key) DO NOTHING`,
    },
    /** The payload rows ($1 instance, $2 key) a read refers to. */
    payloads: {
      name: `payloads:${s}`,
      text: `SELECT p.instance_id, p.key, p.data FROM ${s}.payloads p JOIN unnest($1::text[], $2::text[]) AS w(id, k) ON p.instance_id = w.id AND p.key = w.k`,
    },
    /**
     * The payloads of instances $1 that none of their rows refers to any more. References are found
     * in the rows' text, not by parsing it as jsonb (which refuses text holding \u0000 that JSON
     * allows); a payload's text is escaped in its row, so a match is a reference, and a look-alike
     * would only keep a payload longer.
     */
    sweepPayloads: {
      name: `sweep-payloads:${s}`,
      text: `
        WITH refs AS MATERIALIZED (
          SELECT h.instance_id AS id, r[1] AS k FROM ${s}.history h
            CROSS JOIN LATERAL regexp_matches(h.events, '#payload:([A-Za-z0-9_-]{32})', 'g') AS r
            WHERE h.instance_id = ANY($1::text[]) AND strpos(h.events, '#payload:') > 0
          UNION ALL
          SELECT m.instance_id, r[1] FROM ${s}.messages m
            CROSS JOIN LATERAL regexp_matches(m.event, '#payload:([A-Za-z0-9_-]{32})', 'g') AS r
            WHERE m.instance_id = ANY($1::text[]) AND strpos(m.event, '#payload:') > 0
          UNION ALL
          SELECT instance_id, substr(input, 10) FROM ${s}.activity_tasks WHERE instance_id = ANY($1::text[]) AND input LIKE '#payload:%'
          UNION ALL
          SELECT i.instance_id, substr(v, 10) FROM ${s}.instances i
            CROSS JOIN LATERAL (VALUES (i.input), (i.output), (i.custom_status), (i.entity_state)) AS f(v)
            WHERE i.instance_id = ANY($1::text[]) AND v LIKE '#payload:%')
        DELETE FROM ${s}.payloads p WHERE p.instance_id = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.id = p.instance_id AND r.k = p.key)`,
    },
    /** Payload rows of instances $1 that do not exist (written for a message that was dropped or refused). */
    dropOrphanPayloads: {
      name: `drop-orphan-payloads:${s}`,
      text: `DELETE FROM ${s}.payloads p WHERE p.instance_id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM ${s}.instances i WHERE i.instance_id = p.instance_id)`,
    },

    /** Releases lease $2 of instance $1: lockable again at $4 (at $3 when a wake arrived meanwhile), with park record $5. */
    abandon: `
      UPDATE ${s}.instances SET lock_token = NULL, worker_id = NULL, locked_until = CASE WHEN wake_pending THEN $3::bigint ELSE $4::bigint END,
        ready_at = CASE WHEN ready_at IS NULL THEN NULL ELSE GREATEST(ready_at, CASE WHEN wake_pending THEN $3::bigint ELSE $4::bigint END) END,
        wake_pending = false, parked = COALESCE($5, parked)
      WHERE instance_id = $1 AND lock_token = $2
      RETURNING locked_until`,
    renew: `
      WITH l AS (SELECT instance_id FROM ${s}.instances i JOIN unnest($1::text[], $2::text[]) AS x(id, token) ON i.instance_id = x.id AND i.lock_token = x.token
                 WHERE i.instance_id = ANY($1::text[]) ORDER BY i.instance_id FOR UPDATE OF i)
      UPDATE ${s}.instances i SET locked_until = $3 WHERE i.instance_id = ANY(ARRAY(SELECT instance_id FROM l)) RETURNING i.instance_id AS k`,
    abandonTask: `UPDATE ${s}.activity_tasks SET lock_token = NULL, locked_until = 0, worker_id = NULL, visible_at = $3 WHERE id = $1 AND lock_token = $2`,
    renewTasks: `
      WITH l AS (SELECT a.id FROM ${s}.activity_tasks a JOIN unnest($1::bigint[], $2::text[]) AS x(id, token) ON a.id = x.id AND a.lock_token = x.token
                 WHERE a.id = ANY($1::bigint[]) ORDER BY a.id FOR UPDATE OF a)
      UPDATE ${s}.activity_tasks a SET locked_until = $3 WHERE a.id = ANY(ARRAY(SELECT id FROM l)) RETURNING a.id AS k`,

    // A retry delay's end is in ready_at (the instance's messages may be visible already).
    /** The backlog at $1 (metrics): ready instances by kind, ready activity tasks, parked instances. */
    workCounts: `
      SELECT i.kind AS k, count(*)::int AS n FROM ${s}.instances i
        WHERE i.ready_at <= $1 AND i.locked_until <= $1
          AND EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND m.visible_at <= $1)
        GROUP BY i.kind
      UNION ALL SELECT 'activity', count(*)::int FROM ${s}.activity_tasks WHERE visible_at <= $1 AND locked_until <= $1
      UNION ALL SELECT 'parked', count(*)::int FROM ${s}.instances WHERE parked IS NOT NULL`,
    nextVisible: `
      SELECT LEAST(
        (SELECT min(visible_at) FROM ${s}.messages WHERE visible_at > $1),
        (SELECT min(ready_at) FROM ${s}.instances WHERE ready_at > $1),
        (SELECT min(visible_at) FROM ${s}.activity_tasks WHERE visible_at > $1)) AS t`,
    strandedInstances: `
      SELECT i.instance_id, i.kind, i.name FROM ${s}.instances i
      WHERE i.ready_at <= $1 AND i.locked_until <= ${cap("$2")}
        AND NOT ((i.kind = 'orchestration' AND i.name_key = ANY($3::text[])) OR (i.kind = 'entity' AND i.name_key = ANY($4::text[])))
        AND EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.instance_id = i.instance_id AND m.visible_at <= $1 AND NOT ${withoutCode})
      LIMIT $5`,
    strandedTasks: `
      SELECT instance_id, name FROM ${s}.activity_tasks
      WHERE visible_at <= $1 AND locked_until <= ${cap("$2")} AND NOT (name_key = ANY($3::text[]))
      LIMIT $4`,
    markParked: `UPDATE ${s}.instances SET parked = $1 WHERE instance_id = $2 AND parked IS NULL AND locked_until <= ${cap("$3")}`,

    lockForPurge: `SELECT instance_id FROM ${s}.instances WHERE instance_id = ANY($1::text[]) ORDER BY instance_id FOR UPDATE`,
    purgeRows: `
      WITH h AS (DELETE FROM ${s}.history WHERE instance_id = ANY($1::text[])),
      m AS (DELETE FROM ${s}.messages WHERE instance_id = ANY($1::text[])),
      t AS (DELETE FROM ${s}.activity_tasks WHERE instance_id = ANY($1::text[])),
      p AS (DELETE FROM ${s}.payloads WHERE instance_id = ANY($1::text[]))
      DELETE FROM ${s}.instances WHERE instance_id = ANY($1::text[])`,
    purgeCandidates: `
      SELECT instance_id FROM ${s}.instances WHERE runtime_status = ANY($1::text[])
        AND ($2::bigint IS NULL OR created_at >= $2) AND ($3::bigint IS NULL OR created_at <= $3)
        -- A finished instance was created before it last changed: the created_at bound lets the
        -- (runtime_status, created_at) index narrow retention's scan, with no index on
        -- last_updated_at (which every step writes).
        AND ($4::bigint IS NULL OR (created_at <= $4 AND last_updated_at <= $4))
      -- No ORDER BY: SKIP LOCKED never waits, so no lock order is needed, and an order the index
      -- does not give would sort every remaining candidate for each batch.
      LIMIT $5 FOR UPDATE SKIP LOCKED`,

    heartbeat: `
      INSERT INTO ${s}.hosts (worker_id, hostname, pid, started_at, heartbeat_at, info) VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, info = EXCLUDED.info`,
    removeHost: `DELETE FROM ${s}.hosts WHERE worker_id = $1`,
  };
}

export type Statements = ReturnType<typeof statements>;
