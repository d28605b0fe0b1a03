import { describe, expect, it } from 'vitest';
import { retryPolicy } from '../../src/attempt/policy.js';
import { presets } from '../../src/attempt/presets.js';
import { RETRY_PRESETS } from '../../src/cli/options.js';
import { retryFor, retryOptionsFor } from '../../src/cli/retry-presets.js';

const base = { attempts: undefined, retry: undefined, attemptTimeout: 60_000 };

describe('CLI retry presets', () => {
  it('every preset, with and without overrides, builds a valid retry policy', () => {
    for (const retryPreset of RETRY_PRESETS) {
      expect(() => retryPolicy(retryOptionsFor({ ...base, retryPreset }))).not.toThrow();
      const merged = retryOptionsFor({ ...base, retryPreset, attempts: 7, retry: { server_error: { attempts: 2, backoff: { type: 'exponential', initialMs: 100, maxMs: 800 } } } });
      expect(() => retryPolicy(merged)).not.toThrow();
      expect(merged.byKind?.server_error?.attempts).toBe(2);
    }
  });

  it('merges --attempts into the preset and keeps its giveUpMessage and validate (one preset form, shared with the library)', () => {
    const policy = retryFor({ ...base, retryPreset: 'veo', attempts: 6 });
    const d = policy.decide({ classification: { kind: 'rate_limited', retryable: true, message: '429' }, attempt: 1, random: () => 0.5 });
    expect(d).toMatchObject({ retry: true, delayMs: 30_000, attempts: 6 });
    const s = policy.decide({ classification: { kind: 'server_error', retryable: true, message: '500' }, attempt: 1, random: () => 0.5 });
    expect(s.retry).toBe(false);
    // The story's give-up message survives the override (it was lost when the CLI had its own preset table).
    expect(policy.giveUpMessage?.({ reason: 'exhausted', classification: { kind: 'rate_limited', retryable: true, message: '429' }, attempts: 6 })).toBe('rate_limited');
    const clip = retryFor({ ...base, retryPreset: 'clip-download', attempts: 4 });
    expect(() => clip.validate?.('', 1)).toThrow(/empty result/);
    expect(clip.timeoutMs).toBe(10_000);
  });

  it('without overrides, a CLI preset decides as the library preset does', () => {
    const c = { kind: 'overloaded', retryable: true, message: '503' } as const;
    for (const [name, library] of [['veo', presets.veoSubmission()], ['clip-download', presets.clipDownload()], ['quota-plan', presets.quotaPlan()]] as const) {
      const cli = retryFor({ ...base, retryPreset: name });
      for (let attempt = 1; attempt <= 5; attempt++) {
        expect(cli.decide({ classification: c, attempt, random: () => 0.5 }), `${name} attempt ${attempt}`).toEqual(library.decide({ classification: c, attempt, random: () => 0.5 }));
      }
    }
  });
});
