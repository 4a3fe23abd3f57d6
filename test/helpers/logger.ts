import type { LogFields, Logger } from "../../src/runtime/logger.js";

export interface LogLine {
  level: string;
  message: string;
  fields?: LogFields;
}

/** A host logger that keeps every record, for tests that read what a host said. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const push = (level: string) => (message: string, fields?: LogFields) => void lines.push(fields ? { level, message, fields } : { level, message });
  return { lines, info: push("info"), warn: push("warn"), error: push("error"), debug: push("debug") };
}
