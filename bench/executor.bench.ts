/**
 * Executor benchmark (issue 3). Prints figures only:
 *  (1) limiter acquire/release throughput: Sluice's RateLimiter vs p-queue and bottleneck at the same limit;
 *  (2) one million jobs through the executor against an instant in-memory provider: jobs/s, and the heap
 *      held per queued job with 1e5 and 1e6 jobs queued (goal: flat, < 300 bytes);
 *  (3) on the virtual clock, 10,000 requests against the fake provider with hidden per-key limits and
 *      3 keys: completion time over the theoretical minimum (goal <= 1.03) and the share answered 429 (< 0.5 %).
 *
 *   node --expose-gc --import tsx -e "import('./bench/executor.bench.ts').then(m=>m.benchExecutor())"
 */
import PQueue from 'p-queue';
import Bottleneck from 'bottleneck';
import { RateLimiter } from '../src/flow/rate-limiter.js';
import { createSluice } from '../src/scheduler/create-sluice.js';
import type { JobResult } from '../src/scheduler/job.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FakeProvider } from '../src/testing/fake-provider.js';
import type { ProviderAdapter } from '../src/provider/types.js';
import { heapUsed } from './support.js';

/** Same limit for the three limiters: far above what the loop reaches, so the cost measured is the bookkeeping. */
const LIMIT_PER_MINUTE = 1e9;
const IN_FLIGHT = 64;

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Runs `ops` acquire/release cycles, `IN_FLIGHT` at a time; returns cycles per second. */
async function cycles(ops: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next++ < ops) await one();
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return ops / ((performance.now() - started) / 1000);
}

/** Part 1. */
export async function benchLimiters(): Promise<void> {
  console.log(`(1) limiter acquire/release, ${IN_FLIGHT} in flight, ${LIMIT_PER_MINUTE.toExponential()} requests/min and max ${IN_FLIGHT} concurrent`);
  const sluice = new RateLimiter({ requestsPerMinute: LIMIT_PER_MINUTE, maxInFlight: IN_FLIGHT, learn: false });
  const pq = new PQueue({ concurrency: IN_FLIGHT, intervalCap: LIMIT_PER_MINUTE, interval: 60_000 });
  const bn = new Bottleneck({ maxConcurrent: IN_FLIGHT, reservoir: LIMIT_PER_MINUTE, reservoirRefreshAmount: LIMIT_PER_MINUTE, reservoirRefreshInterval: 60_000 });
  const runs: [string, number, () => Promise<void>][] = [
    [
      'sluice RateLimiter.acquire',
      200_000,
      async () => {
        const permit = await sluice.acquire();
        permit.release();
      },
    ],
    [
      'sluice RateLimiter.tryAcquire',
      200_000,
      async () => {
        const permit = sluice.tryAcquire() ?? (await sluice.acquire());
        permit.release();
      },
    ],
    [
      'p-queue add',
      200_000,
      async () => {
        await pq.add(async () => undefined);
      },
    ],
    ['bottleneck schedule', 2_000, () => bn.schedule(async () => undefined)],
  ];
  const results: [string, number][] = [];
  for (const [name, ops, one] of runs) {
    await cycles(Math.min(ops, 1_000), one); // warm-up
    results.push([name, await cycles(ops, one)]);
  }
  const base = results[0]![1];
  for (const [name, rate] of results) console.log(`    ${name.padEnd(32)} ${fmt(rate).padStart(12)} ops/s   (x${(rate / base).toFixed(2)} of sluice acquire)`);
  sluice.close();
  await bn.stop({ dropWaitingJobs: true });
}

const instant: ProviderAdapter<number, number> = { name: 'instant', call: (p) => Promise.resolve({ result: p }) };

