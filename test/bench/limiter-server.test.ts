/**
 * The limiter bench's server (bench/limiters) is the ground truth the limiter bench measures against, so
 * what it tells a client in each mode is checked here, over real HTTP against its own process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Algorithm, HeaderMode } from '../../bench/limiters/scenarios.js';
import { startLimiterServer, type LimiterServer } from '../../bench/limiters/spawn-server.js';

const SECRET = 'sk-limiter-test-a';
let server: LimiterServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(algorithm: Algorithm, mode: HeaderMode, rate = 3): Promise<LimiterServer> {
  server = await startLimiterServer({ algorithm, mode, rate, windowSeconds: 2, secrets: [SECRET, 'sk-limiter-test-b'], latencyMs: 0 });
  return server;
}

function post(s: LimiterServer, secret = SECRET): Promise<Response> {
  return fetch(`${s.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
}

/** Sends `count` requests one after another; returns the responses with their bodies read. */
async function sequence(s: LimiterServer, count: number, secret = SECRET): Promise<{ res: Response; body: unknown }[]> {
  const out: { res: Response; body: unknown }[] = [];
  for (let i = 0; i < count; i++) {
    const res = await post(s, secret);
    out.push({ res, body: await res.json() });
  }
  return out;
}

const rateHeaders = (res: Response): string[] =>
  [...res.headers.keys()].filter((h) => /ratelimit|retry-after/i.test(h));

describe('limiter bench server', () => {
  it('answers a chat.completion with usage until the fixed window is spent, then 429 with an OpenAI error body', async () => {
    const s = await start('fixed-window-ietf', 'blind');
    const replies = await sequence(s, 8); // window: 3/s * 2 s = 6
    expect(replies.slice(0, 6).map((r) => r.res.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replies[0]!.body).toMatchObject({ object: 'chat.completion', usage: { total_tokens: 19 } });
    expect(replies.slice(6).map((r) => r.res.status)).toEqual([429, 429]);
    expect(replies[6]!.body).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    expect(await s.stats()).toMatchObject({ requests: 8, succeeded: 6, rateLimited: 2 });
  });

  it('blind mode sends no rate-limit header and no Retry-After, on success or on 429', async () => {
    const algorithms = ['fixed-window-ietf', 'fixed-window-flexible', 'token-bucket', 'sliding-window'] as const;
    const servers = await Promise.all(
      algorithms.map((algorithm) => startLimiterServer({ algorithm, mode: 'blind', rate: 3, windowSeconds: 2, secrets: [SECRET], latencyMs: 0 })),
    );
    try {
      for (const [i, s] of servers.entries()) {
        const replies = await sequence(s, 9);
        expect(replies.some((r) => r.res.status === 429), algorithms[i]).toBe(true);
        for (const r of replies) expect(rateHeaders(r.res), algorithms[i]).toEqual([]);
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it("headers mode sends express-rate-limit's IETF draft-8 fields, with the window", async () => {
    const s = await start('fixed-window-ietf', 'headers');
    const [first] = await sequence(s, 1);
    expect(first!.res.headers.get('ratelimit-policy')).toMatch(/^"6-in-2sec"; q=6; w=2; pk=:[^:]+:$/);
    expect(first!.res.headers.get('ratelimit')).toMatch(/^"6-in-2sec"; r=5; t=[12]$/);
  });

  it('retry-after mode sends only a whole-seconds Retry-After on 429', async () => {
    const s = await start('fixed-window-flexible', 'retry-after');
    const replies = await sequence(s, 7);
    expect(rateHeaders(replies[0]!.res)).toEqual([]);
    const limited = replies[6]!;
    expect(limited.res.status).toBe(429);
    expect(rateHeaders(limited.res)).toEqual(['retry-after']);
    expect(limited.res.headers.get('retry-after')).toMatch(/^[12]$/);
  });

  it('limits each key on its own and refuses an unknown key with 401 before the limiter', async () => {
    const s = await start('token-bucket', 'headers', 1); // a bucket of 1, refilled in 1 s
    const a = await sequence(s, 2);
    const b = await sequence(s, 1, 'sk-limiter-test-b');
    expect(a.map((r) => r.res.status)).toEqual([200, 429]);
    expect(b.map((r) => r.res.status)).toEqual([200]);
    expect(a[1]!.res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(a[1]!.res.headers.get('retry-after')).toMatch(/^(0|0\.\d+|1)$/);
    expect((await post(s, 'sk-unknown')).status).toBe(401);
    expect((await s.stats()).keys.map((k) => k.requests)).toEqual([2, 1]);
  });

  it('the leaky bucket queues a burst and answers 429 once its queue is full', async () => {
    const s = await start('leaky-bucket', 'blind', 1); // drains one a second
    const statuses = await Promise.all(Array.from({ length: 10 }, () => post(s).then((r) => r.status)));
    // One passes at once, five wait in the queue, the other four find it full.
    expect(statuses.filter((x) => x === 200)).toHaveLength(6);
    expect(statuses.filter((x) => x === 429)).toHaveLength(4);
  });
});
