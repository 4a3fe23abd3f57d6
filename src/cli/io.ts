/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: tables are cut to its width. */
  readonly isTTY: boolean;
  /** stderr is a terminal: long operations draw a progress bar there. */
  readonly errTTY: boolean;
  /** The terminal's width (80 when unknown). */
  readonly columns: number;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  get errTTY() {
    return process.stderr.isTTY === true;
  },
  get columns() {
    return process.stdout.columns || 80;
  },
};

/**
 * A failure the user can fix: printed as one line ending in its stable code, exit code 1 (usage
 * errors: 2). `detail` (a stack) is printed under it only with --verbose.
 */
export class CliError extends Error {
  readonly code: string;
  constructor(
    message: string,
    readonly exitCode = 1,
    code?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.code = code ?? (exitCode === 2 ? "USAGE" : "FAILED");
  }
}

/** The line (and with `verbose`, the detail) a CliError prints; a message that already names its code keeps it. */
export function errorText(err: CliError, verbose: boolean): string {
  const line = /\([A-Z][A-Z_]+\)$/.test(err.message) ? err.message : `${err.message} (${err.code})`;
  return verbose && err.detail ? `${line}\n${err.detail}\n` : `${line}\n`;
}
