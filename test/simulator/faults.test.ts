import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions, type SimulatorStats } from '../../src/simulator/index.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { bearer, chat, send, until } from './helpers.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  sim = await startSimulator(options);
  return sim;
}
const call = (s: Simulator, content = 'hi', key = 'sk-a') => send(s, '/v1/chat/completions', { body: chat(content), headers: bearer(key) });

describe('simulator: faults by marker', () => {
  it('answers 429 with and without a wait hint, quota, 500, 503, 400, 401 in OpenAI shapes', async () => {
    const s = await start({ faultRetryAfterMs: 1500 });
    const hinted = await call(s, 'go [[fault:429]]');
    expect(hinted.status).toBe(429);
    expect(hinted.headers['retry-after']).toBe('2');
    expect(hinted.headers['retry-after-ms']).toBeUndefined(); // Azure's header, not OpenAI's
    const bare = await call(s, '[[fault:429-no-hint]]');
    expect(bare.status).toBe(429);
    expect(bare.headers['retry-after']).toBeUndefined();
    expect(bare.headers['retry-after-ms']).toBeUndefined();
    expect((await call(s, '[[fault:quota]]')).json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } });
    expect((await call(s, '[[fault:500]]')).json()).toMatchObject({ error: { type: 'server_error' } });
    expect((await call(s, '[[fault:503]]')).status).toBe(503);
    expect((await call(s, '[[fault:400]]')).json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect((await call(s, '[[fault:401]]')).status).toBe(401);
    expect((await call(s, '[[fault:filtered]]')).json()).toMatchObject({ error: { code: 'content_policy_violation' } });
    const key = Object.keys(s.stats().keys)[0]!;
    expect(key).toMatch(/^key-[0-9a-f]{8}$/); // open mode names keys by hash, never by secret
    expect(s.stats().keys[key]).toMatchObject({ requests: 8, successes: 0, rateLimited: 3, faults: { '429': 1, '429-no-hint': 1, quota: 1, '500': 1 } });
  });

  it('sends broken bodies: HTML page, truncated JSON, malformed JSON', async () => {
    const s = await start();
    const html = await call(s, '[[fault:html]]');
    expect(html.status).toBe(502);
    expect(html.headers['content-type']).toBe('text/html');
    expect(html.text).toContain('<title>502 Bad Gateway</title>');
    const truncated = await call(s, '[[fault:truncated]]');
    expect(truncated.status).toBe(200);
    expect(truncated.text.startsWith('{"id":"chatcmpl-')).toBe(true);
    expect(() => JSON.parse(truncated.text) as unknown).toThrow();
    const malformed = await call(s, '[[fault:malformed]]');
    expect(() => JSON.parse(malformed.text) as unknown).toThrow();
  });

  it('resets the connection, and hangs until the client aborts', async () => {
    const s = await start();
    await expect(call(s, '[[fault:reset]]')).rejects.toThrow();
    const controller = new AbortController();
    const hanging = request(`${s.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(chat('[[fault:hang]]')), headers: bearer('sk-a'), signal: controller.signal });
    await until(() => s.stats().keys[Object.keys(s.stats().keys)[0] ?? '']?.faults['hang'] === 1);
    controller.abort();
    await expect(hanging).rejects.toThrow();
    expect((await call(s, 'still alive')).status).toBe(200);
  });

  it('a hang ends when the server closes', async () => {
    const s = await start();
    const hanging = call(s, '[[fault:hang]]');
    hanging.catch(() => undefined);
    await until(() => s.stats({ log: false }).requests === 1);
    await s.close();
    sim = undefined;
    await expect(hanging).rejects.toThrow();
  });

  it('sends a slow body in chunks on the clock', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, slowBody: { chunks: 3, delayMs: 5000 } });
    const answer = call(s, '[[fault:slow]]');
    await until(() => clock.pendingCount === 1);
    await clock.advance(5000);
    await until(() => clock.pendingCount === 1);
    await clock.advance(5000);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ object: 'chat.completion' });
  });
});

describe('simulator: faults by schedule and probability', () => {
  it('gives scheduled requests their fault (global and per key)', async () => {
    const s = await start({ faults: { schedule: [{ from: 2, to: 3, fault: '503' }, { from: 2, to: 2, fault: '500', key: 'b' }] }, keys: [{ name: 'a', secret: 'sk-a' }, { name: 'b', secret: 'sk-b' }] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(s)).status);
    expect(statuses).toEqual([200, 503, 503, 200]);
    expect((await call(s, 'x', 'sk-b')).status).toBe(200);
    expect((await call(s, 'x', 'sk-b')).status).toBe(500);
  });

  it('gives requests inside a time window their fault (an outage on the clock)', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, faults: { schedule: [{ fromMs: 10_000, toMs: 20_000, fault: '503' }] } });
    expect((await call(s)).status).toBe(200);
    await clock.advance(10_000);
    expect((await call(s)).status).toBe(503);
    await clock.advance(9_999);
    expect((await call(s)).status).toBe(503);
    await clock.advance(1);
    expect((await call(s)).status).toBe(200);
    await expect(startSimulator({ faults: { schedule: [{ from: 1, fromMs: 5, fault: '500' }] } })).rejects.toThrow(/faults\.schedule\.0/);
  });

  it('replays the same decisions from the same seed', async () => {
    const run = async (seed: number): Promise<SimulatorStats> => {
      const s = await startSimulator({ seed, faults: { probabilities: { '500': 0.2, '429': 0.2, '503': 0.1 } } });
      for (let i = 0; i < 60; i++) await call(s, `prompt ${i}`);
      const stats = s.stats();
      await s.close();
      return stats;
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    const outcomes = (st: SimulatorStats): string[] => st.log.map((e) => e.outcome);
    expect(outcomes(a)).toEqual(outcomes(b));
    expect(a.keys).toEqual(b.keys);
    expect(outcomes(a)).not.toEqual(outcomes(c));
    const faults = outcomes(a).filter((o) => o !== 'ok').length;
    expect(faults).toBeGreaterThan(10);
    expect(faults).toBeLessThan(50);
  });
});

describe('simulator: stats endpoint and robustness', () => {
  it('serves stats over HTTP with arrival times, and resets them', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, keys: [{ name: 'a', secret: 'sk-a' }] });
    await call(s);
    await clock.advance(500);
    await call(s, 'x', 'sk-wrong');
    const stats = (await send(s, '/_sluice/stats')).json() as unknown as SimulatorStats;
    expect(stats.requests).toBe(2);
    expect(stats.log).toEqual([
      { at: clock.now() - 500, key: 'a', endpoint: 'openai.chat', outcome: 'ok', status: 200 },
      { at: clock.now(), key: '(unknown)', endpoint: 'openai.chat', outcome: 'unauthorized', status: 401 },
    ]);
    expect(((await send(s, '/_sluice/stats?log=0')).json() as unknown as SimulatorStats).log).toEqual([]);
    expect((await send(s, '/_sluice/reset', { method: 'POST' })).status).toBe(200);
    expect(s.stats().requests).toBe(0);
  });

  it('bounds the request log', async () => {
    const s = await start({ maxLogEntries: 2 });
    for (let i = 0; i < 4; i++) await call(s);
    expect(s.stats()).toMatchObject({ requests: 4, logDropped: 2 });
    expect(s.stats().log).toHaveLength(2);
  });

  it('answers 413 to a body over the limit, and 404 to unknown paths', async () => {
    const s = await start({ maxBodyBytes: 1000 });
    const big = await call(s, 'x'.repeat(5000));
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const unknown = await send(s, '/v1/nothing', { body: {} });
    expect(unknown.json()).toEqual({ error: { message: 'Invalid URL (POST /v1/nothing)', type: 'invalid_request_error', param: null, code: null } });
    expect((await send(s, '/v1beta/nothing', { body: {} })).json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
    expect((await call(s)).status).toBe(200);
  });

  it('survives malformed requests and raw garbage', async () => {
    const s = await start();
    const bodies: unknown[] = ['', 'null', '[]', '"str"', '{"model":1,"messages":"x"}', '{"messages":[{"content":{"deep":[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]}}]}', '\u0000\uffff', '{"model":"m","messages":[],"max_tokens":-5}'];
    for (const body of bodies) {
      const res = await send(s, '/v1/chat/completions', { body: body as string, headers: bearer('sk-a') });
      expect([200, 400]).toContain(res.status);
    }
    for (const path of ['/v1beta/models/%E0%A4%A:generateContent', '/openai/deployments/x/chat/completions?api-version=%%%']) {
      const res = await send(s, path, { body: '{', headers: { 'x-goog-api-key': 'k', 'api-key': 'k' } });
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
    await new Promise<void>((resolve) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.end('GARBAGE \u0001\u0002 NOT HTTP\r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    expect((await call(s)).status).toBe(200);
  });
});
