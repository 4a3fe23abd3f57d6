import { useState } from "preact/hooks";
import { api, FINISHED, type InstanceStatus } from "../api.js";
import { href, navigate } from "../router.js";
import { ErrorBanner, Field, Modal } from "./common.js";
import { JsonEditor, type JsonDraft } from "./json-editor.js";

type Action = "raise" | "terminate" | "suspend" | "resume" | "rewind" | "restart" | "purge";

const TITLES: Record<Action, string> = {
  raise: "Raise an event",
  terminate: "Terminate",
  suspend: "Suspend",
  resume: "Resume",
  rewind: "Rewind",
  restart: "Restart",
  purge: "Purge",
};

/** Which actions make sense for the instance as it stands (the API would refuse the others). */
function available(s: InstanceStatus): Action[] {
  const finished = FINISHED.has(s.runtimeStatus);
  const out: Action[] = [];
  if (!finished) out.push("raise", "terminate", s.runtimeStatus === "Suspended" ? "resume" : "suspend");
  if (s.runtimeStatus === "Failed" || s.parked) out.push("rewind");
  out.push("restart", "purge");
  return out;
}

export function InstanceActions({ status, onDone }: { status: InstanceStatus; onDone: (message: string) => void }) {
  const [open, setOpen] = useState<Action | undefined>();
  return (
    <div class="actions" role="toolbar" aria-label="Actions">
      {available(status).map((a) => (
        <button key={a} class={a === "purge" || a === "terminate" ? "danger" : ""} onClick={() => setOpen(a)} data-action={a}>
          {TITLES[a]}…
        </button>
      ))}
      {open && (
        <ActionDialog
          action={open}
          status={status}
          onClose={(message) => {
            setOpen(undefined);
            if (message) onDone(message);
          }}
        />
      )}
    </div>
  );
}

function ActionDialog({ action, status, onClose }: { action: Action; status: InstanceStatus; onClose: (message?: string) => void }) {
  const id = status.instanceId;
  const [reason, setReason] = useState("");
  const [eventName, setEventName] = useState("");
  const [draft, setDraft] = useState<JsonDraft>({ kind: "empty" });
  const [sameId, setSameId] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  async function submit(): Promise<void> {
    setBusy(true);
    setError(undefined);
    try {
      switch (action) {
        case "raise":
          await api.raiseEvent(id, eventName.trim(), draft.kind === "value" ? draft.value : undefined);
          onClose(`Event '${eventName.trim()}' raised.`);
          return;
        case "terminate":
        case "suspend":
        case "resume":
        case "rewind":
          await api.control(id, action, reason);
          onClose(`${TITLES[action]} requested.`);
          return;
        case "restart": {
          const newId = await api.restart(id, !sameId);
          onClose(`Restarted as ${newId}.`);
          navigate(href.instance(newId));
          return;
        }
        case "purge":
          await api.purge(id);
          onClose();
          navigate(href.instances());
          return;
      }
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const invalid = (action === "raise" && (eventName.trim() === "" || draft.kind === "error")) || busy;
  return (
    <Modal title={`${TITLES[action]}: ${id}`} onClose={() => onClose()}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!invalid) void submit();
        }}
      >
        {action === "raise" && (
          <>
            <Field label="Event name">
              <input value={eventName} onInput={(e) => setEventName(e.currentTarget.value)} required data-testid="event-name" />
            </Field>
            <JsonEditor
              label="Event data (JSON)"
              testId="event-data"
              onDraft={setDraft}
            />
          </>
        )}
        {(action === "terminate" || action === "suspend" || action === "resume" || action === "rewind") && (
          <Field label="Reason">
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="optional" data-testid="reason" />
          </Field>
        )}
        {action === "restart" && (
          <label class="inline">
            <input type="checkbox" checked={sameId} onChange={(e) => setSameId(e.currentTarget.checked)} data-testid="same-id" /> Keep the instance ID (it must have finished)
          </label>
        )}
        {action === "purge" && <p>The instance and its whole history are deleted. This cannot be undone.</p>}
        {action === "terminate" && <p>Running activities are not stopped; their results are ignored.</p>}
        <ErrorBanner error={error} />
        <div class="buttons">
          <button type="button" onClick={() => onClose()}>
            Cancel
          </button>
          <button type="submit" class={action === "purge" || action === "terminate" ? "primary danger" : "primary"} disabled={invalid} data-testid="confirm">
            {TITLES[action]}
          </button>
        </div>
      </form>
    </Modal>
  );
}
