import { CliError, ExitCode } from './exit-codes.js';

/**
 * Maps an error from any layer to a {@link CliError} with the right exit code, by name (so the CLI
 * does not need to import every layer's error class): state-file problems, changed or missing input,
 * invalid options (RangeError/TypeError from constructors name their field).
 */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const e = err as { name?: unknown; message?: unknown; code?: unknown; path?: unknown };
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (name === 'StateFileError' || name === 'StateInUseError' || name === 'RunNotFoundError') return new CliError(message, ExitCode.badState);
  // I/O failures of a run's files (disk full, permission): the message names the file; state is kept.
  if (name === 'RunFileError' || (typeof e?.path === 'string' && message.includes(e.path) && /^(ENOSPC|EDQUOT|SQLITE_)/.test(String(e?.code)))) {
    return new CliError(message, ExitCode.internal);
  }
  if (name === 'InputLinesChangedError' || name === 'StateOfOtherInputError') return new CliError(message, ExitCode.badInput);
  if (name === 'InputChangedError') return new CliError(`${message} (use --force to resume anyway)`, ExitCode.badInput);
  if (/^input file /.test(message)) return new CliError(message, ExitCode.badInput);
  if (name === 'InputFileError' || e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') {
    return new CliError(`cannot read ${typeof e.path === 'string' ? e.path : 'input'}: ${message}`, ExitCode.badInput);
  }
  if (name === 'RangeError' || name === 'TypeError' || name === 'ZodError') {
    // Constructors throw these for invalid options; anything else of these types is a bug.
    if (/must|expected|invalid|required/i.test(message)) return new CliError(`invalid configuration: ${message}`, ExitCode.badConfig);
  }
  return new CliError(`internal error: ${message}`, ExitCode.internal);
}
