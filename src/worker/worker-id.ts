import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/** hostname:pid:random — unique per process start, readable in logs and in a lease's owner column. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}
