/**
 * Perdure: Durable Functions for TypeScript, self-hosted. The names follow the durable-functions v3
 * package, so an Azure Durable Functions app ports by changing its imports to `perdure`.
 */
import type { DurableClient } from "./client/durable-client.js";
import { CLIENT_KEY } from "./client/client-key.js";
import { DurableError } from "./core/errors.js";

export { app, createApp, DurableApp } from "./app.js";
export { RetryOptions } from "./core/retry-options.js";
export { EntityId } from "./core/entity-id.js";
export { entityProxy, signalProxy, type EntityOperationName } from "./core/entity-class.js";
export type { DurableEntityContext } from "./core/entities/entity-context.js";
export { LockHandle } from "./core/entity-tasks.js";
export type { EntityFunctionContext } from "./runtime/registry.js";
export { OrchestrationRuntimeStatus } from "./core/status.js";
export { createHost, type Host, type HostOptions } from "./host/host.js";
export { DEFAULT_STORE_URL, providerFromUrl, StoreUrlError } from "./host/store-url.js";
export { createLogger, type Logger, type LoggerOptions, type LogFields, type LogFormat, type LogLevel } from "./runtime/logger.js";
export {
  DurableError,
  DuplicateFunctionError,
  EntityOperationFailedError,
  LockingRulesViolationError,
  FunctionNotFoundError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  InvalidArgumentError,
  InvalidInstanceStateError,
  HistoryUnreadableError,
  LockLostError,
  NonDeterminismError,
  OrchestratorConstraintError,
  PayloadError,
  PayloadTooLargeError,
  HistoryTooLongError,
  TaskFailedError,
  WaitTimeoutError,
} from "./core/errors.js";
export type { TaskFailureDetails as FailureDetails } from "./core/failure-details.js";
export type { HistoryEvent } from "./core/history.js";
export { Task, TimerTask } from "./core/tasks.js";
export { HTTP_ACTIVITY_NAME, type CallHttpOptions, type DurableHttpRequest, type DurableHttpResponse } from "./core/http-task.js";
export { HttpRequestError } from "./runtime/builtin-http-activity.js";
export type { OrchestrationContext, DurableOrchestrationContext, OrchestratorFunction, ContinueAsNewOptions } from "./core/context.js";
export type { ActivityContext } from "./runtime/registry.js";
export type {
  AnyEntityOperations,
  RegisteredActivity,
  RegisteredActivityTask,
  RegisteredEntity,
  RegisteredOrchestration,
  RegisteredOrchestrationTask,
  TypedEntityId,
} from "./core/registered-types.js";
export {
  InvocationContext,
  type InvocationContextInit,
  type EffectiveFunctionOptions,
  type FunctionInput,
  type FunctionOutput,
  type FunctionTrigger,
  type LogHandler,
  type RetryContext,
  type TraceContext,
  type TriggerMetadata,
} from "./runtime/invocation-context.js";
export type {
  DurableClient,
  OrchestrationFilter,
  PageRequest,
  StatusPage,
  PurgeHistoryResult,
  StartNewOptions,
  WaitOptions,
  CleanEntityStorageResult,
  EntityMetadata,
  EntityPage,
  EntityQuery,
  SignalEntityOptions,
  WaitOrCheckStatusOptions,
} from "./client/durable-client.js";
export { EntityStateResponse } from "./client/durable-client.js";
export * from "./durable-functions.js";
export type { DurableOrchestrationStatus, GetStatusOptions, ParkedStatus } from "./client/status.js";
export type { HistoryRow, StatusPayload } from "./client/wire.js";
export { PARK_CODES, type RetryPolicy } from "./core/step-policy.js";
export type { HttpManagementPayload } from "./client/management-urls.js";
export type { ClientFunctionContext, HttpClientRequest } from "./http/client-functions.js";
export { MemoryProvider } from "./providers/memory/memory-provider.js";
export { replayHistories, HISTORY_EXPORT_FORMAT, type ExportedHistory, type ReplayResult, type ReplayOk, type ReplayDivergence } from "./runtime/replay-check.js";
export { SqliteProvider, type SqliteProviderOptions } from "./providers/sqlite/sqlite-provider.js";
export type { StorageProvider } from "./providers/provider.js";
export { Worker, type WorkerOptions } from "./worker/worker.js";
export { RemoteDurableClient, createRemoteClient } from "./client/remote-client.js";

export { CLIENT_KEY } from "./client/client-key.js";

/** Input binding marker, for apps ported from durable-functions (`extraInputs: [df.input.durableClient()]`). */
export const input = {
  durableClient: (): { type: "durableClient"; name: string } => ({ type: "durableClient", name: "durableClient" }),
};

/** The durable client of a function's invocation context (activities get one too). */
export function getClient(context: unknown): DurableClient {
  const client = (context as { [CLIENT_KEY]?: DurableClient } | undefined)?.[CLIENT_KEY];
  if (!client) {
    throw new DurableError(
      "CLIENT_NOT_AVAILABLE",
      "Could not find a durable client on this invocation context. Call df.getClient with the context Perdure passed to an activity or client function.",
    );
  }
  return client;
}
