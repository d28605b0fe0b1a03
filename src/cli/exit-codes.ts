/**
 * Exit codes of the `sluice` command. Scripts can rely on them; docs/TROUBLESHOOTING.md lists them.
 * 130 follows the shell convention for a process ended by SIGINT (128 + 2).
 */
export const ExitCode = {
  /** Every item succeeded (or there was nothing to do). */
  ok: 0,
  /** An unexpected error inside Sluice (a bug, or an unrecoverable I/O failure). */
  internal: 1,
  /** Bad command line, configuration file, environment variable or option value. */
  badConfig: 2,
  /** The run finished but some items failed; see `sluice status` and the output file. */
  someFailed: 3,
  /** A key variable or key file named in the configuration is not set or unreadable, or the probe's key was refused. */
  missingKey: 4,
  /**
   * The input file is missing or unreadable, every line of it is rejected, it changed since the state was
   * created (without --force, or with changed lines and no --changed-lines), or the state is another input's.
   */
  badInput: 5,
  /** The state file is unreadable, corrupt, not a Sluice state file, or busy (another run holds one of the run's files). */
  badState: 6,
  /** Stopped by SIGINT/SIGTERM; state is saved and the same command resumes the run. */
  interrupted: 130,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error that ends the CLI with a chosen exit code and a one-line message (no stack trace).
 * Commands throw it for expected failures; anything else is reported as {@link ExitCode.internal}.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
  }
}
