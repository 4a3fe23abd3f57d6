import type { Workload } from "../harness.js";
import { bigpayload } from "./bigpayload.js";
import { concurrent } from "./concurrent.js";
import { entity } from "./entity.js";
import { fanout } from "./fanout.js";
import { fleet } from "./fleet.js";
import { hello5 } from "./hello5.js";
import { latency } from "./latency.js";
import { limit } from "./limit.js";
import { sequence } from "./sequence.js";
import { timers } from "./timers.js";

/** Every workload, in the order the table lists them. */
export const WORKLOADS: readonly Workload[] = [hello5, sequence, fanout, latency, entity, timers, bigpayload, concurrent, limit, fleet];