/** Heap held per queued job (executor paused), with 1e5 and 1e6 queued; measured before anything else has run. */
export async function benchHeap(): Promise<void> {
  console.log('(2) heap per queued job (executor paused; small-integer payloads, so this is the executor\'s own cost)');
  for (const mode of ['submit', 'run'] as const) {
    for (const count of [100_000, 1_000_000]) {
      const sluice = createSluice<number, number>({ provider: instant, concurrency: 256, learnRate: false });
      sluice.pause();
      let done = 0;
      const onDone = (r: JobResult<number>): void => void (r.ok && done++);
      const promises: Promise<number>[] = [];
      const before = heapUsed();
      for (let i = 0; i < count; i++) {
        if (mode === 'submit') sluice.submit(i, undefined, onDone);
        else promises.push(sluice.run(i));
      }
      const after = heapUsed();
      // Small-integer payloads cost nothing on the heap, so this is the executor's own cost per job
      // (for run(): plus the caller's promise and the array holding it).
      console.log(`    heap per queued job, ${mode.padEnd(6)} ${fmt(count).padStart(9)} queued: ${fmt((after - before) / count, 1)} bytes`);
      sluice.resume();
      if (mode === 'submit') await sluice.drain();
      else await Promise.all(promises);
      await sluice.close();
    }
  }
}

/** Part 2 (throughput). */
export async function benchThroughput(): Promise<void> {
  const N = 1_000_000;
  console.log(`(2) ${fmt(N)} jobs through the executor, instant provider, one key without limits`);
  for (const concurrency of [16, 256]) {
    const sluice = createSluice<number, number>({ provider: instant, concurrency, learnRate: false });
    let ok = 0;
    function* input(): Generator<number> {
      for (let i = 0; i < N; i++) yield i;
    }
    const started = performance.now();
    await sluice.runAll(input(), { maxQueued: 10_000, onResult: (r) => void (r.ok && ok++) });
    const secs = (performance.now() - started) / 1000;
    console.log(`    runAll, concurrency ${String(concurrency).padStart(3)}: ${fmt(N / secs)} jobs/s (${secs.toFixed(2)} s, ${fmt(ok)} ok)`);
    await sluice.close();
  }
  {
    const sluice = createSluice<number, number>({ provider: instant, concurrency: 256, learnRate: false });
    const M = 200_000;
    const started = performance.now();
    const ps: Promise<number>[] = [];
    for (let i = 0; i < M; i++) ps.push(sluice.run(i));
    await Promise.all(ps);
    const secs = (performance.now() - started) / 1000;
    console.log(`    run() x ${fmt(M)} submitted at once, concurrency 256: ${fmt(M / secs)} jobs/s`);
    await sluice.close();
  }
}

/** Part 3. */
export async function benchQuotaUse(): Promise<void> {
  const N = 10_000;
  const perKey = 600;
  const keys = ['k1', 'k2', 'k3'].map((name) => ({ name, secret: `secret-${name}` }));
  console.log(`(3) virtual clock: ${fmt(N)} requests, 3 keys with hidden limits of ${perKey} requests per sliding 60 s, 1 s latency`);
  const variants = [
    { label: 'rate-limit headers + Retry-After', headers: true, retryAfter: true },
    { label: 'Retry-After only (no headers)', headers: false, retryAfter: true },
    { label: 'bare 429 (learned rate)', headers: false, retryAfter: false },
  ];
  for (const { label, headers, retryAfter } of variants) {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 1_000, limits: { requests: perKey }, rateLimitHeaders: headers, retryAfter });
    const sluice = createSluice({ clock, provider, keys, concurrency: 64 });
    const start = clock.now();
    let lastEnd = start;
    let ok = 0;
    const run = sluice.runAll(
      Array.from({ length: N }, (_, i) => ({ value: i })),
      { maxQueued: 1_000, onResult: (r) => void (r.ok && ok++, (lastEnd = clock.now())) },
    );
    const wall = performance.now();
    await clock.run(run, { maxTimers: 10_000_000 });
    const theoretical = (N / (perKey * keys.length)) * 60_000;
    const elapsed = lastEnd - start;
    console.log(
      `    ${label.padEnd(34)}: ${(elapsed / 1000).toFixed(1)} s virtual vs ${(theoretical / 1000).toFixed(1)} s minimum ` +
        `= x${(elapsed / theoretical).toFixed(3)}; 429 share ${((provider.stats.rateLimited / provider.stats.calls) * 100).toFixed(2)} % ` +
        `(${provider.stats.rateLimited}/${provider.stats.calls} calls), ${fmt(ok)} ok, ${((performance.now() - wall) / 1000).toFixed(1)} s wall`,
    );
    await sluice.close();
  }
}

/** Entry point used by `npm run bench` (bench/run.ts). */
export async function benchExecutor(): Promise<void> {
  await benchLimiters();
  await benchHeap();
  await benchThroughput();
  await benchQuotaUse();
}
