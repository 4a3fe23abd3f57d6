import { useState } from "preact/hooks";
import { Field } from "./common.js";

/** Asks for the host's management key once; it is kept for this browser tab's session only. */
export function Login({ refused, onKey }: { refused: boolean; onKey: (key: string) => void }) {
  const [key, setKey] = useState("");
  return (
    <form
      class="login panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (key !== "") onKey(key);
      }}
    >
      <h1>Management key</h1>
      <p>This host needs its management key (the <code>--key</code> it was started with, or <code>PERDURE_KEY</code>).</p>
      {refused && (
        <p class="bad" role="alert">
          The host refused that key. Try again.
        </p>
      )}
      <Field label="Key">
        <input type="password" autoComplete="current-password" value={key} onInput={(e) => setKey(e.currentTarget.value)} data-testid="key" autoFocus />
      </Field>
      <p class="muted">Kept for this tab's session, sent only to this host, never put in the address.</p>
      <div class="buttons">
        <button type="submit" class="primary" disabled={key === ""}>
          Sign in
        </button>
      </div>
    </form>
  );
}
