import { resolve } from 'node:path';
import { Command } from 'commander';
import { exportResults } from '../../batch/index.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { statePathFor } from './state-path.js';
import { addRedisOptions, openRedisState, redisRunOf, type RedisCliOptions } from './worker.js';

/** `sluice export [input] --output file`: rewrites the full results JSONL from the state file. */
export function exportCommand(ctx: CliContext): Command {
  const cmd = new Command('export')
    .description('Write every final result (id, status, result or error) from the state file to a JSONL file')
    .argument('[input]', 'input file of the run');
  addConfigOptions(cmd, ['files']);
  // The table's --output text describes the run's results file; export writes a file of its own.
  const outputOption = cmd.options.find((o) => o.long === '--output');
  if (outputOption) outputOption.description = `File written; default \`<input>.export.jsonl\` beside the input [a file path; env SLUICE_OUTPUT]`;
  addRedisOptions(cmd);
  cmd.action(async (input: string | undefined, opts: RedisCliOptions) => {
    const { config } = configFor(ctx, cmd);
    const redis = config.backend === 'sqlite' ? undefined : redisRunOf(ctx, opts, input);
    const state = redis ? undefined : statePathFor(ctx.io.cwd, input, config);
    const output = config.output ? resolve(ctx.io.cwd, config.output) : input ? `${resolve(ctx.io.cwd, input)}.export.jsonl` : undefined;
    if (!output) throw new CliError('give --output <path>', ExitCode.badConfig);
    const store = redis ? await openRedisState(config, redis) : undefined;
    const n = await exportResults({ state: store ?? state!, output }).finally(() => store?.close());
    println(ctx.io.stdout, `${n} result(s) written to ${output}`);
  });
  return cmd;
}
