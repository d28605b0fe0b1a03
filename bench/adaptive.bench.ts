/**
 * BENCH=adaptive: adaptive concurrency against the best fixed concurrency, on the virtual clock, with
 * random faults and ample quota (issue 10: "with 10 % random faults, throughput stays >= 0.9 of the best
 * fixed concurrency").
 *
 * The server is processor-sharing: up to CAPACITY calls at once answer in BASE_MS; beyond that each call
 * takes longer in proportion (latency = BASE_MS * inFlight / CAPACITY), so throughput is flat above
 * CAPACITY and the best fixed concurrency is any limit at or above it. Faults are random (10 % by
 * default): 503, 500, and 429 with Retry-After 1 s, each answered with the key's OpenAI-style rate-limit
 * headers showing ample quota, as a real server's error answers carry them.
 *
 * Env: BENCH_ADAPTIVE_N (items, default 20,000: a run long enough that one 1 s cooldown is not 7 % of it), BENCH_ADAPTIVE_FAULTS (share, default 0.1),
 * BENCH_ADAPTIVE_CAPACITY (default 32).
 */
import { createSluice, type ConcurrencyOption } from '../src/scheduler/create-sluice.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FakeProvider, type FakeFault } from '../src/testing/fake-provider.js';
import { mulberry32 } from '../src/simulator/random.js';

const N = Number(process.env['BENCH_ADAPTIVE_N'] ?? 20_000);
const FAULTS = Number(process.env['BENCH_ADAPTIVE_FAULTS'] ?? 0.1);
const CAPACITY = Number(process.env['BENCH_ADAPTIVE_CAPACITY'] ?? 32);
const BASE_MS = 100;
const MAX = 64;

const FAULT_KINDS: FakeFault[] = [
  { kind: 'overloaded', status: 503, retryable: true },
  { kind: 'server_error', status: 500, retryable: true },
  { kind: 'rate_limited', status: 429, retryable: true, retryAfterMs: 1_000 },
];

/** Items per second of one run with this concurrency option, and the limits it moved through. */
async function throughput(concurrency: ConcurrencyOption): Promise<{ perSec: number; changes: string[] }> {
  const clock = new VirtualClock();
  const random = mulberry32(11);
  let inFlight = 0;
  const provider = new FakeProvider({
    clock,
    // Ample quota: 1,000,000 requests per minute, announced in OpenAI-style headers.
    limits: { requests: 1_000_000, windowMs: 60_000 },
    rateLimitHeaders: 'openai',
    latencyMs: () => {
      inFlight++;
      const ms = BASE_MS * Math.max(1, inFlight / CAPACITY);
      clock.setTimer(ms, () => void inFlight--);
      return ms;
    },
    fault: () => (random() < FAULTS ? FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)] : undefined),
  });
  const sluice = createSluice({ clock, provider, keys: [{ name: 'k1', secret: 'secret-1' }], concurrency });
  const changes: string[] = [];
  sluice.events.on('concurrencyChange', (c) => changes.push(`${c.from}->${c.to}${process.env.BENCH_ADAPTIVE_VERBOSE ? ` @${((clock.now() - start) / 1000).toFixed(1)}s (${c.reason})` : ''}`));
  const start = clock.now();
  let ok = 0;
  const run = sluice.runAll(Array.from({ length: N }, (_, i) => ({ value: i })), { onResult: (r) => void (r.ok && ok++) });
  await clock.run(run, { maxTimers: 50_000_000 });
  const seconds = (clock.now() - start) / 1000;
  await sluice.close();
  return { perSec: ok / seconds, changes };
}

/** Entry point used by `npm run bench` (bench/run.ts). */
export async function benchAdaptive(): Promise<void> {
  console.log(`adaptive concurrency (virtual clock): ${N} items, ${FAULTS * 100} % random 503/500/429 faults, server capacity ${CAPACITY} at ${BASE_MS} ms, ample quota`);
  let best = 0;
  for (const c of [4, 8, 16, 32, 64]) {
    const { perSec } = await throughput(c);
    best = Math.max(best, perSec);
    console.log(`  fixed ${String(c).padEnd(3)}          ${perSec.toFixed(1).padStart(7)} items/s`);
  }
  const adaptive = await throughput({ adaptive: true, max: MAX });
  console.log(
    `  adaptive (max ${MAX})   ${adaptive.perSec.toFixed(1).padStart(7)} items/s = ${(adaptive.perSec / best).toFixed(2)} of the best fixed (target >= 0.90); ` +
      `${adaptive.changes.length} changes, last ${adaptive.changes.slice(process.env['BENCH_ADAPTIVE_VERBOSE'] ? 0 : -3).join(', ') || '-'}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAdaptive();
