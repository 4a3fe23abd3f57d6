/**
 * The Perdure dashboard: a single page over the host's HTTP management API. Everything the user
 * stored (ids, names, inputs, outputs, custom status) is rendered as text by Preact, never as HTML.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, onUnauthorized } from "./api.js";
import { href, useRoute } from "./router.js";
import { preference, setPreference, storedKey, storeKey } from "./session.js";
import { EntityList, EntityPage } from "./views/entities.js";
import { InstanceList } from "./views/instance-list.js";
import { InstancePage } from "./views/instance-page.js";
import { Login } from "./views/login.js";

function App() {
  const route = useRoute();
  const [auth, setAuth] = useState<"checking" | "ok" | "needed" | "refused">("checking");
  const [live, setLive] = useState(() => preference("live") !== "off");

  useEffect(() => {
    onUnauthorized((unauthorized) => {
      if (unauthorized) setAuth(storedKey() === undefined ? "needed" : "refused");
    });
    void check();
  }, []);

  async function check(): Promise<void> {
    try {
      await api.listInstances({}, 1);
      setAuth("ok");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setAuth(storedKey() === undefined ? "needed" : "refused");
      else setAuth("ok"); // the pages show other errors where they happen
    }
  }

  const page = route.page === "entities" || route.page === "entity" ? "entities" : "instances";
  return (
    <>
      <header class="top">
        <a class="brand" href={href.instances()}>
          Perdure
        </a>
        <nav>
          <a href={href.instances()} class={page === "instances" ? "on" : ""}>
            Orchestrations
          </a>
          <a href={href.entities()} class={page === "entities" ? "on" : ""}>
            Entities
          </a>
        </nav>
        <span class="spacer" />
        <label class="inline" title="Refresh what is on screen every few seconds">
          <input
            type="checkbox"
            checked={live}
            data-testid="live"
            onChange={(e) => {
              setLive(e.currentTarget.checked);
              setPreference("live", e.currentTarget.checked ? "on" : "off");
            }}
          />{" "}
          Live
        </label>
        {storedKey() !== undefined && auth === "ok" && (
          <button
            class="link"
            onClick={() => {
              storeKey(undefined);
              setAuth("checking");
              void check();
            }}
          >
            Forget key
          </button>
        )}
      </header>
      <main>
        {auth === "checking" && <p class="muted">Connecting…</p>}
        {(auth === "needed" || auth === "refused") && (
          <Login
            refused={auth === "refused"}
            onKey={(key) => {
              storeKey(key);
              setAuth("checking");
              void check();
            }}
          />
        )}
        {auth === "ok" && route.page === "instances" && <InstanceList query={route.query} live={live} />}
        {auth === "ok" && route.page === "instance" && <InstancePage id={route.id} live={live} />}
        {auth === "ok" && route.page === "entities" && <EntityList query={route.query} live={live} />}
        {auth === "ok" && route.page === "entity" && <EntityPage name={route.name} entityKey={route.key} live={live} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("root")!);
