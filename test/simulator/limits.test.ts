import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { bearer, chat, send, until } from './helpers.js';

let sim: Simulator | undefined;
let clock: VirtualClock;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(options: SimulatorOptions): Promise<Simulator> {
  clock = new VirtualClock();
  sim = await startSimulator({ clock, ...options });
  return sim;
}
const call = (s: Simulator, key = 'sk-a', content = 'hi', extra: Record<string, unknown> = {}) =>
  send(s, '/v1/chat/completions', { body: chat(content, extra), headers: bearer(key) });

describe('simulator: per-key limits', () => {
  it('enforces requests per minute over a sliding window, per key, with OpenAI headers', async () => {
    const s = await start({ keys: [{ name: 'a', secret: 'sk-a' }, { name: 'b', secret: 'sk-b' }], limits: { requestsPerMinute: 3 }, limiter: { algorithm: 'sliding-window' } });
    expect((await call(s)).headers['x-ratelimit-remaining-requests']).toBe('2');
    await clock.advance(20_000);
    await call(s);
    await clock.advance(20_000);
    const third = await call(s);
    expect(third.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(third.headers['x-ratelimit-reset-requests']).toBe('1m0s');
    const refused = await call(s);
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded', param: null } });
    expect((refused.json() as { error: { message: string } }).error.message).toContain('on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.');
    // The first request leaves the window 60 s after it arrived: 20 s from now.
    expect(refused.headers['retry-after']).toBe('20');
    expect(refused.headers['retry-after-ms']).toBeUndefined(); // Azure's header, not OpenAI's
    expect((await call(s, 'sk-b')).status).toBe(200); // other key unaffected
    await clock.advance(19_999);
    expect((await call(s)).status).toBe(429);
    await clock.advance(1);
    expect((await call(s)).status).toBe(200);
    const stats = s.stats();
    expect(stats.keys['a']).toMatchObject({ requests: 6, successes: 4, rateLimited: 2, limits: { requests: 2 } });
  });

  it('enforces tokens per minute counted from text chars / 4 plus max output tokens', async () => {
    const s = await start({ limits: { tokensPerMinute: 100 }, limiter: { algorithm: 'sliding-window' } });
    const forty = 'x'.repeat(160); // 40 tokens
    expect((await call(s, 'sk-a', forty, { max_tokens: 20 })).headers['x-ratelimit-remaining-tokens']).toBe('40');
    const refused = await call(s, 'sk-a', forty, { max_tokens: 20 });
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
    expect((refused.json() as { error: { message: string } }).error.message).toContain('tokens per min (TPM): Limit 100, Used 60, Requested 60.');
    expect((await call(s, 'sk-a', forty)).status).toBe(200); // 40 tokens fit
    const tooLarge = await call(s, 'sk-a', 'x'.repeat(800));
    expect((tooLarge.json() as { error: { message: string } }).error.message).toContain('Request too large for gpt-4o-mini');
    expect(tooLarge.headers['retry-after']).toBeUndefined();
    expect(s.stats().keys[Object.keys(s.stats().keys)[0]!]!.tokens).toBe(100);
  });

  it('token bucket (the default): a one-second burst, an even refill, and resets that mean time to refill (OpenAI: 12ms at 4999/5000)', async () => {
    const s = await start({ limits: { requestsPerMinute: 5_000 }, limiter: { burstFraction: 1 } });
    const first = await call(s);
    expect(first.headers['x-ratelimit-remaining-requests']).toBe('4999');
    expect(first.headers['x-ratelimit-reset-requests']).toBe('12ms');
    await s.close();
    const sec = await start({ limits: { requestsPerMinute: 600 } }); // burst 10, then one per 100 ms
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await call(sec)).status);
    expect(codes.filter((c) => c === 200)).toHaveLength(10);
    await clock.advance(100);
    expect((await call(sec)).status).toBe(200);
    expect((await call(sec)).status).toBe(429);
  });

  it('fixed window: the whole allowance at any moment of a window aligned to the epoch, reset = end of the window', async () => {
    const s = await start({ limits: { requestsPerMinute: 5 }, windowMs: 5_000, limiter: { algorithm: 'fixed-window' } });
    await clock.advance(5_000 - (clock.now() % 5_000) + 1_000); // one second into a window
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await call(s)).status);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await call(s);
    expect(refused.headers['retry-after']).toBe('4');
    await clock.advance(4_000);
    expect((await call(s)).headers['x-ratelimit-remaining-requests']).toBe('4');
  });

  it('leaky bucket: even spacing, no burst; sliding window: the allowance in any window', async () => {
    const leaky = await start({ limits: { requestsPerMinute: 600 }, limiter: { algorithm: 'leaky-bucket' } });
    expect((await call(leaky)).status).toBe(200);
    expect((await call(leaky)).status).toBe(429);
    await clock.advance(100);
    expect((await call(leaky)).status).toBe(200);
    await leaky.close();
    const sliding = await start({ limits: { requestsPerMinute: 3 }, limiter: { algorithm: 'sliding-window' } });
    for (let i = 0; i < 3; i++) expect((await call(sliding)).status).toBe(200);
    expect((await call(sliding)).status).toBe(429);
  });

  it('enforces requests per day (quota) and concurrent requests', async () => {
    const s = await start({ keys: [{ name: 'a', secret: 'sk-a', requestsPerDay: 2, maxConcurrent: 1 }], latency: { type: 'fixed', ms: 1000 } });
    const first = call(s);
    await until(() => clock.pendingCount === 1);
    const concurrent = await call(s);
    expect(concurrent.status).toBe(429);
    expect((concurrent.json() as { error: { message: string } }).error.message).toContain('concurrent requests');
    await clock.advance(1000);
    expect((await first).status).toBe(200);
    const second = call(s);
    await until(() => clock.pendingCount === 1);
    await clock.advance(1000);
    expect((await second).status).toBe(200);
    const overDay = await call(s);
    expect(overDay.status).toBe(429);
    expect((overDay.json() as { error: { message: string } }).error.message).toContain('requests per day (RPD): Limit 2');
    await clock.advance(86_400_000);
    const nextDay = call(s);
    await until(() => clock.pendingCount === 1);
    await clock.advance(1000);
    expect((await nextDay).status).toBe(200);
  });

  it('close() cancels pending latency timers and leaves none behind', async () => {
    const s = await start({ latency: { type: 'fixed', ms: 60_000 } });
    const pending = call(s);
    pending.catch(() => undefined);
    await until(() => clock.pendingCount === 1);
    await s.close();
    sim = undefined;
    await expect(pending).rejects.toThrow();
    expect(clock.pendingCount).toBe(0);
  });

  it('revokes a key after N requests: later ones get 401', async () => {
    const s = await start({ keys: [{ name: 'a', secret: 'sk-a', revokeAfter: 2 }] });
    expect((await call(s)).status).toBe(200);
    expect((await call(s)).status).toBe(200);
    const revoked = await call(s);
    expect(revoked.status).toBe(401);
    expect(revoked.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect(s.stats().log.map((e) => e.outcome)).toEqual(['ok', 'ok', 'revoked']);
  });

  it('hides rate-limit headers and wait hints when asked', async () => {
    const s = await start({ limits: { requestsPerMinute: 1 }, rateLimitHeaders: false, retryAfterHint: false });
    const ok = await call(s);
    expect(ok.headers['x-ratelimit-remaining-requests']).toBeUndefined();
    const refused = await call(s);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(refused.headers['retry-after-ms']).toBeUndefined();
    expect((refused.json() as { error: { message: string } }).error.message).not.toContain('try again in');
  });

  it('rejects invalid options with the field named', async () => {
    await expect(startSimulator({ limits: { requestsPerMinute: -1 } })).rejects.toThrow(/limits\.requestsPerMinute/);
    await expect(startSimulator({ faults: { probabilities: { '500': 0.7, '503': 0.7 } } })).rejects.toThrow(/faults\.probabilities must sum/);
    await expect(startSimulator({ keys: [{ secret: 'x' }, { secret: 'x' }] })).rejects.toThrow(/keys\.1\.secret/);
    await expect(startSimulator({ latency: { type: 'normal', mean: 10, p99: 5 } })).rejects.toThrow(/latency\.p99/);
  });
});
