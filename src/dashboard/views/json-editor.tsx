import { useState } from "preact/hooks";

/** What a JSON editor holds: empty (no value), a parsed value, or an error with its position. */
export type JsonDraft = { kind: "empty" } | { kind: "value"; value: unknown } | { kind: "error"; message: string };

export function parseDraft(text: string): JsonDraft {
  if (text.trim() === "") return { kind: "empty" };
  try {
    return { kind: "value", value: JSON.parse(text) as unknown };
  } catch (err) {
    return { kind: "error", message: describeJsonError(text, err as Error) };
  }
}

/** The parser's message with the line and column it stopped at, which browsers give only as an offset. */
function describeJsonError(text: string, err: Error): string {
  const at = /position (\d+)/.exec(err.message);
  if (!at) return err.message;
  const offset = Number(at[1]);
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `${err.message.replace(/ in JSON at position \d+.*$/, "")} (line ${line}, column ${column})`;
}

/**
 * A textarea that checks its JSON as it is typed and formats it on demand (Tab still moves on,
 * so the form stays usable from the keyboard). The caller reads the draft through onDraft and
 * refuses to send an error.
 */
export function JsonEditor({ onDraft, label, testId }: { onDraft: (draft: JsonDraft) => void; label: string; testId?: string }) {
  const [text, setText] = useState("");
  const [draft, setDraft] = useState<JsonDraft>({ kind: "empty" });
  const update = (next: string): void => {
    const d = parseDraft(next);
    setText(next);
    setDraft(d);
    onDraft(d);
  };
  return (
    <div class="json-editor">
      <span class="json-editor-label">{label}</span>
      <textarea
        aria-label={label}
        data-testid={testId}
        spellcheck={false}
        rows={8}
        value={text}
        class={draft.kind === "error" ? "invalid" : ""}
        onInput={(e) => update(e.currentTarget.value)}
      />
      <div class="json-editor-bar">
        <span class={draft.kind === "error" ? "bad" : "muted"} data-testid={testId ? `${testId}-state` : undefined}>
          {draft.kind === "error" ? draft.message : draft.kind === "empty" ? "empty: no data" : "valid JSON"}
        </span>
        <button type="button" class="link" disabled={draft.kind !== "value"} onClick={() => draft.kind === "value" && update(JSON.stringify(draft.value, null, 2))}>
          Format
        </button>
      </div>
    </div>
  );
}
