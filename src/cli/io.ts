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

/** A failure the user can fix: printed as one line, exit code 1 (usage errors: 2). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
