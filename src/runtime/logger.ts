export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * What a log record says besides its message. The runtime fills in the fields of Durable Functions'
 * tracking data: `instanceId`, `executionId`, `event`, `functionName`, `functionType`, `isReplaying`
 * and `workerId`.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Detail, such as the runtime's tracking events. A logger without it never receives them. */
  debug?(message: string, fields?: LogFields): void;
}

export type LogFormat = "json" | "text";

export interface LoggerOptions {
  /** `json`: one JSON object per line, for collectors; `text`: lines for people. Default: text on a terminal, json otherwise. */
  format?: LogFormat;
  /** The lowest level written. Default `info` (tracking events are `debug`). */
  level?: LogLevel;
  /** Where records go; warn and error go to `err`. Default: stdout and stderr. */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Whether the output is a terminal (chooses the format when none is given). Default: stdout's. */
  isTTY?: boolean;
  /** The time stamped on records. Default: the system clock. */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * The host's logger: JSON lines (`{"time","level","msg",...fields}`) where a machine reads them,
 * `time LEVEL message key=value ...` on a terminal.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? ((options.isTTY ?? process.stdout.isTTY === true) ? "text" : "json");
  const min = RANK[options.level ?? "info"];
  const out = options.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    const line = format === "json" ? jsonLine(now(), level, message, fields) : textLine(now(), level, message, fields);
    (RANK[level] >= RANK.warn ? err : out)(line);
  };
  const logger: Logger = {
    info: (m, f) => RANK.info >= min && write("info", m, f),
    warn: (m, f) => RANK.warn >= min && write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
  if (RANK.debug >= min) logger.debug = (m, f) => write("debug", m, f);
  return logger;
}

function jsonLine(time: number, level: LogLevel, msg: string, fields?: LogFields): string {
  const record: Record<string, unknown> = { time: new Date(time).toISOString(), level, msg };
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined && !(k in record)) record[k] = v;
  return JSON.stringify(record);
}

function textLine(time: number, level: LogLevel, msg: string, fields?: LogFields): string {
  const extra = fields
    ? Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : String(v)}`)
        .join(" ")
    : "";
  return `${new Date(time).toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? `  ${extra}` : ""}`;
}

/** A logger that adds `fields` to every record (its own fields win over them). */
export function withFields(logger: Logger, fields: LogFields): Logger {
  const merge = (f?: LogFields): LogFields => (f ? { ...fields, ...f } : fields);
  const bound: Logger = {
    info: (m, f) => logger.info(m, merge(f)),
    warn: (m, f) => logger.warn(m, merge(f)),
    error: (m, f) => logger.error(m, merge(f)),
  };
  if (logger.debug) {
    const debug = logger.debug.bind(logger);
    bound.debug = (m, f) => debug(m, merge(f));
  }
  return bound;
}

export const consoleLogger: Logger = createLogger();

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
