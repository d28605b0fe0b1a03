import { Command } from 'commander';
import { batchStatus } from '../../batch/index.js';
import { loadRedisSide } from '../redis-side-loader.js';
import { configFor, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { statePathFor } from './state-path.js';
import { addRedisOptions, openRedisState, redisRunOf, type RedisCliOptions } from './worker.js';

/** `sluice status [input]`: counts by state, error kind and key, from the state file. */
export function statusCommand(ctx: CliContext): Command {
  const cmd = new Command('status')
    .description('Show counts by state, by error kind and per key, from the state file')
    .argument('[input]', 'input file of the run (its state file is beside it)')
    .option('--json', 'print the counts as JSON');
  addConfigOptions(cmd, ['files']);
  addRedisOptions(cmd);
  cmd.action(async (input: string | undefined, opts: { json?: boolean } & RedisCliOptions) => {
    const { config } = configFor(ctx, cmd);
    const redis = config.backend === 'sqlite' ? undefined : redisRunOf(ctx, opts, input);
    const state = redis ? `${config.backend.replace(/\/\/[^@/]*@/, '//***@')} ${redis.prefix}:${redis.run}` : statePathFor(ctx.io.cwd, input, config);
    const store = redis ? await openRedisState(config, redis) : undefined;
    // An unknown run is refused, not shown as "items 0" (a missing state file already is a StateFileError).
    const counts = await (async () => {
      if (store) (await loadRedisSide()).requireRun(store, await store.getMeta());
      return batchStatus({ state: store ?? state });
    })().finally(() => store?.close());
    const out = ctx.io.stdout;
    if (opts.json) {
      println(out, JSON.stringify({ state, ...counts }));
    } else {
      println(out, `state ${state}`);
      println(out, `items ${counts.total}: ${Object.entries(counts.byState).map(([s, n]) => `${s} ${n}`).join(', ')}; written ${counts.written}`);
      const kinds = Object.entries(counts.failedByKind);
      if (kinds.length > 0) println(out, `failed by kind: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
      for (const [key, k] of Object.entries(counts.perKey)) {
        const f = Object.entries(k.failedByKind).map(([kind, n]) => `${kind} ${n}`).join(', ');
        println(out, `key ${key}: ${k.attempts} attempts, ${k.succeeded} succeeded${f ? `, failed attempts: ${f}` : ''}`);
      }
    }
    const done = counts.byState.pending === 0 && counts.byState.running === 0;
    ctx.exitCode = counts.byState.failed > 0 ? ExitCode.someFailed : done ? ExitCode.ok : ExitCode.interrupted;
  });
  return cmd;
}
