/**
 * Story: Veo submissions one every 5 s, 429/503 retried after 30 s, 60 s, 120 s, 400 failed at once
 * (seeds/veo3-sequential-submission.md), through the executor: the 5 s spacing is a limit of the key
 * (no sleep in user code), the backoff is the `veoSubmission` preset, each job keeps its own count.
 * Runs on a virtual clock against the in-memory fake provider, so the minutes take no real time.
 *
 *   npx tsx examples/veo-sequential.ts
 */
import { presets, createLogger, createSluice } from 'sluice';
import { FakeProvider, VirtualClock } from 'sluice/testing';
import type { FakeFault } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'veo3-orchestrator', clock });

const exhausted: FakeFault = { kind: 'rate_limited', status: 429, code: 'RESOURCE_EXHAUSTED', retryable: true, message: 'Resource has been exhausted' };
const unavailable: FakeFault = { kind: 'overloaded', status: 503, code: 'UNAVAILABLE', retryable: true, message: 'The service is currently unavailable' };
const invalid: FakeFault = { kind: 'invalid_request', status: 400, code: 'INVALID_ARGUMENT', retryable: false, message: 'INVALID_ARGUMENT: prompt rejected' };
/** What the fake Veo endpoint answers, per variant and attempt. */
const script: Record<string, (attempt: number) => FakeFault | undefined> = {
  'sunrise-wide': (n) => (n <= 2 ? exhausted : undefined),
  'city-night': () => invalid,
  'forest-drone': (n) => (n === 1 ? unavailable : undefined),
  'ocean-close': () => exhausted,
};

const veo = new FakeProvider({ clock, latencyMs: 1_500, fault: (p, ctx) => script[(p as { value: string }).value]?.(ctx.attempt) });
const sluice = createSluice({
  clock,
  logger,
  provider: veo,
  keys: [{ name: 'veo-project', secret: 'not-a-real-key' }],
  limits: { minSpacingMs: 5_000 }, // one submission every 5 s
  concurrency: 1,
  learnRate: false, // keep exactly the configured spacing
  defaultCooldownMs: 0, // the per-job schedule is the only wait
  retry: presets.veoSubmission(),
});

const variants = Object.keys(script);
const results = await clock.run(Promise.all(variants.map((v) => sluice.runSettled({ value: v }, { id: v }))));
for (const r of results) {
  console.log(r.ok ? `${String(r.id)}: submitted on attempt ${r.attempts}` : `${String(r.id)}: failed after ${r.attempts} attempt(s): ${(r.error as Error).message}`);
}
console.log(`virtual time: ${(clock.now() - Date.UTC(2026, 0, 1)) / 1000} s`);
await sluice.close();
