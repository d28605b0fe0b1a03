import { Command } from 'commander';
import { retryFailed } from '../../batch/index.js';
import { isErrorKind, ERROR_KINDS, type ErrorKind } from '../../classify/kinds.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { statePathFor } from './state-path.js';

/** `sluice retry-failed [input] [--kind a,b]`: failed items back to pending; the next `run` retries them. */
export function retryFailedCommand(ctx: CliContext): Command {
  const cmd = new Command('retry-failed')
    .description('Return failed items (optionally of some error kinds) to pending; then run the same command again')
    .argument('[input]', 'input file of the run')
    .option('--kind <kinds>', `only items whose last error is one of these kinds (${ERROR_KINDS.join(', ')})`)
    .option('--keep-attempts', 'keep attempt counts (items already at their limit fail on the next failure)');
  addConfigOptions(cmd, ['files']);
  cmd.action(async (input: string | undefined, opts: { kind?: string; keepAttempts?: boolean }) => {
    const { config } = configFor(ctx, cmd);
    const state = statePathFor(ctx.io.cwd, input, config);
    const kinds = opts.kind === undefined ? undefined : parseKinds(opts.kind);
    const n = await retryFailed({ state, ...(kinds ? { kinds } : {}), resetAttempts: !opts.keepAttempts });
    println(ctx.io.stdout, `${n} failed item(s) returned to pending${kinds ? ` (kinds: ${kinds.join(', ')})` : ''}.`);
    if (n > 0) println(ctx.io.stdout, `Run ${input ? `\`sluice run ${input}\`` : 'the same `sluice run` command'} again to retry them.`);
  });
  return cmd;
}

function parseKinds(text: string): ErrorKind[] {
  const kinds = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !isErrorKind(k));
  if (kinds.length === 0 || bad.length > 0) {
    throw new CliError(`invalid option --kind: ${JSON.stringify(bad.join(',') || text)} is not an error kind; allowed: ${ERROR_KINDS.join(', ')}`, ExitCode.badConfig);
  }
  return kinds as ErrorKind[];
}
