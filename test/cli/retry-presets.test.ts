import { describe, expect, it } from 'vitest';
import { retryPolicy } from '../../src/attempt/policy.js';
import { RETRY_PRESETS } from '../../src/cli/options.js';
import { retryFor, retryOptionsFor } from '../../src/cli/retry-presets.js';

const base = { maxAttempts: undefined, retry: undefined, attemptTimeout: 60_000 };

describe('CLI retry presets', () => {
  it('every preset, with and without overrides, builds a valid retry policy', () => {
    for (const retryPreset of RETRY_PRESETS) {
      expect(() => retryPolicy(retryOptionsFor({ ...base, retryPreset }))).not.toThrow();
      const merged = retryOptionsFor({ ...base, retryPreset, maxAttempts: 7, retry: { server_error: { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 800 } } });
      expect(() => retryPolicy(merged)).not.toThrow();
      expect(merged.byKind?.server_error?.attempts).toBe(2);
    }
  });

  it('uses the canonical preset policy when nothing overrides it, and merges --max-attempts into the preset otherwise', () => {
    const veo = retryFor({ ...base, retryPreset: 'veo' });
    expect(typeof (veo as { decide?: unknown }).decide).toBe('function');
    const options = retryFor({ ...base, retryPreset: 'veo', maxAttempts: 6 });
    const policy = retryPolicy(options as Parameters<typeof retryPolicy>[0]);
    const d = policy.decide({ classification: { kind: 'rate_limited', retryable: true, message: '429' }, attempt: 1, random: () => 0.5 });
    expect(d).toMatchObject({ retry: true, delayMs: 30_000, maxAttempts: 6 });
    const s = policy.decide({ classification: { kind: 'server_error', retryable: true, message: '500' }, attempt: 1, random: () => 0.5 });
    expect(s.retry).toBe(false);
  });
});
