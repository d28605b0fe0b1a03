/**
 * Redis scale-out: 1, 4 and 16 worker processes (test/redis/worker-process.ts: runRedisWorker + the
 * OpenAI-compatible adapter) share one run and one quota in Redis against the simulator, with hidden
 * limits (no rate-limit headers: Sluice knows only its configured limit, equal to the server's) and
 * with the headers on (the simulator's default).
 * Figures per configuration:
 * - aggregate throughput over the global limit, from the simulator's arrival log (first to last
 *   request, so process start-up does not count) — goal >= 0.97 with 4 workers;
 * - share of 429 answers — goal < 1 %;
 * - Redis commands per completed request, from MONITOR (redis-cli) on this bench's private key prefix: the
 *   commands clients sent (round trips; a script call counts once) split into Sluice's own and
 *   BullMQ's, and beside them the commands run inside those scripts (not round trips; reported apart);
 * - idle: commands per second per worker while workers wait on a run that has nothing to do (MONITOR,
 *   same split), at the same worker counts.
 * SLUICE_BENCH_REDIS_BLIND=1 gives the workers no limit (blind: with headers off only bare 429s teach it).
 * SLUICE_BENCH_REDIS_MAX_CONCURRENT=<n> makes the server cap calls in flight per key at n instead of its rate
 * (no rate-limit headers, bare 429s, the workers blind): the figure is then the time over the minimum
 * (items x the mean latency of 25 ms / (keys x n)) and the share of 429s.
 * SLUICE_BENCH_REDIS_ADAPTIVE=1 gives the workers adaptive concurrency (up to 16 each, the fleet's limit
 * shared through Redis: batch/redis/shared-concurrency.ts) instead of a fixed 16.
 * Run alone: `BENCH=redis npx tsx bench/run.ts` (needs Redis on 127.0.0.1:6379, or SLUICE_BENCH_REDIS).
 * MONITOR costs the server and this process CPU: SLUICE_BENCH_REDIS_MONITOR=off measures throughput
 * without it (the command counts are then 0).
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
/** SLUICE_BENCH_REDIS_MAX_CONCURRENT: the server caps calls in flight per key (and not the rate); the workers know nothing of it. */
const MAX_CONCURRENT = process.env.SLUICE_BENCH_REDIS_MAX_CONCURRENT ? Number(process.env.SLUICE_BENCH_REDIS_MAX_CONCURRENT) : undefined;
/** The simulator's mean latency (uniform 10-40 ms), ms. */
const MEAN_LATENCY_MS = 25;
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
  /** 429 answers, and how many of them came in the first second of the run (before anything was learned). */
  refused: number;
  refusedFirstSecond: number;
  counts: Counts;
  seconds: number;
}

/** Commands seen on MONITOR for one prefix: sent by clients (round trips) and run inside their scripts, by owner. */
interface Counts {
  sluice: number;
  bull: number;
  sluiceInScripts: number;
  bullInScripts: number;
}

/**
 * Counts the commands of one key prefix on MONITOR. A client command is Sluice's when one of its
 * arguments is a key of Sluice's own (`<prefix>:run:`, `<prefix>:flow:`), else BullMQ's when one is
 * under `<prefix>:bull:` (Sluice's `begin-attempt.lua` names the job's BullMQ lock too: it is Sluice's);
 * the commands a script runs (source `lua`) follow its call on MONITOR (scripts are atomic) and are
 * counted for the same owner, apart.
 */
