import { describeThrown } from "../core/describe-value.js";
import { InvalidArgumentError } from "../core/errors.js";
import type { FailureDetails } from "../core/failure.js";
import { serializePayload, utf8Length } from "../core/payload.js";
import type { Logger } from "./logger.js";

/** The largest exception properties stored with a failure, as JSON: the size of the cut message and stack. */
export const MAX_PROPERTIES_BYTES = 32 * 1024;

/** durable-functions 3.5: custom properties recorded with an activity's failure (`FailureDetails.properties`). */
export interface ExceptionPropertiesProvider {
  getExceptionProperties(error: unknown): Record<string, unknown> | undefined;
}

export function checkExceptionPropertiesProvider(provider: unknown): ExceptionPropertiesProvider | undefined {
  if (provider === undefined || provider === null) return undefined;
  if (typeof (provider as Partial<ExceptionPropertiesProvider>).getExceptionProperties !== "function") {
    throw new InvalidArgumentError("setExceptionPropertiesProvider needs { getExceptionProperties(error) { return { ... } or undefined } } (or null to remove it).");
  }
  return provider as ExceptionPropertiesProvider;
}

/**
 * The failure with what the provider says about the error. As in durable-functions, a provider that
 * throws, or returns something that is not a plain JSON object, never hides the original failure: its
 * answer is left out and a warning says why.
 */
export function withExceptionProperties(details: FailureDetails, error: unknown, provider: ExceptionPropertiesProvider | undefined, logger: Logger, functionName: string): FailureDetails {
  if (!provider) return details;
  let properties: unknown;
  try {
    properties = provider.getExceptionProperties(error);
  } catch (err) {
    logger.warn(`The exception properties provider threw for a failure of '${functionName}' (${describeThrown(err).message}); the failure is recorded without properties.`, { functionName });
    return details;
  }
  if (properties === undefined || properties === null) return details;
  if (typeof properties !== "object" || Array.isArray(properties)) {
    logger.warn(`The exception properties provider returned ${Array.isArray(properties) ? "an array" : typeof properties} for a failure of '${functionName}'; it must return a plain object or undefined. The failure is recorded without properties.`, { functionName });
    return details;
  }
  try {
    const json = serializePayload(properties, "The exception properties");
    // Kept small, as the message and stack are: they go into history, the status and the logs.
    const bytes = json === undefined ? 0 : utf8Length(json);
    if (bytes > MAX_PROPERTIES_BYTES) {
      logger.warn(`The exception properties of a failure of '${functionName}' are ${bytes.toLocaleString("en-US")} bytes as JSON, over the ${MAX_PROPERTIES_BYTES.toLocaleString("en-US")} kept with a failure. The failure is recorded without them.`, { functionName });
      return details;
    }
    return json === undefined ? details : { ...details, properties: JSON.parse(json) as Record<string, unknown> };
  } catch (err) {
    logger.warn(`The exception properties of a failure of '${functionName}' cannot be stored: ${describeThrown(err).message}. The failure is recorded without them.`, { functionName });
    return details;
  }
}
