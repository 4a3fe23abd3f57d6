import { InvalidArgumentError } from "../core/errors.js";
import { isTerminalStatus } from "../core/status.js";
import type { DurableClient, WaitOrCheckStatusOptions } from "./durable-client.js";
import { statusPayload } from "./http-shapes.js";
import { checkStatusResponse, type HttpManagementPayload, managementPayload } from "./management-urls.js";

/** What a client needs to build management URLs: where the host listens, its key and hub name. */
export interface HttpEndpoint {
  /** The host's own origin (undefined when it has no HTTP listener). */
  origin: string | undefined;
  key: string | undefined;
  taskHub: string;
}

function originOf(request: Request | undefined, endpoint: HttpEndpoint): string {
  if (request) return new URL(request.url).origin;
  if (endpoint.origin) return endpoint.origin;
  throw new InvalidArgumentError("Cannot build management URLs: this host has no HTTP listener. Start it with a port, or pass the incoming request.");
}

export function httpManagementPayload(endpoint: HttpEndpoint, instanceId: string, request?: Request): HttpManagementPayload {
  return managementPayload(instanceId, { origin: originOf(request, endpoint), key: endpoint.key, taskHub: endpoint.taskHub });
}

export function createCheckStatus(endpoint: HttpEndpoint, request: Request | undefined, instanceId: string): Response {
  return checkStatusResponse(instanceId, { origin: originOf(request, endpoint), key: endpoint.key, taskHub: endpoint.taskHub });
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });

/** durable-functions' waitForCompletionOrCreateCheckStatusResponse, over any client. */
export async function waitOrCheckStatus(
  client: DurableClient,
  endpoint: HttpEndpoint,
  request: Request | undefined,
  instanceId: string,
  options: WaitOrCheckStatusOptions = {},
  /** Stops waiting (answering with the check-status response) when the caller has gone. */
  signal?: AbortSignal,
): Promise<Response> {
  const timeout = options.timeoutInMilliseconds ?? 10_000;
  const interval = options.retryIntervalInMilliseconds ?? 1_000;
  if (!(timeout >= 0) || !(interval > 0)) throw new InvalidArgumentError("timeoutInMilliseconds must be >= 0 and retryIntervalInMilliseconds > 0.");
  if (interval > timeout) throw new InvalidArgumentError(`Total timeout ${timeout} (ms) should be bigger than retry timeout ${interval} (ms)`);
  const deadline = Date.now() + timeout;
  for (;;) {
    const status = await client.getStatus(instanceId);
    if (isTerminalStatus(status.runtimeStatus)) {
      if (status.runtimeStatus === "Completed") return json(200, status.output ?? null);
      return json(status.runtimeStatus === "Failed" ? 500 : 200, statusPayload(status));
    }
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return createCheckStatus(endpoint, request, instanceId);
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
  }
}
