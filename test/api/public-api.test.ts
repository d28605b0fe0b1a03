/**
 * The README's library examples, run through the public entry points (`sluice`, `sluice/simulator`,
 * `sluice/testing`): what the README promises is what the package exports and does.
 */
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import {
  classify,
  createSluice,
  functionAdapter,
  keyedClients,
  presets,
  retry,
  retryPolicy,
  RetryError,
} from '../../src/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { CallContext } from '../../src/index.js';
import { VirtualClock, FakeProvider } from '../../src/testing/index.js';

describe('public API (README examples)', () => {
  it('classifies insufficient_quota as quota_exhausted, not retryable', () => {
    const c = classify({ status: 429, headers: {}, body: { error: { code: 'insufficient_quota', type: 'insufficient_quota', message: 'You exceeded your current quota' } } });
    expect(c).toMatchObject({ kind: 'quota_exhausted', retryable: false, status: 429, code: 'insufficient_quota' });
  });

  it('runs the Veo preset on the virtual clock: 30 s, 60 s, 120 s, then gives up with "rate_limited"', async () => {
    const clock = new VirtualClock({ start: 0 });
    const starts: number[] = [];
    const failing = retry(
      async () => {
        starts.push(clock.now());
        throw Object.assign(new Error('429 RESOURCE_EXHAUSTED'), { status: 429 });
      },
      presets.veoSubmission(),
      { clock },
    );
    const error = await clock.run(failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as Error).message).toContain('rate_limited');
    expect(starts).toEqual([0, 30_000, 90_000, 210_000]);
    expect(clock.pendingCount).toBe(0);
  });

  it('rejects an invalid policy at build time, naming the field', () => {
    expect(() => retryPolicy({ byKind: { rate_limited: { attempts: -1 } } })).toThrow(/rate_limited\.attempts/);
  });

  it('runs the official openai client under Sluice against the simulator, with the key Sluice picks', async () => {
    const sim = await startSimulator({ keys: [{ name: 'sim-a', secret: 'sk-sim-a' }, { name: 'sim-b', secret: 'sk-sim-b' }] });
    const keys = [
      { name: 'team-a', secret: 'sk-sim-a' },
      { name: 'team-b', secret: 'sk-sim-b' },
    ];
    const client = keyedClients((key) => new OpenAI({ apiKey: key.secret, maxRetries: 0, baseURL: `${sim.url}/v1` }));
    const sluice = createSluice({
      provider: functionAdapter(
        (payload: OpenAI.ChatCompletionCreateParamsNonStreaming, { key, signal }: CallContext) => client(key).chat.completions.create(payload, { signal }),
        { name: 'openai-sdk', provider: 'openai' },
      ),
      keys,
      limits: { requestsPerMinute: 500, tokensPerMinute: 200_000 },
    });
    try {
      const answers = await Promise.all(
        ['one', 'two', 'three', 'four'].map((content) => sluice.run({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })),
      );
      expect(answers.every((a) => typeof a.choices[0]?.message.content === 'string')).toBe(true);
      const stats = sim.stats();
      const perKey = Object.values(stats.keys).map((k) => k.requests);
      // Round robin over both keys: each key carried part of the work.
      expect(perKey.length).toBe(2);
      expect(perKey.every((n) => n >= 1)).toBe(true);
    } finally {
      await sluice.close();
      await sim.close();
    }
  });

  it('exports FakeProvider from sluice/testing for virtual-time runs', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 100 });
    const sluice = createSluice({ provider, keys: [{ name: 'k', secret: 's' }], clock });
    const done = sluice.run({ value: 'x' });
    await expect(clock.run(done)).resolves.toBeDefined();
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });
});
