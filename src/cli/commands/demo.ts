import { createWriteStream, mkdirSync, mkdtempSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { openAICompatibleAdapter } from '../../provider/index.js';
import type { ApiKey } from '../../provider/types.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions, intFlag } from '../flags.js';
import { println } from '../io.js';
import { loadSession, loadSimulator } from '../lazy-modules.js';
import type { SluiceConfig } from '../options.js';
import { shapingAdapter } from '../payload.js';
import { simulatorSecret } from './simulate.js';

const TOPICS = ['a lighthouse keeper', 'a jazz drummer', 'a glacier', 'a city bus', 'an old oak', 'a chess clock', 'a night market', 'a comet'];

/** Writes the demo input: chat requests, a few with a marker the simulator answers with 400, two malformed lines. */
export async function writeDemoInput(path: string, items: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 1; i <= items; i++) {
    const topic = TOPICS[i % TOPICS.length]!;
    // About 1 % of prompts carry a marker the simulator answers with its invalid-request 400: they fail for good.
    const marker = i % 97 === 0 ? ' [[fault:400]]' : '';
    const line = JSON.stringify({
      id: `prompt-${i}`,
      payload: { model: 'gpt-4o-mini', max_tokens: 48, messages: [{ role: 'user', content: `Write two sentences about ${topic} (#${i}).${marker}` }] },
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
    // Bad input goes to the rejects file and never stops the good lines.
    if (i === Math.floor(items / 3)) out.write('{"id": "broken", "payload": \n');
    if (i === Math.floor((2 * items) / 3)) out.write('{"id": "no-payload"}\n');
  }
  out.end();
  await once(out, 'close');
}

/** Numbers of the demo: 3 keys, each 600 requests and 100,000 tokens per (scaled) minute, some faults. */
function demoDefaults(): Partial<SluiceConfig> {
  return { requestsPerMinute: 600, tokensPerMinute: 100_000, concurrency: 24, minConcurrency: 16, maxConcurrency: 64, gracePeriod: 5000, progressInterval: 2000 };
}

/**
 * `sluice demo`: the simulator in process with three keys, realistic per-key limits (time scaled so the
 * run takes well under a minute) and some faults; a batch of prompts in a temporary directory, run on
 * the embedded SQLite store with progress, the summary and the HTML report. No key, no network.
 */
export function demoCommand(ctx: CliContext): Command {
  const cmd = new Command('demo')
    .description('Run a batch against the built-in simulator (3 keys, per-key limits, faults): no key and no network needed')
    .option('--items <n>', 'number of prompts, 1..1000000 (default 2000)')
    .option('--time-scale <n>', 'how much faster than real time the limit window runs, 1..60 (default 4: a "minute" is 15 s)')
    .option('--fault-rate <p>', 'share of requests answered with 429/503/500/reset faults, 0..0.5 (default 0.02)')
    .option('--seed <n>', 'seed of the simulated faults and latency (default 7)')
    .option('--dir <path>', 'directory for input, state, output and report (default: a new temporary directory)');
  addConfigOptions(cmd, ['limits', 'retry', 'concurrency', 'quota', 'files', 'report', 'runtime']);
  cmd.action(async (flags: { items?: string; timeScale?: string; faultRate?: string; seed?: string; dir?: string }) => {
    const items = intFlag('items', flags.items, 2000, 1, 1_000_000);
    const scale = intFlag('time-scale', flags.timeScale, 4, 1, 60);
    const seed = intFlag('seed', flags.seed, 7, 0, 2_147_483_647);
    const faultRate = flags.faultRate === undefined ? 0.02 : Number(flags.faultRate);
    if (!(faultRate >= 0 && faultRate <= 0.5)) {
      throw new CliError(`invalid option --fault-rate: must be a number 0..0.5, got ${JSON.stringify(flags.faultRate)}`, ExitCode.badConfig);
    }
    const { config } = configFor(ctx, cmd, demoDefaults());
    const windowMs = Math.round(60_000 / scale);
    const dir = flags.dir ? resolve(ctx.io.cwd, flags.dir) : mkdtempSync(join(tmpdir(), 'sluice-demo-'));
    mkdirSync(dir, { recursive: true });
    const input = join(dir, 'prompts.jsonl');
    await writeDemoInput(input, items);
    const names = ['demo-key-1', 'demo-key-2', 'demo-key-3'];
    const keys: ApiKey[] = names.map((name) => ({ name, secret: simulatorSecret() }));
    const { startSimulator } = await loadSimulator();
    const sim = await startSimulator({
      seed,
      windowMs,
      keys: keys.map((k) => ({ name: k.name, secret: k.secret, requestsPerMinute: 600, tokensPerMinute: 100_000 })),
      latency: { type: 'lognormal', mean: 80, p99: 400 },
      faultRetryAfterMs: 1000,
      faults: { probabilities: { '429': faultRate * 0.25, '503': faultRate * 0.35, '500': faultRate * 0.25, reset: faultRate * 0.15 } },
    });
    const err = ctx.io.stderr;
    println(err, `sluice demo: ${items} prompts, 3 keys x 600 requests and 100,000 tokens per ${windowMs / 1000} s (time x${scale}), ~${(faultRate * 100).toFixed(1)} % faults`);
    println(err, `  simulator ${sim.url} (in process)   files in ${dir}`);
    const minimum = (items / (3 * 600)) * windowMs;
    println(err, `  theoretical minimum at these limits: ${(minimum / 1000).toFixed(1)} s`);
    try {
      const provider = shapingAdapter(openAICompatibleAdapter({ baseUrl: `${sim.url}/v1` }), 'openai', config);
      const { runSession } = await loadSession();
      const result = await runSession({
        io: ctx.io,
        config: {
          ...config,
          report: config.report ?? join(dir, 'report.html'),
          ...(config.logFile ? {} : { logFile: join(dir, 'sluice.log.jsonl') }),
        },
        input,
        keys,
        provider,
        title: `Sluice demo: ${items} prompts, 3 keys`,
        limitsWindowMs: windowMs,
      });
      const stats = sim.stats({ log: false });
      const r429 = Object.values(stats.keys).reduce((s, k) => s + k.rateLimited, 0);
      println(err, `  simulator saw ${stats.requests} requests, ${r429} answered 429 by its limits or faults`);
      println(err, `  log ${config.logFile ?? join(dir, 'sluice.log.jsonl')}`);
      if (result.reportPath !== undefined) println(ctx.io.stdout, result.reportPath);
      ctx.exitCode = result.exitCode === ExitCode.someFailed ? ExitCode.ok : result.exitCode;
    } finally {
      await sim.close();
    }
  });
  return cmd;
}
