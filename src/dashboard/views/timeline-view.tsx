import { useEffect, useRef, useState } from "preact/hooks";
import { formatDuration, type Timeline, type TimelineRow } from "../timeline.js";
import { href } from "../router.js";
import { JsonView, payloadValue, Time } from "./common.js";

const ROW_HEIGHT = 26;
/** Rows drawn beyond the visible ones, so a quick scroll shows no gap. */
const OVERSCAN = 10;
const KIND_LABEL: Record<TimelineRow["kind"], string> = {
  activity: "activity",
  suborchestration: "sub-orchestration",
  timer: "timer",
  entity: "entity call",
  lock: "entity lock",
  event: "event raised",
  sent: "event sent",
  signal: "entity signal",
  lifecycle: "",
};

/**
 * A Gantt chart of the execution, drawn a window at a time: only the rows in view are in the DOM,
 * so a history of tens of thousands of events scrolls as quickly as one of ten.
 */
export function TimelineView({ timeline, now, running }: { timeline: Timeline; now: number; running: boolean }) {
  const { rows } = timeline;
  const viewport = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(520);
  const [chosen, setChosen] = useState<TimelineRow | undefined>();
  const [kinds, setKinds] = useState<Set<string>>(new Set());

  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const shown = kinds.size === 0 ? rows : rows.filter((r) => kinds.has(r.kind));
  const t0 = timeline.first ?? now;
  let t1 = Math.max(running ? now : (timeline.last ?? now), t0 + 1);
  // A pending timer's due time widens the chart, so its dotted line is on it.
  for (const r of shown) if (r.due !== undefined && r.end === undefined && r.due > t1) t1 = r.due;
  const span = t1 - t0;
  const pct = (t: number): number => Math.min(100, Math.max(0, ((t - t0) / span) * 100));

  const from = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const to = Math.min(shown.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const failed = rows.filter((r) => r.state === "failed").length;
  const retries = rows.filter((r) => r.attempt > 1).length;
  const allKinds = [...new Set(rows.map((r) => r.kind))];

  return (
    <div class="timeline">
      <div class="toolbar">
        <span data-testid="timeline-summary">
          {timeline.eventCount.toLocaleString()} events · {rows.length.toLocaleString()} rows · {failed} failed · {retries} retries · {formatDuration(span)}
        </span>
        <span class="spacer" />
        {allKinds.map((k) => (
          <label key={k} class="kind-filter">
            <input
              type="checkbox"
              checked={kinds.size === 0 || kinds.has(k)}
              onChange={() => {
                const next = new Set(kinds.size === 0 ? allKinds : kinds);
                if (next.has(k)) next.delete(k);
                else next.add(k);
                setKinds(next.size === allKinds.length ? new Set() : next);
              }}
            />
            {KIND_LABEL[k] || "lifecycle"}
          </label>
        ))}
      </div>
      <div class="gantt-axis">
        <span>
          <Time iso={t0} />
        </span>
        <span>+{formatDuration(span / 2)}</span>
        <span>
          +{formatDuration(span)}
          {running && " (now)"}
        </span>
      </div>
      <div class="gantt" ref={viewport} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} data-testid="gantt">
        <div style={{ height: `${shown.length * ROW_HEIGHT}px`, position: "relative" }}>
          {shown.slice(from, to).map((r, i) => {
            const end = r.end ?? now;
            const left = pct(r.start);
            const width = r.state === "instant" ? 0 : Math.max(0.15, pct(end) - left);
            const dur = r.state === "instant" ? "" : r.end === undefined ? `${formatDuration(end - r.start)}…` : formatDuration(end - r.start);
            return (
              <div
                key={r.key}
                class={`gantt-row kind-${r.kind} state-${r.state}${r.retried ? " retried" : ""}${chosen?.key === r.key ? " chosen" : ""}`}
                style={{ top: `${(from + i) * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}
                role="button"
                tabIndex={0}
                aria-expanded={chosen?.key === r.key}
                onClick={() => setChosen(chosen?.key === r.key ? undefined : r)}
                onKeyDown={(e) => {
                  if (e.key !== "Enter" && e.key !== " ") return;
                  e.preventDefault();
                  setChosen(chosen?.key === r.key ? undefined : r);
                }}
                data-testid="gantt-row"
                data-kind={r.kind}
                data-state={r.state}
                data-attempt={String(r.attempt)}
              >
                <div class="gantt-label" title={r.label}>
                  <span class="kind-dot" />
                  {r.label}
                  {r.inputPreview !== undefined && <span class="input">{r.inputPreview}</span>}
                  {r.attempt > 1 && <span class="attempt">attempt {r.attempt}</span>}
                  {/* The bar's colour says this to those who see it. */}
                  <span class="sr-only">{`, ${r.state === "instant" ? "event" : r.state}${r.retried ? ", retried" : ""}`}</span>
                </div>
                <div class="gantt-track">
                  {r.state === "instant" ? (
                    <span class="gantt-mark" style={{ left: `${left}%` }} />
                  ) : (
                    <span class="gantt-bar" style={{ left: `${left}%`, width: `${width}%` }} />
                  )}
                  {r.due !== undefined && r.end === undefined && <span class="gantt-due" style={{ left: `${pct(r.due)}%` }} title="due" />}
                </div>
                <div class="gantt-duration">{dur}</div>
              </div>
            );
          })}
        </div>
        {shown.length === 0 && <p class="muted empty">Nothing scheduled yet.</p>}
      </div>
      {chosen && <RowDetail row={chosen} onClose={() => setChosen(undefined)} />}
    </div>
  );
}

function RowDetail({ row, onClose }: { row: TimelineRow; onClose: () => void }) {
  return (
    <div class="row-detail" data-testid="row-detail">
      <div class="toolbar">
        <h3>
          {KIND_LABEL[row.kind]} {row.label}
          {row.attempt > 1 && ` (attempt ${row.attempt})`}
        </h3>
        <span class="spacer" />
        <button class="link" onClick={onClose} aria-label="Close">
          ×
        </button>
      </div>
      {row.target && row.kind === "suborchestration" && (
        <p>
          Instance <a href={href.instance(row.target)}>{row.target}</a>
        </p>
      )}
      {row.retryDelayFor && <p>Waited before {row.retryDelayFor}.</p>}
      <p>
        Started <Time iso={row.start} />
        {row.end !== undefined && row.state !== "instant" && (
          <>
            , ended <Time iso={row.end} /> after {formatDuration(row.end - row.start)}
          </>
        )}
        {row.due !== undefined && (
          <>
            , due <Time iso={row.due} />
          </>
        )}
      </p>
      {row.events.map((e) => (
        <div key={`${e.type}${e.eventId}`}>
          <h4>
            {e.type} <span class="muted">#{e.eventId}</span>
          </h4>
          <EventBody event={e as unknown as Record<string, unknown>} />
        </div>
      ))}
    </div>
  );
}

/** An event's fields, with its stored payloads (`input`, `result`) shown as the JSON they hold. */
function EventBody({ event }: { event: Record<string, unknown> }) {
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) {
    if (k === "type" || k === "eventId") continue;
    shown[k] = (k === "input" || k === "result") && typeof v === "string" ? payloadValue(v) : v;
  }
  return <JsonView value={shown} />;
}
