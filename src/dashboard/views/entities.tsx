import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type EntityRow } from "../api.js";
import { href, navigate } from "../router.js";
import { ErrorBanner, Field, FilterForm, JsonView, Notice, Time, useInterval } from "./common.js";
import { Pager, usePagedList } from "./paging.js";
import { JsonEditor, type JsonDraft } from "./json-editor.js";

const PAGE_SIZE = 50;

const isoOf = (v: string | null): string | undefined => {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};

/** The state in a list cell: short JSON on one line. */
function preview(state: unknown): string {
  const text = JSON.stringify(state) ?? "undefined";
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

export function EntityList({ query, live }: { query: URLSearchParams; live: boolean }) {
  const filter = { name: query.get("name") ?? undefined, from: isoOf(query.get("from")), to: isoOf(query.get("to")) };
  const filterKey = JSON.stringify(filter);
  const list = usePagedList<EntityRow>(
    filterKey,
    (token) =>
      api.listEntities({ ...(filter.name ? { name: filter.name } : {}), ...(filter.from ? { from: filter.from } : {}), ...(filter.to ? { to: filter.to } : {}) }, PAGE_SIZE, token),
    live,
  );
  const { page, error } = list;

  return (
    <section>
      <div class="toolbar">
        <h1>Entities</h1>
      </div>
      <FilterForm
        query={query}
        fields={[
          { name: "name", label: "Entity name", placeholder: "all" },
          { name: "from", label: "Last operation from", time: true },
          { name: "to", label: "Last operation to", time: true },
        ]}
        onApply={(values) => navigate(href.entities(new URLSearchParams(Object.entries(values).filter(([, v]) => v !== ""))), true)}
        onClear={() => navigate(href.entities(), true)}
      />
      <ErrorBanner error={error} />
      <table class="grid" data-testid="entities">
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Last operation</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {page?.items.map((e) => (
            <tr key={`${e.entityId.name}@${e.entityId.key}`}>
              <td>{e.entityId.name}</td>
              <td class="id">
                <a href={href.entity(e.entityId.name, e.entityId.key)}>{e.entityId.key}</a>
              </td>
              <td>
                <Time iso={e.lastOperationTime} />
              </td>
              <td>
                <code class="preview">{preview(e.state)}</code>
              </td>
            </tr>
          ))}
          {page && page.items.length === 0 && (
            <tr>
              <td colSpan={4} class="muted empty">
                {page.next ? "Nothing on this page; there may be more on the next." : "No entity matches."}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager list={list} />
    </section>
  );
}

export function EntityPage({ name, entityKey, live }: { name: string; entityKey: string; live: boolean }) {
  const [state, setState] = useState<{ exists: boolean; value?: unknown } | undefined>();
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string | undefined>();
  const [op, setOp] = useState("");
  const [draft, setDraft] = useState<JsonDraft>({ kind: "empty" });
  const [busy, setBusy] = useState(false);

  const generation = useRef(0);
  const load = useCallback(async () => {
    // The latest read wins: a slow answer (or one for the entity shown before) is dropped.
    const g = ++generation.current;
    try {
      const value = await api.getEntity(name, entityKey);
      if (g !== generation.current) return;
      setState({ exists: true, value });
      setError(undefined);
    } catch (err) {
      if (g !== generation.current) return;
      if (err instanceof ApiError && err.status === 404) setState({ exists: false });
      else setError(err);
    }
  }, [name, entityKey]);
  useEffect(() => {
    setState(undefined);
    setNotice(undefined);
    void load();
  }, [load]);
  useInterval(load, 2000, live);

  async function send(kind: "signal" | "delete"): Promise<void> {
    setBusy(true);
    try {
      if (kind === "delete") await api.deleteEntity(name, entityKey);
      else await api.signalEntity(name, entityKey, op.trim(), draft.kind === "value" ? draft.value : undefined);
      setNotice(kind === "delete" ? "Delete signalled." : `Operation '${op.trim()}' signalled.`);
      setError(undefined);
      setTimeout(() => void load(), 300);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <p class="crumbs">
        <a href={href.entities()}>Entities</a> / <a href={href.entities(new URLSearchParams({ name }))}>{name}</a>
      </p>
      <div class="toolbar">
        <h1 class="id" data-testid="entity-id">
          @{name}@{entityKey}
        </h1>
        <span class="spacer" />
        <button onClick={() => void load()}>Refresh</button>
      </div>
      <ErrorBanner error={error} />
      <Notice text={notice} />
      <div class="panel">
        <h2>State</h2>
        {state === undefined ? <p class="muted">Loading…</p> : state.exists ? <JsonView value={state.value} empty="null" testId="entity-state" /> : <p class="muted" data-testid="entity-state">No state: the entity does not exist (or was deleted).</p>}
      </div>
      <form
        class="panel"
        onSubmit={(e) => {
          e.preventDefault();
          void send("signal");
        }}
      >
        <h2>Signal an operation</h2>
        <Field label="Operation">
          <input value={op} onInput={(e) => setOp(e.currentTarget.value)} required data-testid="operation" />
        </Field>
        <JsonEditor
          label="Input (JSON)"
          testId="operation-input"
          onDraft={setDraft}
        />
        <div class="buttons">
          <button type="button" class="danger" disabled={busy} onClick={() => confirm(`Delete the state of @${name}@${entityKey}?`) && void send("delete")}>
            Delete entity
          </button>
          <button type="submit" class="primary" disabled={busy || op.trim() === "" || draft.kind === "error"} data-testid="signal">
            Signal
          </button>
        </div>
      </form>
    </section>
  );
}
