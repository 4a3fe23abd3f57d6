import type { HttpResponse } from "../runtime/http-messages.js";
import { InvalidArgumentError } from "../core/errors.js";
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

export function createCheckStatus(endpoint: HttpEndpoint, request: Request | undefined, instanceId: string): HttpResponse {
  return checkStatusResponse(instanceId, { origin: originOf(request, endpoint), key: endpoint.key, taskHub: endpoint.taskHub });
}
