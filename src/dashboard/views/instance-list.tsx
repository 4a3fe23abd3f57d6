import { useEffect, useRef, useState } from "preact/hooks";
import { api, STATUSES, type InstanceFilter, type InstanceStatus, type RuntimeStatus } from "../api.js";
import { href, navigate } from "../router.js";
import { BulkDialog, type BulkAction } from "./bulk.js";
import { ErrorBanner, Field, FilterForm, StatusBadge, Time } from "./common.js";
import { Pager, usePagedList } from "./paging.js";

const PAGE_SIZES = [25, 50, 100, 250];
/** "Select all matching" stops here: a bulk action over more belongs in `perdure instances ... --yes`. */
const SELECT_ALL_CAP = 10_000;

/** The filter as the URL fragment holds it, and as the API wants it. */
function filterOf(query: URLSearchParams): InstanceFilter {
  const iso = (v: string | null): string | undefined => {
    if (!v) return undefined;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  };
  const status = (query.get("status") ?? "").split(",").filter((s) => s !== "");
  return {
    ...(status.length > 0 ? { runtimeStatus: status } : {}),
    ...(query.get("name") ? { name: query.get("name")! } : {}),
    ...(query.get("prefix") ? { instanceIdPrefix: query.get("prefix")! } : {}),
    ...(query.get("version") ? { version: query.get("version")! } : {}),
    ...(iso(query.get("from")) ? { createdTimeFrom: iso(query.get("from"))! } : {}),
    ...(iso(query.get("to")) ? { createdTimeTo: iso(query.get("to"))! } : {}),
  };
}

