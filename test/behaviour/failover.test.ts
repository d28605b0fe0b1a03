/**
 * One behaviour suite, run against both backends (embedded SQLite + executor, and Redis + BullMQ
 * worker): the same input, keys and scripted provider must give the same results. It holds the two
 * paths to the one failure decision and the one outcome bookkeeping (src/scheduler/failure-decision.ts,
 * outcome.ts):
 * - key failures move work: 429, quota_exhausted and auth on one key send the item to another key,
 *   and an item fails with that kind only when no key can take it;
 * - a free key move is not charged to the item's retry budget;
 * - the policy's deadline, validator and give-up message apply on both paths;
 * - a rate-limit snapshot saying "0 remaining until a reset 60 s away" does not hold the run until
 *   then once a later answer says otherwise.
 * Real time with short waits (BullMQ runs on the system clock); the decision itself is tested on
 * tables (test/scheduler/failure-decision.test.ts) and the executor on the virtual clock.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/classify/sluice-error.js';
import type { Classification } from '../../src/classify/kinds.js';
import type { RateLimitSnapshot } from '../../src/classify/rate-limit/snapshot.js';
import type { ApiKey, ProviderAdapter } from '../../src/provider/types.js';
import { embeddedBackend, redisBackend, type Backend } from './backends.js';

const KEYS: ApiKey[] = [
  { name: 'a', secret: 'sk-behaviour-a' },
  { name: 'b', secret: 'sk-behaviour-b' },
];

const items = (n: number, prefix: string): object[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, tag: `${prefix}${i}` }));

interface Call {
  tag: string;
  key: string;
  attempt: number;
  at: number;
}

/** A provider whose answer per call is scripted: a classification to throw, or a result (with an optional snapshot). */
function scripted(answer: (call: Call, n: number) => Partial<Classification> | { result?: unknown; rateLimit?: RateLimitSnapshot; latencyMs?: number } | undefined): ProviderAdapter & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    name: 'scripted',
    calls,
    async call(payload, ctx) {
      const call: Call = { tag: (payload as { tag: string }).tag, key: ctx.key.name, attempt: ctx.attempt, at: Date.now() };
      calls.push(call);
      const a = answer(call, calls.length);
      if (a && 'kind' in a) throw new SluiceError({ retryable: false, message: `${String(a.kind)} on ${ctx.key.name}`, ...a } as Classification);
      const ok = (a ?? {}) as { result?: unknown; rateLimit?: RateLimitSnapshot; latencyMs?: number };
      if (ok.latencyMs) await new Promise((r) => setTimeout(r, ok.latencyMs));
      return { result: 'result' in ok ? ok.result : { echo: call.tag }, ...(ok.rateLimit ? { rateLimit: ok.rateLimit } : {}) };
    },
  };
}

const backends: Backend[] = [embeddedBackend(), redisBackend()];
afterAll(async () => {
  for (const b of backends) await b.close();
});

