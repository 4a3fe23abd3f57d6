import { useRef, useState } from "preact/hooks";
import { api, ApiError, type InstanceStatus } from "../api.js";
import { Field, Modal } from "./common.js";

export type BulkAction = "terminate" | "purge" | "restart";

const VERB: Record<BulkAction, string> = { terminate: "Terminate", purge: "Purge", restart: "Restart" };
const EXPLAIN: Record<BulkAction, string> = {
  terminate: "Each running instance ends Terminated with the reason below. Finished instances are skipped.",
  purge: "Each instance is deleted with its history. This cannot be undone.",
  restart: "Each instance is started again with its input, under a new instance ID.",
};
/** Requests in flight at once: enough to be quick, few enough not to crowd out the workers. */
const CONCURRENCY = 4;

interface Progress {
  done: number;
  failed: { id: string; message: string }[];
  skipped: number;
}

/** Confirms, then runs the action over the selection with a progress bar; failures are listed, not fatal. */
export function BulkDialog({ action, selection, onClose }: { action: BulkAction; selection: InstanceStatus[]; onClose: (changed: boolean) => void }) {
  const [reason, setReason] = useState("");
  const [progress, setProgress] = useState<Progress | undefined>();
  const [finished, setFinished] = useState(false);
  const cancelled = useRef(false);

  async function run(): Promise<void> {
    const state: Progress = { done: 0, failed: [], skipped: 0 };
    setProgress({ ...state });
    const queue = selection.slice();
    const one = async (s: InstanceStatus): Promise<void> => {
      try {
        if (action === "terminate") await api.control(s.instanceId, "terminate", reason);
        else if (action === "purge") await api.purge(s.instanceId);
        else await api.restart(s.instanceId, true);
      } catch (err) {
        // An instance that finished (or went) meanwhile is not a failure of the bulk action.
        if (err instanceof ApiError && (err.status === 410 || (action === "purge" && err.status === 404))) state.skipped++;
        else state.failed.push({ id: s.instanceId, message: err instanceof Error ? err.message : String(err) });
      }
      state.done++;
      setProgress({ ...state, failed: state.failed.slice() });
    };
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let s = queue.shift(); s && !cancelled.current; s = queue.shift()) await one(s);
      }),
    );
    setFinished(true);
  }

  const n = selection.length;
  const close = (): void => {
    cancelled.current = true;
    onClose(progress !== undefined);
  };
  return (
    <Modal title={`${VERB[action]} ${n} instance${n === 1 ? "" : "s"}`} onClose={close}>
      {!progress && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run();
          }}
        >
          <p>{EXPLAIN[action]}</p>
          <ul class="id-preview">
            {selection.slice(0, 5).map((s) => (
              <li key={s.instanceId}>{s.instanceId}</li>
            ))}
            {n > 5 && <li class="muted">and {n - 5} more</li>}
          </ul>
          {action === "terminate" && (
            <Field label="Reason">
              <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="optional" />
            </Field>
          )}
          <div class="buttons">
            <button type="button" onClick={close}>
              Cancel
            </button>
            <button type="submit" class={action === "purge" ? "primary danger" : "primary"} data-testid="bulk-confirm">
              {VERB[action]} {n}
            </button>
          </div>
        </form>
      )}
      {progress && (
        <div data-testid="bulk-progress">
          <progress max={n} value={progress.done} />
          <p>
            {progress.done} of {n} done
            {progress.skipped > 0 && `, ${progress.skipped} skipped (already finished or gone)`}
            {progress.failed.length > 0 && `, ${progress.failed.length} failed`}
            {finished && "."}
          </p>
          {progress.failed.length > 0 && (
            <ul class="failures">
              {progress.failed.slice(0, 20).map((f) => (
                <li key={f.id}>
                  <code>{f.id}</code>: {f.message}
                </li>
              ))}
              {progress.failed.length > 20 && <li>and {progress.failed.length - 20} more</li>}
            </ul>
          )}
          <div class="buttons">
            <button class="primary" onClick={close} data-testid="bulk-close">
              {finished ? "Close" : "Stop"}
            </button>
          </div>
        </div>
      )}
    </Modal>
  );
}
