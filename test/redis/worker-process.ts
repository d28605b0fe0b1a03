/**
 * One worker process of the multi-process tests and the benchmark: `runRedisWorker` against an
 * OpenAI-compatible server. Configured by environment: SLUICE_W_URL (Redis), SLUICE_W_PREFIX,
 * SLUICE_W_RUN, SLUICE_W_BASE_URL, SLUICE_W_KEYS (name=secret,...), SLUICE_W_LIMITS (JSON KeyLimits),
 * SLUICE_W_CONCURRENCY (with SLUICE_W_ADAPTIVE=1: adaptive, up to that many), SLUICE_W_LOCK_MS. Like `sluice worker`, it stores its share of the run's time series
 * in Redis (what `sluice report` draws); SLUICE_W_TIMELINE=off leaves it out. Prints its summary as one JSON
 * line and exits 0.
 */
import { runRedisWorker } from '../../src/batch/redis/run-worker.js';
import { bridgeRunEvents } from '../../src/cli/observe-run.js';
import { systemClock } from '../../src/clock/system-clock.js';
import { TimelineBuffer } from '../../src/observe/report/timeline.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`worker-process: ${name} is not set`);
  return value;
}

const keys = env('SLUICE_W_KEYS')
  .split(',')
  .map((pair) => {
    const [name = '', secret = ''] = pair.split('=');
    return { name, secret };
  });
import { monitorEventLoopDelay } from 'node:perf_hooks';
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const controller = new AbortController();
const timeline = process.env.SLUICE_W_TIMELINE === 'off' ? undefined : new TimelineBuffer({ initialLimit: Number(process.env.SLUICE_W_CONCURRENCY ?? 8) });
process.on('SIGTERM', () => controller.abort());
const summary = await runRedisWorker({
  url: env('SLUICE_W_URL'),
  prefix: env('SLUICE_W_PREFIX'),
  run: env('SLUICE_W_RUN'),
  provider: openAICompatibleAdapter({ baseUrl: `${env('SLUICE_W_BASE_URL')}/v1` }),
  keys,
  limits: JSON.parse(process.env.SLUICE_W_LIMITS ?? '{}') as Record<string, number>,
  concurrency: process.env.SLUICE_W_ADAPTIVE === '1' ? { adaptive: true, max: Number(process.env.SLUICE_W_CONCURRENCY ?? 8) } : Number(process.env.SLUICE_W_CONCURRENCY ?? 8),
  lockDurationMs: Number(process.env.SLUICE_W_LOCK_MS ?? 2000),
  retry: { default: { attempts: 20, backoff: { type: 'constant', delayMs: 20 } } },
  // The run's end is pushed; the slow check (default 5 s) only notices a vanished run.
  ...(process.env.SLUICE_W_POLL_MS ? { pollMs: Number(process.env.SLUICE_W_POLL_MS) } : {}),
  signal: controller.signal,
  ...(timeline ? { timeline: { buffer: timeline } } : {}),
  onStart: (worker) => {
    worker.events.on('error', (e) => process.stderr.write(`worker error: ${e.message}\n`));
    if (timeline) bridgeRunEvents({ clock: systemClock, batch: worker.batchEvents, executor: worker.executorEvents }, [timeline]);
    process.stdout.write('{"started":true}\n');
  },
});
if (process.env.SLUICE_W_LAG) process.stderr.write(`event loop lag max ${Math.round(lag.max / 1e6)} ms p99 ${Math.round(lag.percentile(99) / 1e6)} ms, cpu ${Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000)} ms, attempts ${summary.stats.attempts}, sluice round trips ${summary.roundTrips}\n`);
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(0);
