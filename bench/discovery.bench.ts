/**
 * BENCH=discovery: how fast `createSluice` with its defaults (told no limit) finds and uses a hidden
 * limit, on the virtual clock, against each algorithm the simulator's counters implement (token bucket
 * with a small burst, leaky bucket, fixed window, sliding window), blind (bare 429s), with Retry-After
 * only, and with OpenAI or IETF headers, for 1 and 3 keys.
 *
 * This is the fast inner loop (virtual time, milliseconds of wall time per scenario); the ground truth
 * is BENCH=limiters, which runs limiter packages the project did not write in a separate process.
 *
 * Env: BENCH_DISCOVERY_N (requests, default 400), BENCH_DISCOVERY_RATE (requests/s per key, default 20),
 * BENCH_DISCOVERY_FILTER (regex on the scenario name), BENCH_DISCOVERY_FAULTS (share of random
 * 503/500/429 faults, default 0), BENCH_DISCOVERY_CONCURRENCY (a fixed limit instead of the default adaptive one), BENCH_DISCOVERY_FAULT_STATUSES (which of them, e.g. `503,500`; default all).
 */
import { createSluice } from '../src/scheduler/create-sluice.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FakeProvider, type FakeFault, type FakeProviderOptions } from '../src/testing/fake-provider.js';
import type { LimitAlgorithm } from '../src/simulator/limit-algorithms.js';
import { mulberry32 } from '../src/simulator/random.js';

interface Scenario {
  name: string;
  algorithm: LimitAlgorithm;
  windowMs: number;
  burstFraction?: number;
  headers: FakeProviderOptions['rateLimitHeaders'];
  retryAfter: boolean;
  keys: number;
}

const N = Number(process.env['BENCH_DISCOVERY_N'] ?? 400);
const RATE = Number(process.env['BENCH_DISCOVERY_RATE'] ?? 20);
const FAULTS = Number(process.env['BENCH_DISCOVERY_FAULTS'] ?? 0);
/** BENCH_DISCOVERY_FAULT_STATUSES: which of 503,500,429 the random faults are (default all three). */
const FAULT_STATUSES = (process.env['BENCH_DISCOVERY_FAULT_STATUSES'] ?? '').split(',').filter(Boolean).map(Number);
const FILTER = new RegExp(process.env['BENCH_DISCOVERY_FILTER'] ?? '.');

function scenarios(): Scenario[] {
  const shapes: Omit<Scenario, 'name' | 'headers' | 'retryAfter' | 'keys'>[] = [
    // burst 5 of a 20/s limit: a window of 1 s holding 20, burst 5/20.
    { algorithm: 'token-bucket', windowMs: 1_000, burstFraction: 0.25 },
    { algorithm: 'leaky-bucket', windowMs: 1_000 },
    { algorithm: 'fixed-window', windowMs: 5_000 },
    { algorithm: 'sliding-window', windowMs: 5_000 },
  ];
  const modes: { mode: string; headers: FakeProviderOptions['rateLimitHeaders']; retryAfter: boolean }[] = [
    { mode: 'blind', headers: false, retryAfter: false },
    { mode: 'retry-after', headers: false, retryAfter: true },
    { mode: 'ietf', headers: 'ietf', retryAfter: true },
  ];
  const out: Scenario[] = [];
  for (const shape of shapes) {
    for (const m of modes) {
      for (const keys of [1, 3]) {
        out.push({ ...shape, name: `${shape.algorithm} ${m.mode} ${keys}key`, headers: m.headers, retryAfter: m.retryAfter, keys });
      }
    }
  }
  return out.filter((s) => FILTER.test(s.name));
}

async function runScenario(s: Scenario): Promise<void> {
  const clock = new VirtualClock();
  const perWindow = (RATE * s.windowMs) / 1000;
  const random = mulberry32(7);
  const allFaults: FakeFault[] = [
    { kind: 'overloaded', status: 503, retryable: true },
    { kind: 'server_error', status: 500, retryable: true },
    { kind: 'rate_limited', status: 429, retryable: true, retryAfterMs: 1_000 },
  ];
  const faultKinds = allFaults.filter((f) => FAULT_STATUSES.length === 0 || (f.status !== undefined && FAULT_STATUSES.includes(f.status)));
  const provider = new FakeProvider({
    clock,
    latencyMs: 5,
    algorithm: s.algorithm,
    ...(s.burstFraction !== undefined ? { burstFraction: s.burstFraction } : {}),
    limits: { requests: perWindow, windowMs: s.windowMs },
    rateLimitHeaders: s.headers,
    retryAfter: s.retryAfter,
    ...(FAULTS > 0 ? { fault: () => (random() < FAULTS ? faultKinds[Math.floor(random() * faultKinds.length)] : undefined) } : {}),
  });
  const keys = Array.from({ length: s.keys }, (_, i) => ({ name: `k${i + 1}`, secret: `secret-${i + 1}` }));
  const sluice = createSluice({ clock, provider, keys, ...(process.env.BENCH_DISCOVERY_CONCURRENCY ? { concurrency: Number(process.env.BENCH_DISCOVERY_CONCURRENCY) } : {}) });
  const changes: string[] = [];
  sluice.events.on('concurrencyChange', (c) => changes.push(`${c.from}->${c.to} (${c.reason})`));
  const start = clock.now();
  let lastEnd = start;
  let ok = 0;
  const total = N * s.keys;
  const run = sluice.runAll(
    Array.from({ length: total }, (_, i) => ({ value: i })),
    { maxQueued: 1_000, onResult: (r) => void (r.ok && ok++, (lastEnd = clock.now())) },
  );
  await clock.run(run, { maxTimers: 10_000_000 });
  const minimum = (total / (RATE * s.keys)) * 1000;
  const limited = provider.stats.rateLimited;
  console.log(
    `  ${s.name.padEnd(32)} x${((lastEnd - start) / minimum).toFixed(3)} of N/rate; 429s ${limited}/${provider.stats.calls} ` +
      `(${((limited / provider.stats.calls) * 100).toFixed(1)} %); lost ${total - ok}` +
      (process.env['BENCH_DISCOVERY_VERBOSE'] ? `; concurrency ${changes.join(', ')}` : ''),
  );
  await sluice.close();
}

/** Entry point used by `npm run bench` (bench/run.ts). */
export async function benchDiscovery(): Promise<void> {
  console.log(`discovery (virtual clock): createSluice defaults, told no limit; ${N} requests per key at ${RATE}/s per key, 5 ms latency` + (FAULTS > 0 ? `, ${FAULTS * 100} % random faults` : ''));
  for (const s of scenarios()) await runScenario(s);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDiscovery();
