import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import type { SimulatorOptions } from '../../simulator/index.js';
import { parseDurationText, refuseRenamedOptions } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { println } from '../io.js';
import { addRenamedFlag, intFlag } from '../flags.js';
import { loadSimulator } from '../lazy-modules.js';

/** Options of `sluice simulate` (and the numbers `sluice demo` reuses). */
export interface SimulateFlags {
  port?: string;
  keys?: string;
  requestsPerMinute?: string;
  tokensPerMinute?: string;
  window?: string;
  seed?: string;
  faultRate?: string;
  latency?: string;
  rateHeaders?: boolean;
  config?: string;
}

function fraction(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n >= 0 && n <= 0.5)) throw new CliError(`invalid option --${name}: must be a number 0..0.5, got ${JSON.stringify(value)}`, ExitCode.badConfig);
  return n;
}

function ms(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = parseDurationText(value);
  if (n === undefined || n < min) throw new CliError(`invalid option --${name}: must be a duration >= ${min} ms (e.g. 60s), got ${JSON.stringify(value)}`, ExitCode.badConfig);
  return n;
}

/** A fresh simulator secret (the simulator's keys are not real; they are printed on purpose). */
export function simulatorSecret(): string {
  return `sk-sim-${randomBytes(12).toString('hex')}`;
}

/** Turns the flags into simulator options with `keyCount` keys named `sim-key-<n>`. */
export function simulatorOptionsFromFlags(f: SimulateFlags): SimulatorOptions {
  // `--rpm`/`--tpm` are the names `sluice run` used before the library's: refused with the new flag.
  refuseRenamedOptions(f as Record<string, unknown>);
  const keyCount = intFlag('keys', f.keys, 3, 1, 100);
  const faultRate = fraction('fault-rate', f.faultRate, 0);
  const latency = ms('latency', f.latency, 0, 0);
  return {
    port: intFlag('port', f.port, 0, 0, 65_535),
    seed: intFlag('seed', f.seed, 1, -2_147_483_648, 2_147_483_647),
    windowMs: ms('window', f.window, 60_000, 100),
    rateLimitHeaders: f.rateHeaders !== false,
    keys: Array.from({ length: keyCount }, (_, i) => ({ name: `sim-key-${i + 1}`, secret: simulatorSecret() })),
    limits: {
      requestsPerMinute: intFlag('requests-per-minute', f.requestsPerMinute, 600, 1, 10_000_000),
      tokensPerMinute: intFlag('tokens-per-minute', f.tokensPerMinute, 100_000, 1, 1_000_000_000),
    },
    ...(latency > 0 ? { latency: { type: 'lognormal' as const, mean: latency, p99: latency * 4 } } : {}),
    ...(faultRate > 0
      ? { faults: { probabilities: { '429': faultRate * 0.3, '503': faultRate * 0.3, '500': faultRate * 0.2, reset: faultRate * 0.2 } } }
      : {}),
  };
}

/** `sluice simulate`: serves the provider simulator on 127.0.0.1 until SIGINT. */
export function simulateCommand(ctx: CliContext): Command {
  const cmd = new Command('simulate')
    .description('Serve the provider simulator (OpenAI, Anthropic, Gemini, Azure endpoints) on 127.0.0.1 until Ctrl-C')
    .option('--port <n>', 'port (0 = any free port)', undefined)
    .option('--keys <n>', 'number of keys (sim-key-1..n), default 3')
    .option('--requests-per-minute <n>', 'requests per minute per key, default 600')
    .option('--tokens-per-minute <n>', 'tokens per minute per key, default 100000')
    .option('--window <duration>', 'length of the rate window, default 60s (shrink it to speed time up)')
    .option('--seed <n>', 'seed of faults and latency, default 1')
    .option('--fault-rate <p>', 'share of requests answered with 429/503/500/reset faults, 0..0.5, default 0')
    .option('--latency <duration>', 'mean latency (lognormal), default none')
    .addOption(new Option('--no-rate-headers', 'send no rate-limit headers (clients must learn limits from 429s)'));
  addRenamedFlag(cmd, 'rpm');
  addRenamedFlag(cmd, 'tpm');
  cmd.action(async (flags: SimulateFlags) => {
    const options = simulatorOptionsFromFlags(flags);
    const { startSimulator } = await loadSimulator();
    const sim = await startSimulator(options);
    const out = ctx.io.stdout;
    println(out, `simulator listening on ${sim.url}`);
    println(out, `  OpenAI base URL: ${sim.url}/v1   statistics: GET ${sim.url}/_sluice/stats`);
    println(out, `  limits per key: ${options.limits?.requestsPerMinute} requests and ${options.limits?.tokensPerMinute} tokens per ${(options.windowMs ?? 60_000) / 1000} s`);
    println(out, '  keys (simulator secrets, not real):');
    for (const k of options.keys ?? []) println(out, `    ${(k.name ?? "").toUpperCase().replace(/-/g, '_')}=${k.secret}`);
    const names = (options.keys ?? []).map((k) => (k.name ?? '').toUpperCase().replace(/-/g, '_'));
    println(out, `  try: export the lines above, then sluice run prompts.jsonl --base-url ${sim.url}/v1 --keys-env ${names.join(',')}`);
    println(out, 'Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    const stats = sim.stats({ log: false });
    await sim.close();
    println(out, `simulator stopped after ${stats.requests} requests`);
  });
  return cmd;
}
