/**
 * Ordered, append-only schema migrations of the PostgreSQL store. Never edit a released entry: add the
 * next version. `{s}` stands for the quoted schema name. Each runs in one transaction, under the
 * store's advisory lock, together with its row in schema_version.
 *
 * Instance IDs sort bytewise (COLLATE "C"), whatever the database's collation: the lock order and
 * the paging order must not depend on it.
 *
 * Times are bigint milliseconds since the epoch, as everywhere in the provider contract; event and
 * payload columns are the JSON text the engine wrote, stored as text so that what comes back is
 * byte for byte what went in.
 */
export interface PgMigration {
  version: number;
  description: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: "instances, history, inbox messages (timers are delayed messages), activity tasks, hosts",
    sql: `
      CREATE TABLE {s}.instances (
        instance_id        text COLLATE "C" PRIMARY KEY,
        kind               text NOT NULL,
        name               text NOT NULL,
        name_key           text NOT NULL,
        execution_id       text NOT NULL,
        runtime_status     text NOT NULL,
        input              text,
        output             text,
        custom_status      text,
        failure_details    text,
        parent_instance_id text,
        created_at         bigint NOT NULL,
        last_updated_at    bigint NOT NULL,
        history_length     integer NOT NULL DEFAULT 0,
        entity_state       text,
        parked             text,
        -- The lease: a random token, its expiry and its holder; a retry delay when no token is set.
        lock_token         text,
        locked_until       bigint NOT NULL DEFAULT 0,
        worker_id          text,
        -- A terminate or rewind that arrived while the instance was leased: its release skips the retry delay.
        wake_pending       boolean NOT NULL DEFAULT false,
        -- When the instance next has something to do (NULL: no message): the earliest visible_at of
        -- its messages, or the end of its retry delay if that is later. Kept by every write of its
        -- messages under the row lock, so finding ready instances reads one index; the lease
        -- columns are in no index, so taking and releasing a lease can stay a HOT update.
        ready_at           bigint,
        -- The host whose executor cache holds the instance: it gets first pick while it is alive.
        affinity           text
      ) WITH (fillfactor = 60); -- room on the page, so a step's update of the row can stay HOT
      CREATE INDEX instances_ready ON {s}.instances (ready_at) WHERE ready_at IS NOT NULL;
      CREATE INDEX instances_by_created ON {s}.instances (created_at, instance_id);
      CREATE INDEX instances_by_status ON {s}.instances (runtime_status, created_at);
      CREATE INDEX instances_by_kind_name ON {s}.instances (kind, name_key, created_at);

      -- One row per step: the events it appended (a JSON array), from position seq on.
      CREATE TABLE {s}.history (
        instance_id  text COLLATE "C" NOT NULL,
        seq          integer NOT NULL,
        count        integer NOT NULL,
        execution_id text NOT NULL,
        events       text NOT NULL,
        PRIMARY KEY (instance_id, seq)
      );

      CREATE TABLE {s}.messages (
        -- Arrival order: messages to one instance are inserted under its row lock, so their ids
        -- are in commit order.
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        instance_id   text COLLATE "C" NOT NULL,
        execution_id  text,
        event_type    text NOT NULL,
        event         text NOT NULL,
        visible_at    bigint NOT NULL,
        dequeue_count integer NOT NULL DEFAULT 0,
        metadata      text
      ) WITH (fillfactor = 80);
      CREATE INDEX messages_by_instance ON {s}.messages (instance_id, visible_at);
      CREATE INDEX messages_by_visible ON {s}.messages (visible_at);

      CREATE TABLE {s}.activity_tasks (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        instance_id       text COLLATE "C" NOT NULL,
        execution_id      text NOT NULL,
        task_scheduled_id integer NOT NULL,
        name              text NOT NULL,
        name_key          text NOT NULL,
        input             text,
        metadata          text,
        visible_at        bigint NOT NULL,
        lock_token        text,
        locked_until      bigint NOT NULL DEFAULT 0,
        worker_id         text,
        dequeue_count     integer NOT NULL DEFAULT 0,
        -- The host that scheduled it (and holds the orchestration's executor): it gets first pick.
        origin            text
      ) WITH (fillfactor = 50); -- short-lived rows, leased once or twice: keep those updates HOT
      CREATE INDEX activity_tasks_by_instance ON {s}.activity_tasks (instance_id);
      CREATE INDEX activity_tasks_by_visible ON {s}.activity_tasks (visible_at);
      CREATE INDEX activity_tasks_by_origin ON {s}.activity_tasks (origin, id);

      -- Hosts that share the store: a heartbeat each, for affinity and for operators.
      CREATE TABLE {s}.hosts (
        worker_id    text PRIMARY KEY,
        hostname     text NOT NULL,
        pid          integer NOT NULL,
        started_at   bigint NOT NULL,
        heartbeat_at bigint NOT NULL,
        info         text
      );
    `,
  },
  {
    version: 2,
    description: "activity tasks ordered by visible time and ID in the index (a claim no longer sorts every visible task)",
    sql: `
      CREATE INDEX activity_tasks_by_visible_id ON {s}.activity_tasks (visible_at, id);
      DROP INDEX {s}.activity_tasks_by_visible;
    `,
  },
  {
    version: 3,
    description: "timer triggers: the last occurrence of each timer function claimed by a host, under a lease until its run is done (once per occurrence across hosts; a run interrupted by a host's death is taken over)",
    sql: `
      CREATE TABLE {s}.timer_occurrences (
        name_key        text COLLATE "C" PRIMARY KEY,
        last_occurrence bigint NOT NULL,
        done_occurrence bigint,
        worker_id       text NOT NULL,
        claimed_at      bigint NOT NULL,
        lease_until     bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "instances.version: the orchestration version each instance was started with, shown in status and filterable in queries (existing instances read it from their ExecutionStarted event)",
    sql: `
      ALTER TABLE {s}.instances ADD COLUMN version text;
      -- A running or finished instance has its ExecutionStarted in its first history step; a pending one only in its inbox.
      UPDATE {s}.instances i SET version = COALESCE(
        (SELECT jsonb_path_query_first(h.events::jsonb, '$[*] ? (@.type == "ExecutionStarted").version') #>> '{}' FROM {s}.history h
          WHERE h.instance_id = i.instance_id ORDER BY h.seq LIMIT 1),
        (SELECT m.event::jsonb ->> 'version' FROM {s}.messages m
          WHERE m.instance_id = i.instance_id AND m.event_type = 'ExecutionStarted' ORDER BY m.id LIMIT 1))
      WHERE i.kind = 'orchestration';
      UPDATE {s}.instances SET version = NULL WHERE version = '';
    `,
  },
  {
    version: 5,
    description: "payloads: inputs, outputs, event data, custom status and entity state from 32 KiB on, compressed, one row per instance and content; the rows that use them hold a reference",
    sql: `
      CREATE TABLE {s}.payloads (
        instance_id text COLLATE "C" NOT NULL,
        key         text COLLATE "C" NOT NULL,
        codec       text NOT NULL,
        bytes       integer NOT NULL,
        data        bytea NOT NULL,
        PRIMARY KEY (instance_id, key)
      );
      -- Compressed already: storing the bytes as they are spares the server compressing them again.
      ALTER TABLE {s}.payloads ALTER COLUMN data SET STORAGE EXTERNAL;
    `,
  },
];
