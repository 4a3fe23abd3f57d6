/**
 * Ordered, append-only schema migrations. Never edit a released entry: add the next version.
 * Each runs in one transaction together with the bump of schema_version.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "instances, history, inbox messages (timers are delayed messages), activity tasks",
    sql: `
      CREATE TABLE instances (
        instance_id        TEXT PRIMARY KEY,
        name               TEXT NOT NULL,
        execution_id       TEXT NOT NULL,
        runtime_status     TEXT NOT NULL,
        input              TEXT,
        output             TEXT,
        custom_status      TEXT,
        failure_details    TEXT,
        parent_instance_id TEXT,
        created_at         INTEGER NOT NULL,
        last_updated_at    INTEGER NOT NULL,
        history_length     INTEGER NOT NULL DEFAULT 0,
        lock_token         TEXT,
        locked_until       INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX instances_by_created ON instances (created_at, instance_id);
      CREATE INDEX instances_by_status ON instances (runtime_status, created_at);

      CREATE TABLE history (
        instance_id  TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        execution_id TEXT NOT NULL,
        event_type   TEXT NOT NULL,
        event        TEXT NOT NULL,
        PRIMARY KEY (instance_id, seq)
      ) WITHOUT ROWID;

      CREATE TABLE messages (
        id           INTEGER PRIMARY KEY, -- new rows get max(id)+1, so id order is arrival order; no AUTOINCREMENT page write
        instance_id  TEXT NOT NULL,
        execution_id TEXT,
        event_type   TEXT NOT NULL,
        event        TEXT NOT NULL,
        visible_at   INTEGER NOT NULL
      );
      CREATE INDEX messages_by_instance ON messages (instance_id, id);
      CREATE INDEX messages_by_visible ON messages (visible_at);

      CREATE TABLE activity_tasks (
        id                INTEGER PRIMARY KEY,
        instance_id       TEXT NOT NULL,
        execution_id      TEXT NOT NULL,
        task_scheduled_id INTEGER NOT NULL,
        name              TEXT NOT NULL,
        input             TEXT,
        visible_at        INTEGER NOT NULL,
        lock_token        TEXT,
        locked_until      INTEGER NOT NULL DEFAULT 0,
        dequeue_count     INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX activity_tasks_by_instance ON activity_tasks (instance_id);
      CREATE INDEX activity_tasks_by_visible ON activity_tasks (visible_at);
    `,
  },
  {
    version: 2,
    description: "durable entities: the entity record on the instance row",
    sql: `ALTER TABLE instances ADD COLUMN entity_state TEXT;`,
  },
  {
    version: 3,
    description: "provider contract v2: stored kind and name key, lease owner, park record, dequeue counts, metadata",
    sql: `
      ALTER TABLE instances ADD COLUMN kind TEXT NOT NULL DEFAULT 'orchestration';
      UPDATE instances SET kind = 'entity' WHERE substr(instance_id, 1, 1) = '@';
      ALTER TABLE instances ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
      UPDATE instances SET name_key = lower(name);
      ALTER TABLE instances ADD COLUMN worker_id TEXT;
      ALTER TABLE instances ADD COLUMN parked TEXT;
      -- A terminate or rewind that arrived while the instance was leased: its release skips the retry delay.
      ALTER TABLE instances ADD COLUMN wake_pending INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX instances_by_kind_name ON instances (kind, name_key, created_at);
      -- Parked instances wait for their retry time: the worker asks for the next one.
      CREATE INDEX instances_by_retry ON instances (locked_until) WHERE lock_token IS NULL AND locked_until > 0;

      ALTER TABLE messages ADD COLUMN dequeue_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE messages ADD COLUMN metadata TEXT;

      ALTER TABLE activity_tasks ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
      UPDATE activity_tasks SET name_key = lower(name);
      ALTER TABLE activity_tasks ADD COLUMN metadata TEXT;
    `,
  },
  {
    version: 4,
    description: "hosts: a heartbeat per host, which is also the probe that the store can be written",
    sql: `
      CREATE TABLE hosts (
        worker_id    TEXT PRIMARY KEY,
        hostname     TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        info         TEXT
      );
    `,
  },
  {
    version: 5,
    description: "timer triggers: the last occurrence of each timer function claimed by a host, under a lease until its run is done (once per occurrence across hosts; a run interrupted by a host's death is taken over)",
    sql: `
      CREATE TABLE timer_occurrences (
        name_key        TEXT PRIMARY KEY,
        last_occurrence INTEGER NOT NULL,
        done_occurrence INTEGER,
        worker_id       TEXT NOT NULL,
        claimed_at      INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    description: "instances.version: the orchestration version each instance was started with, shown in status and filterable in queries (existing instances read it from their ExecutionStarted event)",
    sql: `
      ALTER TABLE instances ADD COLUMN version TEXT;
      -- A running or finished instance has its ExecutionStarted in history; a pending one only in its inbox.
      UPDATE instances SET version = COALESCE(
        (SELECT json_extract(h.event, '$.version') FROM history h
          WHERE h.instance_id = instances.instance_id AND h.event_type = 'ExecutionStarted' ORDER BY h.seq LIMIT 1),
        (SELECT json_extract(m.event, '$.version') FROM messages m
          WHERE m.instance_id = instances.instance_id AND m.event_type = 'ExecutionStarted' ORDER BY m.id LIMIT 1))
      WHERE kind = 'orchestration';
      UPDATE instances SET version = NULL WHERE version = '';
    `,
  },
  {
    version: 7,
    description: "payloads: inputs, outputs, event data, custom status and entity state from 32 KiB on, compressed, one row per instance and content; the rows that use them hold a reference",
    sql: `
      -- A rowid table: payload rows are large, and SQLite keeps large rows best out of a WITHOUT ROWID b-tree.
      CREATE TABLE payloads (
        instance_id TEXT NOT NULL,
        key         TEXT NOT NULL,
        codec       TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        data        BLOB NOT NULL
      );
      CREATE UNIQUE INDEX payloads_by_instance ON payloads (instance_id, key);
    `,
  },
  {
    version: 8,
    description: "history: a rowid table with an index on (instance_id, seq), so a step's events are appended at the table's end instead of splitting the pages of a clustered key",
    sql: `
      -- A WITHOUT ROWID b-tree has no append path: a step's rows filled their leaf and rebalanced it
      -- with its siblings and parent nearly every step (3-4 pages written per commit). A rowid table
      -- appends at its last page, and the index's small entries seldom split: about 2 pages.
      CREATE TABLE history_v8 (
        id           INTEGER PRIMARY KEY,
        instance_id  TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        execution_id TEXT NOT NULL,
        event_type   TEXT NOT NULL,
        event        TEXT NOT NULL
      );
      INSERT INTO history_v8 (instance_id, seq, execution_id, event_type, event)
        SELECT instance_id, seq, execution_id, event_type, event FROM history ORDER BY instance_id, seq;
      DROP TABLE history;
      ALTER TABLE history_v8 RENAME TO history;
      CREATE UNIQUE INDEX history_by_instance ON history (instance_id, seq);
    `,
  },
];
