import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { exportResults, openStore, type BatchCounts, type JobStore } from '../../batch/index.js';
import { loadRedisSide } from '../redis-side-loader.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { storedSettings } from '../run-settings.js';
import { statePathFor } from './state-path.js';
import { addRedisOptions, openRedisState, redisRunOf, type RedisCliOptions } from './worker.js';

/** Formats `sluice export --format` writes. */
export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;

/**
 * `sluice export [input] [--format jsonl|csv] --output file`: rewrites the full results from the state file,
 * as JSONL (the results file's lines) or as a CSV joinable to the input on its id column (`--id-column`,
 * else the run's, else `id`).
 */
export function exportCommand(ctx: CliContext): Command {
  const cmd = new Command('export')
    .description('Write every final result (id, status, text, result or error) from the state file to a JSONL or CSV file')
    .argument('[input]', 'input file of the run')
    .addOption(
      new Option('--format <format>', 'jsonl: one JSON line per item, as in the results file; csv: one row per item (id column, line, status, text, error), joinable to the input by id')
        .choices(EXPORT_FORMATS)
        .default('jsonl'),
    );
  addConfigOptions(cmd, ['files']);
  // The table's --output text describes the run's results file; export writes a file of its own.
  const outputOption = cmd.options.find((o) => o.long === '--output');
  if (outputOption) outputOption.description = `File written; default \`<input>.export.jsonl\` (\`.export.csv\` with --format csv) beside the input [a file path; env SLUICE_OUTPUT]`;
  addRedisOptions(cmd);
  cmd.action(async (input: string | undefined, opts: RedisCliOptions & { format: (typeof EXPORT_FORMATS)[number] }) => {
    const { config } = configFor(ctx, cmd);
    const redis = config.backend === 'sqlite' ? undefined : redisRunOf(ctx, opts, input);
    const state = redis ? undefined : statePathFor(ctx.io.cwd, input, config);
    const output = config.output ? resolve(ctx.io.cwd, config.output) : input ? `${resolve(ctx.io.cwd, input)}.export.${opts.format}` : undefined;
    if (!output) throw new CliError('give --output <path>', ExitCode.badConfig);
    // An unknown run is refused (Redis: no metadata; SQLite: no state file, a StateFileError).
    const redisStore = redis ? await openRedisState(config, redis) : undefined;
    const store: JobStore = redisStore ?? (await openStore(state!));
    try {
      const meta = redisStore ? (await loadRedisSide()).requireRun(redisStore, await redisStore.getMeta()) : await store.getMeta();
      const stored = storedSettings(meta)?.['idColumn'];
      const idColumn = config.idColumn ?? (typeof stored === 'string' ? stored : undefined);
      const n = await exportResults({ state: store, output, format: opts.format, ...(idColumn !== undefined ? { idColumn } : {}) });
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
