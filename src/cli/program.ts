import { Command, CommanderError } from 'commander';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { reportCommand } from './commands/report.js';
import { retryFailedCommand } from './commands/retry-failed.js';
import { runCommand } from './commands/run.js';
import { simulateCommand } from './commands/simulate.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { createContext, type CliContext } from './context.js';
import { toCliError } from './errors.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { println, processIO, type CliIO } from './io.js';

/** Builds the `sluice` commander program. Commands set `ctx.exitCode`. */
export function buildProgram(ctx: CliContext): Command {
  const output = {
    writeOut: (s: string) => ctx.io.stdout.write(s),
    writeErr: (s: string) => ctx.io.stderr.write(s),
  };
  const program = new Command('sluice')
    .description('Run generative-AI API calls at the full rate quotas allow: durable batches, per-key limits, classified retries.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(output);
  for (const make of [runCommand, simulateCommand, demoCommand, statusCommand, reportCommand, retryFailedCommand, exportCommand, workerCommand]) {
    // addCommand() does not pass the output settings on: `sluice run --help` must write to ctx.io too.
    program.addCommand(make(ctx).configureOutput(output));
  }
  // Commander errors (unknown option, missing argument) must not call process.exit: map them to codes.
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * Runs the CLI with `argv` (as in `process.argv`) and resolves with the exit code. Expected failures
 * print one line `sluice: <message>`; unexpected ones also print the stack when SLUICE_DEBUG is set.
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO()): Promise<ExitCodeValue> {
  const ctx = createContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv]);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      return ExitCode.badConfig;
    }
    const cliError = toCliError(err);
    println(io.stderr, `sluice: ${cliError.message}`);
    if (cliError.exitCode === ExitCode.internal && io.env.SLUICE_DEBUG) println(io.stderr, String((err as Error).stack));
    return cliError.exitCode;
  }
}
