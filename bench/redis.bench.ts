/**
 * Redis scale-out: 1, 4 and 16 worker processes (test/redis/worker-process.ts: runRedisWorker + the
 * OpenAI-compatible adapter) share one run and one quota in Redis against the simulator, with hidden
 * limits (no rate-limit headers: Sluice knows only its configured limit, equal to the server's) and
 * with the headers on (the simulator's default).
 * Figures per configuration:
 * - aggregate throughput over the global limit, from the simulator's arrival log (first to last
 *   request, so process start-up does not count) — goal >= 0.97 with 4 workers;
 * - share of 429 answers — goal < 1 %;
 * - Redis round trips per request: all commands the server received (INFO stats total_commands_processed
 *   delta, BullMQ's included; other clients of the server count too; a script call counts once) and
 *   Sluice's own client calls to its flow state and store (counted by the worker, BullMQ's excluded).
 * Run alone: `BENCH=redis npm run bench` (needs Redis on 127.0.0.1:6379, or SLUICE_BENCH_REDIS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../src/simulator/server.js';
import { connectRedis } from '../src/flow/redis/connect.js';
import { deleteByPattern } from '../src/flow/redis/redis-flow-backend.js';
import { RedisJobStore } from '../src/batch/redis/redis-store.js';
import { enqueueBatch } from '../src/batch/redis/enqueue.js';
import { openRunQueue } from '../src/batch/redis/queue.js';

const REDIS_URL = process.env.SLUICE_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const WORKER = fileURLToPath(new URL('../test/redis/worker-process.ts', import.meta.url));
/** Per key, per minute; two keys: a global limit of 100 requests/s. */
const RPM_PER_KEY = 3000;
const KEYS = 2;
const ITEMS = Number(process.env.SLUICE_BENCH_REDIS_ITEMS ?? 1000);
/**
 * Worker counts and whether the simulator sends rate-limit headers: hidden limits (Sluice knows only its
 * configured limit) at 1, 4 and 16 workers, and headers on at 1 and 4. SLUICE_BENCH_REDIS_WORKERS
 * (e.g. `1,4`) and SLUICE_BENCH_REDIS_HEADERS (`off`, `on`, `both`) narrow it.
 */
const CONFIGS: [number, boolean][] = (() => {
  const counts = process.env.SLUICE_BENCH_REDIS_WORKERS?.split(',').map(Number);
  const mode = process.env.SLUICE_BENCH_REDIS_HEADERS;
  if (!counts && !mode) return [[1, false], [4, false], [16, false], [1, true], [4, true]];
  const flags = mode === 'on' ? [true] : mode === 'both' ? [false, true] : [false];
  return flags.flatMap((h) => (counts ?? [1, 4]).map((w): [number, boolean] => [w, h]));
})();

interface Row {
  workers: number;
  headers: boolean;
  ratio: number;
  share429: number;
  tripsAll: number;
  tripsSluice: number;
  seconds: number;
}

/** Commands the server received from clients (a script call counts once, whatever it does inside). */
async function commandCalls(redis: Awaited<ReturnType<typeof connectRedis>>): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