describe.each(backends.map((b) => [b.name, b] as const))('%s backend', (_name, backend) => {
  it('429 on one key: the item runs at once on the other; all succeed', async () => {
    const provider = scripted((c) => (c.key === 'a' ? { kind: 'rate_limited', status: 429, retryAfterMs: 30_000 } : undefined));
    const r = await backend.run({ items: items(12, 'rl'), keys: KEYS, provider, concurrency: 1 });
    expect([...r.values()].filter((l) => l.status === 'succeeded')).toHaveLength(12);
    expect(provider.calls.filter((c) => c.key === 'a')).toHaveLength(1);
  }, 30_000);

  it('quota_exhausted on one key: the item moves to the other key (40/40 succeed)', async () => {
    const provider = scripted((c) => (c.key === 'a' ? { kind: 'quota_exhausted', status: 429, code: 'insufficient_quota', quotaScope: 'billing' } : undefined));
    const r = await backend.run({ items: items(40, 'q'), keys: KEYS, provider });
    expect([...r.values()].filter((l) => l.status === 'succeeded')).toHaveLength(40);
    // Parked after its first answer (each in-flight call on it may answer once).
    expect(provider.calls.filter((c) => c.key === 'a').length).toBeLessThanOrEqual(4);
  }, 30_000);

  it('auth on one key: the item moves to the other key; all succeed', async () => {
    const provider = scripted((c) => (c.key === 'a' ? { kind: 'auth', status: 401 } : undefined));
    const r = await backend.run({ items: items(20, 'auth'), keys: KEYS, provider });
    expect([...r.values()].filter((l) => l.status === 'succeeded')).toHaveLength(20);
    expect(provider.calls.filter((c) => c.key === 'a').length).toBeLessThanOrEqual(4);
  }, 30_000);

  it('auth on every key: every item fails with auth, each key asked about once', async () => {
    const provider = scripted(() => ({ kind: 'auth', status: 401 }));
    const r = await backend.run({ items: items(6, 'dead'), keys: KEYS, provider, concurrency: 1 });
    expect([...r.values()].map((l) => [l.status, l.error?.kind])).toEqual(Array.from({ length: 6 }, () => ['failed', 'auth']));
    expect(provider.calls.map((c) => c.key).sort()).toEqual(['a', 'b']);
  }, 30_000);

  it('a move after a revoked key is not charged: a 503 afterwards still gets its one retry', async () => {
    const seen = new Set<string>();
    const provider = scripted((c) => {
      if (c.key === 'a') return { kind: 'auth', status: 401 };
      if (!seen.has(c.tag)) {
        seen.add(c.tag);
        return { kind: 'overloaded', status: 503, retryable: true };
      }
      return undefined;
    });
    const retry = { byKind: { overloaded: { attempts: 2, backoff: { type: 'constant' as const, delayMs: 20 }, jitter: 'none' as const } } };
    const r = await backend.run({ items: items(1, 'free'), keys: KEYS, provider, retry, concurrency: 1 });
    expect(r.get('free0')?.status).toBe('succeeded');
    expect(provider.calls.map((c) => [c.key, c.attempt])).toEqual([
      ['a', 1],
      ['b', 2],
      ['b', 3],
    ]);
  }, 30_000);

  it("the policy's deadline ends retries (decide() gets the elapsed time on both paths)", async () => {
    const provider = scripted(() => ({ kind: 'overloaded', status: 503, retryable: true }));
    const retry = { deadlineMs: 300, byKind: { overloaded: { attempts: 10, backoff: { type: 'constant' as const, delayMs: 1_000 }, jitter: 'none' as const } } };
    const r = await backend.run({ items: items(1, 'dl'), keys: KEYS.slice(0, 1), provider, retry, concurrency: 1 });
    expect(r.get('dl0')).toMatchObject({ status: 'failed', error: { kind: 'overloaded', attempts: 1 } });
  }, 30_000);

  it("the policy's validator and give-up message apply (presets keep them on Redis)", async () => {
    const provider = scripted((c) => ({ result: c.tag === 'v0' ? '' : 'fine' }));
    const retry = {
      validate: (value: unknown) => {
        if (value === '') throw new SluiceError({ kind: 'invalid_request', retryable: false, message: 'empty download' });
      },
      giveUpMessage: (i: { classification: Classification }) => `gave up: ${i.classification.message}`,
    };
    const r = await backend.run({ items: items(2, 'v'), keys: KEYS.slice(0, 1), provider, retry, concurrency: 1 });
    // One executor on both paths: the same give-up message, word for word.
    expect(r.get('v0')).toMatchObject({ status: 'failed', error: { kind: 'invalid_request', attempts: 1, message: 'gave up: empty download' } });
    expect(r.get('v1')).toMatchObject({ status: 'succeeded', result: 'fine' });
  }, 30_000);

  it('retries count every attempt, and the persisted count bounds them: 503 twice then success; 503 for ever fails at the budget', async () => {
    const provider = scripted((c) => (c.tag === 'ok0' && c.attempt <= 2) || c.tag === 'bad0' ? { kind: 'overloaded', status: 503, retryable: true } : undefined);
    const retry = { byKind: { overloaded: { attempts: 3, backoff: { type: 'constant' as const, delayMs: 10 }, jitter: 'none' as const } } };
    const r = await backend.run({ items: [...items(1, 'ok'), ...items(1, 'bad')], keys: KEYS.slice(0, 1), provider, retry, concurrency: 2 });
    expect(r.get('ok0')?.status).toBe('succeeded');
    expect(r.get('bad0')).toMatchObject({ status: 'failed', error: { kind: 'overloaded', attempts: 3, status: 503 } });
    expect(provider.calls.filter((c) => c.tag === 'ok0').map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(provider.calls.filter((c) => c.tag === 'bad0').map((c) => c.attempt)).toEqual([1, 2, 3]);
  }, 30_000);

  it('a 429 with its wait on the only key: the item waits for it and succeeds, the key is not learned down', async () => {
    const provider = scripted((c) => (c.tag === 'w0' && c.attempt === 1 ? { kind: 'rate_limited', status: 429, retryAfterMs: 200, retryable: true } : undefined));
    const r = await backend.run({ items: items(3, 'w'), keys: KEYS.slice(0, 1), provider, concurrency: 1 });
    expect([...r.values()].filter((l) => l.status === 'succeeded')).toHaveLength(3);
    const calls = provider.calls.filter((c) => c.tag === 'w0');
    expect(calls.map((c) => c.attempt)).toEqual([1, 2]);
    // The retry honoured the server's wait (200 ms), give or take the clock's resolution.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(190);
  }, 30_000);

  it('a snapshot of "0 remaining, reset in 60 s" is lifted by a later answer: the run does not wait for the reset', async () => {
    const start = Date.now();
    const provider = scripted((c, n) => {
      const now = Date.now();
      // The first answer says nothing remains for a minute; the second (slower, started with it) says plenty remains.
      if (n === 1) return { rateLimit: { at: now, source: 'openai', requests: { limit: 1000, remaining: 0, resetAt: now + 60_000 } } };
      if (n === 2) return { latencyMs: 300, rateLimit: { at: now + 300, source: 'openai', requests: { limit: 1000, remaining: 900, resetAt: now + 1_000 } } };
      return undefined;
    });
    const r = await backend.run({ items: items(6, 'cap'), keys: KEYS.slice(0, 1), provider, concurrency: 2, limits: { requestsPerMinute: 6000 } });
    expect([...r.values()].filter((l) => l.status === 'succeeded')).toHaveLength(6);
    // Every call started well before the first answer's reset.
    expect(Math.max(...provider.calls.map((c) => c.at)) - start).toBeLessThan(30_000);
  }, 45_000);
});
