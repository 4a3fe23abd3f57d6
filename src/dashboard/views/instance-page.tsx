import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, FINISHED, type FailureDetails, type InstanceStatus } from "../api.js";
import { href } from "../router.js";
import { TimelineBuilder, type Timeline } from "../timeline.js";
import { ErrorBanner, JsonView, Notice, StatusBadge, Time, useInterval } from "./common.js";
import { InstanceActions } from "./instance-actions.js";
import { TimelineView } from "./timeline-view.js";

/** Events per history request: big enough to be few requests, small enough to draw between them. */
const HISTORY_PAGE = 2000;

interface Loaded {
  executionId: string | undefined;
  builder: TimelineBuilder;
  /** Where the next page starts: the number of events read. */
  next: number;
}

export function InstancePage({ id, live }: { id: string; live: boolean }) {
  const [status, setStatus] = useState<InstanceStatus | undefined>();
  const [timeline, setTimeline] = useState<Timeline | undefined>();
  const [loadingHistory, setLoadingHistory] = useState(false);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const loaded = useRef<Loaded | undefined>(undefined);
  /** The refresh in flight, if any: each has its own token, so an old one ending never frees a newer one's slot. */
  const busy = useRef<object | undefined>(undefined);
  /** Bumped when the page shows another instance: answers for the previous one are dropped. */
  const generation = useRef(0);
  /** The instance shown now: a refresh scheduled for an earlier one (after an action) reads this one. */
  const shown = useRef(id);
  shown.current = id;
  /** The status as last read, to tell whether the stored history may have been rewritten since. */
  const lastSeen = useRef<InstanceStatus | undefined>(undefined);

  async function refresh(full: boolean): Promise<void> {
    if (busy.current) return;
    const mine = {};
    busy.current = mine;
    const g = generation.current;
    const id = shown.current;
    try {
      const s = await api.getInstance(id);
      if (g !== generation.current) return;
      const before = lastSeen.current;
      lastSeen.current = s;
      setStatus(s);
      setError(undefined);
      setNow(Date.now());
      // A finished instance that changes was rewound (its failure records removed) or restarted
      // under its ID; a new execution starts a new history. Otherwise the history only grows, and
      // only its new end is read.
      const rewritten = before !== undefined && FINISHED.has(before.runtimeStatus) && (before.runtimeStatus !== s.runtimeStatus || before.lastUpdatedTime !== s.lastUpdatedTime);
      if (full || rewritten || !loaded.current || loaded.current.executionId !== s.executionId) {
        loaded.current = { executionId: s.executionId, builder: new TimelineBuilder(), next: 0 };
      }
      const state = loaded.current;
      setLoadingHistory(true);
      for (;;) {
        const page = await api.historyPage(id, state.next, HISTORY_PAGE);
        if (g !== generation.current || loaded.current !== state) return;
        state.builder.add(page.events);
        state.next += page.events.length;
        setTimeline(state.builder.snapshot());
        if (page.nextFrom === undefined || page.events.length === 0) break;
        // Lets the browser draw and answer input between pages.
        await new Promise((r) => setTimeout(r, 0));
      }
    } catch (err) {
      if (g === generation.current) setError(err);
    } finally {
      if (busy.current === mine) busy.current = undefined;
      if (g === generation.current) setLoadingHistory(false);
    }
  }

  /**
   * After an action the worker applies it within moments (its polling interval at most): look
   * again until the instance shows the change, for a few seconds, whether or not Live is on.
   */
  async function settle(): Promise<void> {
    const g = generation.current;
    const before = lastSeen.current;
    for (let i = 0; i < 20 && g === generation.current; i++) {
      await new Promise((r) => setTimeout(r, 250));
      if (g !== generation.current) return;
      await refresh(false);
      const after = lastSeen.current;
      if (!before || !after || after.runtimeStatus !== before.runtimeStatus || after.lastUpdatedTime !== before.lastUpdatedTime || after.parked?.since !== before.parked?.since) return;
    }
  }

  useEffect(() => {
    generation.current++;
    loaded.current = undefined;
    lastSeen.current = undefined;
    busy.current = undefined;
    setStatus(undefined);
    setTimeline(undefined);
    setError(undefined);
    setNotice(undefined);
    void refresh(true);
  }, [id]);

  const running = status !== undefined && !FINISHED.has(status.runtimeStatus);
  useInterval(() => refresh(false), 2000, live && running);

  if (!status) {
    if (error instanceof ApiError && error.status === 404) {
      return (
        <section>
          <p class="crumbs">
            <a href={href.instances()}>Orchestrations</a> /
          </p>
          <h1 class="id">{id}</h1>
          <p class="muted">No such instance (it may have been purged).</p>
        </section>
      );
    }
    return <section>{error ? <ErrorBanner error={error} /> : <p class="muted">Loading…</p>}</section>;
  }
  return (
    <section>
      <p class="crumbs">
        <a href={href.instances()}>Orchestrations</a> / <a href={href.instances(new URLSearchParams({ name: status.name }))}>{status.name}</a>
      </p>
      <div class="toolbar">
        <h1 class="id" data-testid="instance-id">
          {status.instanceId}
        </h1>
        <StatusBadge status={status.runtimeStatus} testId="status" />
        {status.parked && <span class="badge parked">parked</span>}
        <span class="spacer" />
        <button onClick={() => void refresh(true)}>Refresh</button>
      </div>
      <ErrorBanner error={error} />
      <Notice text={notice} />
      <InstanceActions
        status={status}
        onDone={(message) => {
          setNotice(message);
          void settle();
        }}
      />
      <dl class="facts">
        <dt>Name</dt>
        <dd>{status.name}</dd>
        <dt>Created</dt>
        <dd>
          <Time iso={status.createdTime} />
        </dd>
        <dt>Last updated</dt>
        <dd>
          <Time iso={status.lastUpdatedTime} />
        </dd>
        {status.version && (
          <>
            <dt>Version</dt>
            <dd data-testid="version">{status.version}</dd>
          </>
        )}
        {status.executionId && (
          <>
            <dt>Execution</dt>
            <dd class="id">{status.executionId}</dd>
          </>
        )}
        {status.parentInstanceId && (
          <>
            <dt>Parent</dt>
            <dd>
              <a href={href.instance(status.parentInstanceId)} data-testid="parent-link">
                {status.parentInstanceId}
              </a>
            </dd>
          </>
        )}
        {timeline && timeline.children.length > 0 && (
          <>
            <dt>Children</dt>
            <dd>
              <ul class="children" data-testid="children">
                {timeline.children.slice(0, 50).map((c) => (
                  <li key={c.instanceId}>
                    <a href={href.instance(c.instanceId)}>{c.instanceId}</a> <span class="muted">{c.name}</span>
                  </li>
                ))}
                {timeline.children.length > 50 && <li class="muted">and {timeline.children.length - 50} more (in the timeline)</li>}
              </ul>
            </dd>
          </>
        )}
      </dl>
      {status.parked && (
        <div class="parked-box" data-testid="parked">
          <h2>Parked: {status.parked.code}</h2>
          <p>{status.parked.message}</p>
          <p class="muted">
            Since <Time iso={status.parked.since} />, {status.parked.attempts} attempt{status.parked.attempts === 1 ? "" : "s"}
            {status.parked.retryAt ? (
              <>
                ; tried again at <Time iso={status.parked.retryAt} />
              </>
            ) : (
              "; waits for a host that has its function"
            )}
            . Rewind tries it at once.
          </p>
        </div>
      )}
      {status.failureDetails && <Failure details={status.failureDetails} />}
      <div class="panels">
        <div class="panel">
          <h2>Input</h2>
          <JsonView value={status.input} testId="input" />
        </div>
        <div class="panel">
          <h2>Custom status</h2>
          <JsonView value={status.customStatus} testId="custom-status" />
        </div>
        <div class="panel">
          <h2>Output</h2>
          <JsonView value={status.output} testId="output" />
        </div>
      </div>
      <h2>
        Timeline {loadingHistory && <span class="muted">loading…</span>}
      </h2>
      {timeline && <TimelineView timeline={timeline} now={now} running={running} />}
    </section>
  );
}

function Failure({ details }: { details: FailureDetails }) {
  const chain: FailureDetails[] = [];
  for (let d: FailureDetails | undefined = details; d && chain.length < 20; d = d.innerFailure) chain.push(d);
  return (
    <div class="failure" data-testid="failure">
      <h2>Failure</h2>
      {chain.map((d, i) => (
        <div key={i}>
          <p>
            {i > 0 && <span class="muted">caused by </span>}
            <strong>{d.errorType}</strong>
            {d.code && <code class="code">{d.code}</code>}: {d.errorMessage}
            {d.isNonRetriable && <span class="badge">non-retriable</span>}
          </p>
          {d.stackTrace && <pre class="stack">{d.stackTrace}</pre>}
        </div>
      ))}
    </div>
  );
}