async function monitorPrefix(prefix: string): Promise<{ counts: Counts; stop(): Promise<void> }> {
  const counts: Counts = { sluice: 0, bull: 0, sluiceInScripts: 0, bullInScripts: 0 };
  if (process.env.SLUICE_BENCH_REDIS_MONITOR === 'off') return { counts, stop: async () => undefined };
  // redis-cli's MONITOR: one line per command, `<time> [<db> <client address | lua>] "<command>" "<arg>" …`.
  const url = new URL(REDIS_URL);
  const cli = spawn('redis-cli', ['-h', url.hostname, '-p', url.port || '6379', 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let owner: 'sluice' | 'bull' | undefined;
  let rest = '';
  const mine = `"${prefix}`;
  const bull = `"${prefix}:bull:`;
  const own = [`"${prefix}:run:`, `"${prefix}:flow:`];
  let lastData = Date.now();
  cli.stdout.on('data', (d: Buffer) => {
    lastData = Date.now();
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes(' lua] ')) {
        if (owner === 'sluice') counts.sluiceInScripts++;
        else if (owner === 'bull') counts.bullInScripts++;
        continue;
      }
      owner = undefined;
      if (!line.includes(mine)) continue;
      owner = line.includes(bull) && !own.some((o) => line.includes(o)) ? 'bull' : 'sluice';
      counts[owner]++;
    }
  });
  await new Promise((r) => setTimeout(r, 200)); // MONITOR is on before the work starts
  return {
    counts,
    async stop() {
      // MONITOR's stream lags the server under load: read on until it has been quiet for 500 ms (at most 20 s).
      const until = Date.now() + 20_000;
      while (Date.now() - lastData < 500 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      cli.kill('SIGTERM');
    },
  };
}

function spawnWorker(prefix: string, run: string, simUrl: string, extra: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: {
      ...process.env,
      SLUICE_W_URL: REDIS_URL,
      SLUICE_W_PREFIX: prefix,
      SLUICE_W_RUN: run,
      SLUICE_W_BASE_URL: simUrl,
      SLUICE_W_KEYS: Array.from({ length: KEYS }, (_, i) => `k${i}=sk-bench-${i}`).join(','),
      // Blind (SLUICE_BENCH_REDIS_BLIND=1): no configured limit; with headers off, only bare 429s teach the rate.
      SLUICE_W_LIMITS: JSON.stringify(process.env.SLUICE_BENCH_REDIS_BLIND === '1' || MAX_CONCURRENT !== undefined ? {} : { requestsPerMinute: RPM_PER_KEY }),
      SLUICE_W_CONCURRENCY: '16',
      ...(process.env.SLUICE_BENCH_REDIS_ADAPTIVE === '1' ? { SLUICE_W_ADAPTIVE: '1' } : {}),
      SLUICE_W_LOCK_MS: '15000',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function one(workers: number, dir: string, headers: boolean): Promise<Row> {
  const prefix = `sluice-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const run = `bench${workers}`;
  const sim = await startSimulator({
    seed: workers,
    rateLimitHeaders: MAX_CONCURRENT === undefined && headers,
    ...(MAX_CONCURRENT !== undefined ? { retryAfterHint: false } : {}),
    keys: Array.from({ length: KEYS }, (_, i) =>
      MAX_CONCURRENT !== undefined
        ? { name: `k${i}`, secret: `sk-bench-${i}`, maxConcurrent: MAX_CONCURRENT }
        : { name: `k${i}`, secret: `sk-bench-${i}`, requestsPerMinute: RPM_PER_KEY },
    ),
    latency: { type: 'uniform', min: 10, max: 40 },
  });
  const redis = await connectRedis(REDIS_URL);
  const children: ChildProcess[] = [];
  let monitor: Awaited<ReturnType<typeof monitorPrefix>> | undefined;
  try {
    // The run is enqueued first: a worker refuses a run that does not exist (run-check.ts). Workers start
    // over a second or two; the throughput counts from the first request the simulator saw.
    const input = join(dir, `${run}.jsonl`);
    writeFileSync(input, Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ id: `b${i}`, model: 'm', messages: [{ role: 'user', content: `hi ${i}` }] })).join('\n') + '\n');
    const store = new RedisJobStore(redis, { prefix, run });
    const queue = openRunQueue(redis, prefix, run);
    await enqueueBatch({ input, store, queue });
    await queue.close();
    monitor = await monitorPrefix(prefix);
    const outputs: string[] = [];
    const exits = Array.from({ length: workers }, (_, w) => {
      const child = spawnWorker(prefix, run, sim.url);
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
    await monitor.stop();
    if (codes.some((c) => c !== 0)) throw new Error(`a worker exited with ${codes.join(', ')}`);
    const stats = sim.stats();
    const log = stats.log.filter((e) => e.endpoint !== 'stats');
    const first = Math.min(...log.map((e) => e.at));
    const last = Math.max(...log.map((e) => e.at));
    const globalPerMs = (KEYS * RPM_PER_KEY) / 60_000;
    // n requests at the limit need (n - 1) intervals: the ideal span is (n - 1) / rate.
    const ratio = (log.length - 1) / (last - first) / globalPerMs;
    const rateLimited = Object.values(stats.keys).reduce((n, k) => n + k.rateLimited, 0);
    const refusedFirstSecond = log.filter((e) => e.status === 429 && e.at - first < 1000).length;
    if (process.env.SLUICE_BENCH_REDIS_TIMELINE) {
      // Arrivals and 429s per slot of the run (SLUICE_BENCH_REDIS_TIMELINE=<slot ms>), to see where time and 429s go.
      const slot = Number(process.env.SLUICE_BENCH_REDIS_TIMELINE) || 250;
      const rows = new Map<number, [number, number]>();
      for (const e of log) {
        const k = Math.floor((e.at - first) / slot);
        const r = rows.get(k) ?? [0, 0];
        r[0]++;
        if (e.status === 429) r[1]++;
        rows.set(k, r);
      }
      console.log([...rows.entries()].sort((x, y) => x[0] - y[0]).map(([k, [n, r]]) => `${(k * slot) / 1000}s ${n}${r ? `/${r}` : ''}`).join('  '));
    }
    const counts = await store.counts();
    if (counts.byState.succeeded !== ITEMS) throw new Error(`only ${counts.byState.succeeded}/${ITEMS} succeeded`);
    return {
      workers,
      headers,
      ratio,
      share429: rateLimited / stats.requests,
      refused: rateLimited,
      refusedFirstSecond,
      counts: { ...monitor.counts },
      seconds: (last - first) / 1000,
    };
  } finally {
    await monitor?.stop();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await deleteByPattern(redis, `${prefix}:*`);
    await redis.quit();
    await sim.close();
  }
}

/** Idle: `workers` workers on a run that has nothing to do (its input not all ingested yet) for `ms`; commands per second per worker. */
async function idle(workers: number, dir: string, ms: number): Promise<Counts & { perWorker: number }> {
  const prefix = `sluice-bench-idle-${process.pid}-${randomBytes(3).toString('hex')}`;
  const run = 'idle';
  const redis = await connectRedis(REDIS_URL);
  const children: ChildProcess[] = [];
  let monitor: Awaited<ReturnType<typeof monitorPrefix>> | undefined;
  try {
    const input = join(dir, `idle${workers}.jsonl`);
    writeFileSync(input, JSON.stringify({ id: 'x', model: 'm', messages: [{ role: 'user', content: 'hi' }] }) + '\n');
    const store = new RedisJobStore(redis, { prefix, run });
    const queue = openRunQueue(redis, prefix, run);
    await enqueueBatch({ input, store, queue });
    await queue.close();
    // The one item done, and the input marked as still being ingested: the workers wait for more.
    await store.complete([{ id: 'x', state: 'cancelled' }]);
    await store.setMeta({ ingestDone: false });
    const ready = Array.from({ length: workers }, () => {
      const child = spawnWorker(prefix, run, 'http://127.0.0.1:9');
      children.push(child);
      let out = '';
      return new Promise<void>((r) => child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), out.includes('"started"') && r())));
    });
    await Promise.all(ready);
    // Start-up (connect, script loads, first checks) is not idling.
    await new Promise((r) => setTimeout(r, 1500));
    monitor = await monitorPrefix(prefix);
    await new Promise((r) => setTimeout(r, ms));
    const counts = { ...monitor.counts };
    return { ...counts, perWorker: (counts.sluice + counts.bull) / workers / (ms / 1000) };
  } finally {
    await monitor?.stop();
    for (const c of children) c.kill('SIGKILL');
    await deleteByPattern(redis, `${prefix}:*`);
    await redis.quit();
  }
}

/** Prints throughput over the global limit, 429 share and Redis commands per request, then the idle cost. */
export async function benchRedis(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'));
  try {
    console.log(`${ITEMS} requests, ${KEYS} keys x ${RPM_PER_KEY}/min (global ${(KEYS * RPM_PER_KEY) / 60}/s), latency 10-40 ms, ${process.env.SLUICE_BENCH_REDIS_ADAPTIVE === '1' ? 'adaptive concurrency up to 16 per worker (the fleet limit, shared)' : '16 calls in flight per worker'}`);
    for (const [workers, headers] of CONFIGS) {
      const r = await one(workers, dir, headers);
      const per = (n: number): string => (n / ITEMS).toFixed(2);
      if (MAX_CONCURRENT !== undefined) {
        const minimum = (ITEMS * MEAN_LATENCY_MS) / (KEYS * MAX_CONCURRENT) / 1000;
        console.log(
          `${r.workers} worker(s), server cap of ${MAX_CONCURRENT} in flight per key, blind: time/minimum ${(r.seconds / minimum).toFixed(2)} (${r.seconds.toFixed(1)} s / ${minimum.toFixed(2)} s), ` +
            `429s ${(r.share429 * 100).toFixed(2)} % (${r.refused}, ${r.refusedFirstSecond} in the first second), commands/request: Sluice ${per(r.counts.sluice)}, BullMQ ${per(r.counts.bull)}`,
        );
        continue;
      }
      console.log(
        `${r.workers} worker(s), rate-limit headers ${r.headers ? 'on ' : 'off'}: throughput/limit ${r.ratio.toFixed(3)} (goal >= 0.97), 429s ${(r.share429 * 100).toFixed(2)} % (goal < 1 %; ${r.refused}, ${r.refusedFirstSecond} in the first second), ` +
          `commands/request: Sluice ${per(r.counts.sluice)} (+${per(r.counts.sluiceInScripts)} inside its scripts), BullMQ ${per(r.counts.bull)} (+${per(r.counts.bullInScripts)}), span ${r.seconds.toFixed(1)} s`,
      );
    }
    if (MAX_CONCURRENT !== undefined) return; // the idle cost does not depend on the server
    const idleMs = Number(process.env.SLUICE_BENCH_REDIS_IDLE_MS ?? 10_000);
    for (const workers of [...new Set(CONFIGS.map(([w]) => w))]) {
      const r = await idle(workers, dir, idleMs);
      const per = (n: number): string => (n / workers / (idleMs / 1000)).toFixed(2);
      console.log(`idle, ${workers} worker(s): commands/s per worker: Sluice ${per(r.sluice)} (+${per(r.sluiceInScripts)} inside its scripts), BullMQ ${per(r.bull)} (+${per(r.bullInScripts)}) over ${idleMs / 1000} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchRedis();
