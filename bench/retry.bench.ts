/**
 * Retry benchmark: the fast path (the call succeeds at once) of Sluice `retry` against a bare call,
 * p-retry, cockatiel and exponential-backoff, in one process; then the heap held by 100,000 retry
 * loops waiting in backoff. Prints figures only.
 *
 *   node --expose-gc --import tsx -e "import('./bench/retry.bench.ts').then(m=>m.benchRetry())"
 */
import { setMaxListeners } from 'node:events';
import pRetry from 'p-retry';
import { ExponentialBackoff, handleAll, retry as cockatielRetry } from 'cockatiel';
import { backOff } from 'exponential-backoff';
import { retry } from '../src/attempt/retry.js';
import { retryPolicy } from '../src/attempt/policy.js';
import { SluiceError } from '../src/classify/sluice-error.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { heapUsed } from './support.js';

type Runner = () => Promise<unknown>;

const OPS = 50_000;
const ROUNDS = 5;

async function opsPerSecond(run: Runner, ops: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < ops; i++) await run();
  return ops / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Fast path: every library wraps the same immediately-resolving async call with 3 attempts. */
async function fastPath(): Promise<void> {
  const call = async (): Promise<number> => 1;
  const policy = retryPolicy({ default: { attempts: 3 } });
  const cockatiel = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
  const runners: [string, Runner][] = [
    ['bare call', () => call()],
    ['sluice retry', () => retry(call, policy)],
    ['p-retry', () => pRetry(call, { retries: 2 })],
    ['cockatiel retry', () => cockatiel.execute(call)],
    ['exponential-backoff', () => backOff(call, { numOfAttempts: 3 })],
  ];
  for (const [, run] of runners) await opsPerSecond(run, 10_000); // warm up every path first
  const samples = new Map<string, number[]>(runners.map(([name]) => [name, []]));
  // Interleaved rounds so that GC and JIT drift hit every library alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of runners) samples.get(name)!.push(await opsPerSecond(run, OPS));
  }
  const results = runners.map(([name]) => ({ name, ops: median(samples.get(name)!) }));
  const sluice = results.find((r) => r.name === 'sluice retry')!.ops;
  console.log(`fast path, ${ROUNDS} interleaved rounds x ${OPS.toLocaleString('en-US')} sequential calls, median:`);
  console.log(`${'implementation'.padEnd(22)}${'ops/s'.padStart(14)}${'vs sluice'.padStart(12)}${'ns/op'.padStart(10)}`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(22)}${Math.round(r.ops).toLocaleString('en-US').padStart(14)}${(r.ops / sluice).toFixed(2).padStart(11)}x${(1e9 / r.ops).toFixed(0).padStart(10)}`,
    );
  }
}

/** Heap held by `count` Sluice retry loops sleeping on the virtual clock after one failure each. */
async function waitingLoops(count: number, withSignal: boolean): Promise<void> {
  const clock = new VirtualClock();
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one caller signal shared by 100,000 loops is intended here
  const policy = retryPolicy({ default: { attempts: 2, backoff: { type: 'constant', delayMs: 60_000 }, jitter: 'none' } });
  const failure = new SluiceError({ kind: 'network', retryable: true, message: 'socket hang up' });
  const fail = (): never => {
    throw failure;
  };
  const options = withSignal ? { clock, signal: controller.signal, mode: 'result' as const } : { clock, mode: 'result' as const };
  const before = heapUsed();
  let settled = 0;
  for (let i = 0; i < count; i++) {
    void retry(fail, policy, options).then(() => settled++);
  }
  await new Promise((r) => setImmediate(r));
  const waiting = clock.pendingCount;
  const during = heapUsed();
  // End them: abort the shared signal, or let the second (last) attempt run and fail.
  if (withSignal) controller.abort();
  else await clock.runAll();
  while (settled < count) await new Promise((r) => setImmediate(r));
  // The VirtualClock drops cancelled timers lazily from its heap: let it discard them before measuring.
  await clock.advance(120_000);
  const after = heapUsed();
  console.log(
    `${count.toLocaleString('en-US')} sluice retry loops waiting in backoff ${withSignal ? 'with' : 'without'} a caller signal ` +
      `(virtual clock, ${waiting.toLocaleString('en-US')} timers): heap +${((during - before) / 1024 / 1024).toFixed(1)} MiB ` +
      `(${Math.round((during - before) / count)} B per loop); after they end: ${((after - before) / 1024 / 1024).toFixed(1)} MiB, timers left ${clock.pendingCount}`,
  );
}

/** Sluice on the system clock (real timers, 5 s backoff, left to finish), the same set-up as p-retry below. */
async function waitingSystemClock(count: number): Promise<void> {
  const failure = new SluiceError({ kind: 'network', retryable: true, message: 'socket hang up' });
  const policy = retryPolicy({ default: { attempts: 2, backoff: { type: 'constant', delayMs: 5000 }, jitter: 'none' } });
  const before = heapUsed();
  let settled = 0;
  for (let i = 0; i < count; i++) {
    void retry(
      () => {
        throw failure;
      },
      policy,
      { mode: 'result' },
    ).then(() => settled++);
  }
  await new Promise((r) => setImmediate(r)); // every loop has failed once and sleeps (creation takes < 5 s)
  const during = heapUsed();
  while (settled < count) await new Promise((r) => setTimeout(r, 100));
  console.log(
    `${count.toLocaleString('en-US')} sluice retry loops waiting in backoff (system clock, real timers): heap +${((during - before) / 1024 / 1024).toFixed(1)} MiB (${Math.round((during - before) / count)} B per loop)`,
  );
}

/** The same for p-retry (real timers, 5 s backoff, left to finish) as a reference. */
async function waitingPRetry(count: number): Promise<void> {
  const failure = new Error('socket hang up');
  const before = heapUsed();
  let settled = 0;
  for (let i = 0; i < count; i++) {
    pRetry(
      () => {
        throw failure;
      },
      { retries: 1, minTimeout: 5000, randomize: false },
    ).catch(() => settled++);
  }
  await new Promise((r) => setImmediate(r)); // every loop has failed once and sleeps (creation takes < 5 s)
  const during = heapUsed();
  while (settled < count) await new Promise((r) => setTimeout(r, 100));
  console.log(
    `${count.toLocaleString('en-US')} p-retry loops waiting in backoff (real timers): heap +${((during - before) / 1024 / 1024).toFixed(1)} MiB (${Math.round((during - before) / count)} B per loop)`,
  );
}

/** Entry point used by `bench/run.ts`. */
export async function benchRetry(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run node with --expose-gc for exact heap figures)');
  await fastPath();
  await waitingLoops(100_000, false);
  await waitingLoops(100_000, true);
  await waitingSystemClock(100_000);
  await waitingPRetry(100_000);
}
