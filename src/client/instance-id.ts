/** The instance ID and event name rules live in core (orchestrations check child IDs too). */
export { MAX_INSTANCE_ID_LENGTH, validateEventName, validateInstanceId } from "../core/instance-id.js";
