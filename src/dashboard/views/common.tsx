import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api.js";

/** User data shown as text: JSON pretty-printed, strings as they are, long values folded. */
export function JsonView({ value, empty = "—", testId }: { value: unknown; empty?: string; testId?: string }) {
  const [all, setAll] = useState(false);
  if (value === null || value === undefined) return <span class="muted" data-testid={testId}>{empty}</span>;
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  const LIMIT = 20_000;
  const shown = all || text.length <= LIMIT ? text : text.slice(0, LIMIT);
  return (
    <div>
      <pre class="json" data-testid={testId}>{shown}</pre>
      {shown.length < text.length && (
        <button class="link" onClick={() => setAll(true)}>
          Show all {text.length.toLocaleString()} characters
        </button>
      )}
    </div>
  );
}

/** A stored payload (a JSON string as the history keeps it), parsed for display when it parses. */
export function payloadValue(payload: string | undefined): unknown {
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return payload;
  }
}

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span class={`badge status-${status}`} data-testid={testId}>
      {status}
    </span>
  );
}

export function Time({ iso }: { iso: string | number | undefined }) {
  if (iso === undefined) return <span class="muted">—</span>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{String(iso)}</span>;
  return <time dateTime={d.toISOString()} title={d.toISOString()}>{formatLocal(d)}</time>;
}

export function formatLocal(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function ErrorBanner({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div class="error" role="alert">
      {e && <strong>{e.code}: </strong>}
      {error instanceof Error ? error.message : JSON.stringify(error)}
      {onClose && (
        <button class="link" onClick={onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

/** What the last action did (an error, if it failed, goes to ErrorBanner instead). */
export function Notice({ text }: { text: string | undefined }) {
  if (!text) return null;
  return (
    <div class="notice" role="status">
      {text}
    </div>
  );
}

/**
 * The filter bar of a list: fields kept in the URL's query, applied together. Inputs are keyed by
 * their value, so going back in history shows the filter that page had.
 */
export function FilterForm({ fields, query, onApply, onClear }: { fields: { name: string; label: string; placeholder?: string; time?: boolean }[]; query: URLSearchParams; onApply: (values: Record<string, string>) => void; onClear: () => void }) {
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        onApply(Object.fromEntries(fields.map((f) => [f.name, formText(form, f.name)])));
      }}
    >
      {fields.map((f) => (
        <Field label={f.label} key={f.name}>
          <input name={f.name} defaultValue={query.get(f.name) ?? ""} key={`${f.name}=${query.get(f.name) ?? ""}`} {...(f.time ? { type: "datetime-local", step: "1" } : { placeholder: f.placeholder ?? "" })} />
        </Field>
      ))}
      <div class="buttons">
        <button type="submit" class="primary">
          Apply
        </button>
        <button type="button" onClick={onClear}>
          Clear
        </button>
      </div>
    </form>
  );
}

export function Modal({ title, children, onClose }: { title: string; children: ComponentChildren; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  // Once, on opening: focusing on every render would pull the cursor out of the field being typed in.
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === "Escape") close.current();
    };
    window.addEventListener("keydown", onKey);
    ref.current?.querySelector<HTMLElement>("input, textarea, button.primary")?.focus();
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && close.current()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

/**
 * Calls `fn` every `ms` while `enabled` (and not while the tab is hidden), `ms` after the previous
 * call has finished: on a slow store the requests never pile up behind each other.
 */
export function useInterval(fn: () => Promise<void> | void, ms: number, enabled: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async (): Promise<void> => {
      try {
        if (document.visibilityState === "visible") await saved.current();
      } finally {
        if (!stopped) timer = setTimeout(() => void tick(), ms);
      }
    };
    timer = setTimeout(() => void tick(), ms);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [ms, enabled]);
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

/** A text field of a submitted form, trimmed ("" when absent). */
export function formText(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === "string" ? v.trim() : "";
}
