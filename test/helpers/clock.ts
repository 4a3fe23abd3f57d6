/** The manual clock of perdure/testing, for tests that drive a host's time by hand. */
export { ManualClock } from "../../src/testing/clock.js";
