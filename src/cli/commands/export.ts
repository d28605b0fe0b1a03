import { resolve } from 'node:path';
import { Command } from 'commander';
import { exportResults, openStore, type BatchCounts, type JobStore } from '../../batch/index.js';
import { requireRun } from '../../batch/redis/run-check.js';
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
    // An unknown run is refused (Redis: no metadata; SQLite: no state file, a StateFileError).
    const redisStore = redis ? await openRedisState(config, redis) : undefined;
    const store: JobStore = redisStore ?? (await openStore(state!));
    try {
      const meta = redisStore ? requireRun(redisStore, await redisStore.getMeta()) : await store.getMeta();
      const n = await exportResults({ state: store, output });
      println(ctx.io.stdout, `${n} result(s) written to ${output}`);
      const warning = unfinishedWarning(await store.counts(), meta?.ingestDone !== false);
      if (warning) println(ctx.io.stderr, `sluice: warning: ${warning}`);
    } finally {
      await store.close();
    }
  });
  return cmd;
}

/** Says why an export is partial, or undefined when the run is finished (ingested, nothing pending or running). */
function unfinishedWarning(counts: BatchCounts, ingested: boolean): string | undefined {
  const { pending, running } = counts.byState;
  if (ingested && pending === 0 && running === 0) return undefined;
  const left = [`${pending} pending`, `${running} running`, ...(ingested ? [] : ['input not fully ingested'])].join(', ');
  return `the run is unfinished (${left}): the export holds only the items that reached a final state so far; export again when it is done`;
}
