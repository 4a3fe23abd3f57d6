/** The entry module of the fleet workload's host processes: hello5's functions on df.app. */
import * as df from "../src/index.js";
import { registerHello5 } from "./workloads/hello5.js";

registerHello5(df.app);
