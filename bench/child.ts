/** Entry of the child process that bench/run.ts forks for each run (a clean heap per measurement). */
import { runOne, type RunOutcome, type RunSpec } from "./run-one.js";

const send = (outcome: RunOutcome): void => {
  process.send!(outcome, () => process.exit(0));
};

if (!process.send) {
  console.error("bench/child.ts is started by bench/run.ts; run `npm run bench` instead.");
  process.exit(2);
}
process.on("uncaughtException", (err) => send({ kind: "error", message: `Uncaught exception: ${err.stack ?? String(err)}`, failure: "CRASHED" }));
process.on("unhandledRejection", (err) => send({ kind: "error", message: `Unhandled rejection: ${(err as Error)?.stack ?? String(err)}`, failure: "CRASHED" }));

send(await runOne(JSON.parse(process.argv[2]!) as RunSpec));