async function one(workers: number, dir: string, headers: boolean): Promise<Row> {
  const prefix = `sluice-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const run = `bench${workers}`;
  const sim = await startSimulator({
    seed: workers,
    rateLimitHeaders: headers,
    keys: Array.from({ length: KEYS }, (_, i) => ({ name: `k${i}`, secret: `sk-bench-${i}`, requestsPerMinute: RPM_PER_KEY })),
    latency: { type: 'uniform', min: 10, max: 40 },
  });
  const redis = await connectRedis(REDIS_URL);
  const children: ChildProcess[] = [];
  try {
    // The run is enqueued first: a worker refuses a run that does not exist (run-check.ts). Workers start
    // over a second or two; the throughput counts from the first request the simulator saw.
    const input = join(dir, `${run}.jsonl`);
    writeFileSync(input, Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ id: `b${i}`, model: 'm', messages: [{ role: 'user', content: `hi ${i}` }] })).join('\n') + '\n');
    const store = new RedisJobStore(redis, { prefix, run });
    const queue = openRunQueue(redis, prefix, run);
    const callsBefore = await commandCalls(redis);
    await enqueueBatch({ input, store, queue });
    await queue.close();
    const outputs: string[] = [];
    const exits = Array.from({ length: workers }, (_, w) => {
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
        env: {
          ...process.env,
          SLUICE_W_URL: REDIS_URL,
          SLUICE_W_PREFIX: prefix,
          SLUICE_W_RUN: run,
          SLUICE_W_BASE_URL: sim.url,
          SLUICE_W_KEYS: Array.from({ length: KEYS }, (_, i) => `k${i}=sk-bench-${i}`).join(','),
          SLUICE_W_LIMITS: JSON.stringify({ requestsPerMinute: RPM_PER_KEY }),
          SLUICE_W_CONCURRENCY: '16',
          SLUICE_W_LOCK_MS: '15000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      outputs[w] = '';
      let started: () => void = () => undefined;
      const ready = new Promise<void>((r) => (started = r));
      child.stdout!.on('data', (d: Buffer) => {
        outputs[w] += d.toString();
        if (outputs[w]!.includes('"started"')) started();
      });
      const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      void done.then(started);
      return { ready, done };
    });
    await Promise.all(exits.map((e) => e.ready));
    const codes = await Promise.all(exits.map((e) => e.done));
    const callsAfter = await commandCalls(redis);
    if (codes.some((c) => c !== 0)) throw new Error(`a worker exited with ${codes.join(', ')}`);
    const stats = sim.stats();
    const log = stats.log.filter((e) => e.endpoint !== 'stats');
    const first = Math.min(...log.map((e) => e.at));
    const last = Math.max(...log.map((e) => e.at));
    const globalPerMs = (KEYS * RPM_PER_KEY) / 60_000;
    // n requests at the limit need (n - 1) intervals: the ideal span is (n - 1) / rate.
    const ratio = (log.length - 1) / (last - first) / globalPerMs;
    const rateLimited = Object.values(stats.keys).reduce((n, k) => n + k.rateLimited, 0);
    const summaries = outputs.map((o) => JSON.parse(o.trim().split('\n').at(-1)!) as { roundTrips: number; stats: { attempts: number } });
    const sluiceTrips = summaries.reduce((n, s) => n + s.roundTrips, 0);
    const counts = await store.counts();
    if (counts.byState.succeeded !== ITEMS) throw new Error(`only ${counts.byState.succeeded}/${ITEMS} succeeded`);
    return {
      workers,
      headers,
      ratio,
      share429: rateLimited / stats.requests,
      tripsAll: (callsAfter - callsBefore) / stats.requests,
      tripsSluice: sluiceTrips / stats.requests,
      seconds: (last - first) / 1000,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await deleteByPattern(redis, `${prefix}:*`);
    await redis.quit();
    await sim.close();
  }
}

/** Prints throughput over the global limit, 429 share and round trips for 1, 2 and 4 workers. */
export async function benchRedis(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'));
  try {
    console.log(`${ITEMS} requests, ${KEYS} keys x ${RPM_PER_KEY}/min (global ${(KEYS * RPM_PER_KEY) / 60}/s), latency 10-40 ms, 16 jobs per worker`);
    for (const [workers, headers] of CONFIGS) {
      const r = await one(workers, dir, headers);
      console.log(
        `${r.workers} worker(s), rate-limit headers ${r.headers ? 'on ' : 'off'}: throughput/limit ${r.ratio.toFixed(3)} (goal >= 0.97), 429s ${(r.share429 * 100).toFixed(2)} % (goal < 1 %), ` +
          `Redis commands/request ${r.tripsAll.toFixed(1)} (Sluice's own client calls ${r.tripsSluice.toFixed(1)}), span ${r.seconds.toFixed(1)} s`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchRedis();
