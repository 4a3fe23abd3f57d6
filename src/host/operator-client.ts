import type { DurableClientCore } from "../client/client-core.js";
import { LocalDurableClient } from "../client/local-client.js";
import { createRemoteClient } from "../client/remote-client.js";
import { DurableError } from "../core/errors.js";
import { systemClock } from "../runtime/clock.js";
import { providerFromUrl, redactStore } from "./store-url.js";

/** What the operator CLI talks to: a running host over HTTP, or a store directly. */
export type OperatorTarget = { url: string; key?: string } | { store: string; cwd?: string };

export interface OperatorClient {
  client: DurableClientCore;
  /** Where the client goes, for messages (a store URL without its password). */
  where: string;
  close(): Promise<void>;
}

/**
 * A durable client for operators. Over HTTP it is the remote client (the host's key goes with every
 * request); on a store it is the in-process client on that store, with no workers: what it changes
 * is written to the store, and the hosts that run the store's work carry it out.
 */
export async function connectClient(target: OperatorTarget): Promise<OperatorClient> {
  if ("url" in target) {
    let base: URL;
    try {
      base = new URL(target.url);
    } catch {
      throw new DurableError("INVALID_ARGUMENT", `'${target.url}' is not a URL. Name the host as http://host:port (the address 'perdure start' prints).`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new DurableError("INVALID_ARGUMENT", `'${target.url}' is not an http(s) URL. Name the host as http://host:port.`);
    }
    const client = createRemoteClient(base.href, target.key ? { key: target.key } : {});
    return { client, where: base.origin, close: async () => undefined };
  }
  const provider = providerFromUrl(target.store, target.cwd);
  await provider.initialize();
  return { client: new LocalDurableClient(provider, systemClock), where: redactStore(target.store), close: () => provider.close() };
}