export function InstanceList({ query, live }: { query: URLSearchParams; live: boolean }) {
  const filter = filterOf(query);
  const filterKey = JSON.stringify(filter);
  const pageSize = PAGE_SIZES.includes(Number(query.get("top"))) ? Number(query.get("top")) : 50;
  const [selected, setSelected] = useState<Map<string, InstanceStatus>>(new Map());
  const [bulk, setBulk] = useState<BulkAction | undefined>();
  const [collecting, setCollecting] = useState<string | undefined>();
  const currentFilter = useRef(filterKey);
  currentFilter.current = filterKey;
  // The counts leave the status filter out, so every status chip keeps its count.
  const list = usePagedList<InstanceStatus, Record<RuntimeStatus, number>>(
    `${filterKey}|${pageSize}`,
    async (token) => {
      const { runtimeStatus: _, ...countFilter } = filter;
      const [p, counts] = await Promise.all([api.listInstances(filter, pageSize, token), api.countInstances(countFilter)]);
      return { ...p, extra: counts };
    },
    live && !bulk && !collecting,
  );
  const { page, error, extra: counts } = list;

  useEffect(() => setSelected(new Map()), [filterKey]);

  const setQuery = (changes: Record<string, string | undefined>): void => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === "") next.delete(k);
      else next.set(k, v);
    }
    navigate(href.instances(next), true);
  };

  const statuses = new Set(filter.runtimeStatus ?? []);
  const toggleStatus = (s: string): void => {
    const next = new Set(statuses);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    setQuery({ status: [...next].join(",") });
  };
  const total = counts ? STATUSES.reduce((sum, s) => sum + (counts[s] ?? 0), 0) : undefined;
  const matching = counts && statuses.size > 0 ? [...statuses].reduce((sum, s) => sum + (counts[s as RuntimeStatus] ?? 0), 0) : total;

  const items = page?.items ?? [];
  const allOnPage = items.length > 0 && items.every((i) => selected.has(i.instanceId));
  const toggle = (s: InstanceStatus): void => {
    const next = new Map(selected);
    if (next.has(s.instanceId)) next.delete(s.instanceId);
    else next.set(s.instanceId, s);
    setSelected(next);
  };
  const togglePage = (): void => {
    const next = new Map(selected);
    for (const i of items) {
      if (allOnPage) next.delete(i.instanceId);
      else next.set(i.instanceId, i);
    }
    setSelected(next);
  };
  async function selectAllMatching(): Promise<void> {
    const all = new Map<string, InstanceStatus>();
    let t: string | undefined;
    // The filter may change while the pages come in: then what was collected is for another view.
    const started = filterKey;
    try {
      do {
        if (started !== currentFilter.current) return;
        setCollecting(`Collecting ${all.size.toLocaleString()} of ${matching?.toLocaleString() ?? "?"}…`);
        const p = await api.listInstances(filter, 1000, t);
        for (const i of p.items) if (all.size < SELECT_ALL_CAP) all.set(i.instanceId, i);
        t = p.continuationToken;
      } while (t && all.size < SELECT_ALL_CAP);
      if (started === currentFilter.current) setSelected(all);
    } catch (err) {
      list.setError(err);
    } finally {
      setCollecting(undefined);
    }
  }

  return (
    <section>
      <div class="toolbar">
        <h1>Orchestrations</h1>
        {total !== undefined && <span class="muted" data-testid="total">{total.toLocaleString()} in all</span>}
      </div>
      <div class="chips" role="group" aria-label="Status">
        {STATUSES.map((s) => (
          <button key={s} class={`chip status-${s}${statuses.has(s) ? " on" : ""}`} aria-pressed={statuses.has(s)} onClick={() => toggleStatus(s)} data-testid={`count-${s}`}>
            {s} <b>{counts ? (counts[s] ?? 0).toLocaleString() : "…"}</b>
          </button>
        ))}
      </div>
      <FilterForm
        query={query}
        fields={[
          { name: "name", label: "Name", placeholder: "orchestrator name" },
          { name: "prefix", label: "Instance ID prefix", placeholder: "starts with" },
          { name: "version", label: "Version", placeholder: "exactly" },
          { name: "from", label: "Created from", time: true },
          { name: "to", label: "Created to", time: true },
        ]}
        onApply={(values) => setQuery(values)}
        onClear={() => navigate(href.instances(query.get("top") ? new URLSearchParams({ top: query.get("top")! }) : undefined), true)}
      />
      <ErrorBanner error={error} />
      <div class="toolbar">
        <span data-testid="selection">{selected.size > 0 ? `${selected.size.toLocaleString()} selected` : "Select instances for a bulk action"}</span>
        {matching !== undefined && matching > items.length && !collecting && (
          <button class="link" onClick={() => void selectAllMatching()}>
            Select all {Math.min(matching, SELECT_ALL_CAP).toLocaleString()} matching
          </button>
        )}
        {collecting && <span class="muted">{collecting}</span>}
        {selected.size > 0 && (
          <>
            <button class="link" onClick={() => setSelected(new Map())}>
              Clear selection
            </button>
            <span class="spacer" />
            <button onClick={() => setBulk("terminate")}>Terminate…</button>
            <button onClick={() => setBulk("restart")}>Restart…</button>
            <button class="danger" onClick={() => setBulk("purge")}>
              Purge…
            </button>
          </>
        )}
      </div>
      <table class="grid" data-testid="instances">
        <thead>
          <tr>
            <th class="check">
              <input type="checkbox" aria-label="Select this page" checked={allOnPage} onChange={togglePage} />
            </th>
            <th>Instance ID</th>
            <th>Name</th>
            <th>Status</th>
            <th>Version</th>
            <th>Created</th>
            <th>Last updated</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.instanceId} data-instance-id={i.instanceId}>
              <td class="check">
                <input type="checkbox" aria-label={`Select ${i.instanceId}`} checked={selected.has(i.instanceId)} onChange={() => toggle(i)} />
              </td>
              <td class="id">
                <a href={href.instance(i.instanceId)}>{i.instanceId}</a>
              </td>
              <td>{i.name}</td>
              <td>
                <StatusBadge status={i.runtimeStatus} />
                {i.parked && (
                  <span class="badge parked" title={i.parked.message}>
                    parked
                  </span>
                )}
              </td>
              <td class="muted" data-testid="version">
                {i.version ?? ""}
              </td>
              <td>
                <Time iso={i.createdTime} />
              </td>
              <td>
                <Time iso={i.lastUpdatedTime} />
              </td>
            </tr>
          ))}
          {!page && !error && (
            <tr>
              <td colSpan={7} class="muted empty">
                Loading…
              </td>
            </tr>
          )}
          {page && items.length === 0 && (
            <tr>
              <td colSpan={7} class="muted empty">
                No orchestration matches.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager list={list}>
        <span class="spacer" />
        <Field label="Per page">
          <select value={String(pageSize)} onChange={(e) => setQuery({ top: e.currentTarget.value })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </Field>
      </Pager>
      {bulk && (
        <BulkDialog
          action={bulk}
          selection={[...selected.values()]}
          onClose={(changed) => {
            setBulk(undefined);
            if (changed) {
              setSelected(new Map());
              void list.reload();
            }
          }}
        />
      )}
    </section>
  );
}
