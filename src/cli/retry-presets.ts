import type { ErrorKind } from '../classify/kinds.js';
import type { KindPolicyOptions, RetryPolicy, RetryPolicyOptions } from '../attempt/policy.js';
import { clipDownload, genaiProcessing, veoSubmission } from '../attempt/presets.js';
import type { RetryOverride, SluiceConfig } from './options.js';

/**
 * The retry presets the CLI offers by name, as retry-policy options. These reproduce the stories in
 * ../shared/seeds (Veo submission, clip download, GenAI processing fix, quota plan).
 * Without overrides the CLI uses the canonical policies of `src/attempt/presets.ts` (see
 * {@link retryFor}); this table is their options form, so that `--max-attempts` and per-kind
 * overrides can be merged into them.
 */
const PRESETS: Record<SluiceConfig['retryPreset'], RetryPolicyOptions> = {
  default: {},
  veo: {
    byKind: {
      rate_limited: { retry: true, attempts: 4, backoff: { type: 'schedule', delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' },
      overloaded: { retry: true, attempts: 4, backoff: { type: 'schedule', delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' },
      server_error: { retry: false },
      timeout: { retry: false },
      network: { retry: false },
    },
  },
  'clip-download': {
    timeoutMs: 10_000,
    default: { attempts: 3, backoff: { type: 'schedule', delaysMs: [1000, 2000, 4000] }, jitter: 'none' },
    byKind: { not_found: { retry: false }, auth: { retry: false } },
  },
  'genai-processing': {
    default: { attempts: 3, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
    byKind: { auth: { retry: false } },
  },
  'quota-plan': {
    byKind: {
      rate_limited: { retry: true, attempts: 5, backoff: { type: 'exponential', initialMs: 60_000, factor: 2, maxMs: 300_000 }, jitter: { type: 'proportional', ratio: 0.1 } },
      quota_exhausted: { attempts: 3, backoff: { type: 'exponential', initialMs: 300_000, factor: 2, maxMs: 3_600_000 }, jitter: { type: 'proportional', ratio: 0.1 } },
      server_error: { retry: true, attempts: 4, backoff: { type: 'exponential', initialMs: 500, factor: 2, maxMs: 4000 }, jitter: { type: 'proportional', ratio: 0.1 } },
    },
  },
};

/** The retry policy of a configuration: the canonical preset when nothing overrides it, else merged options. */
export function retryFor(config: Pick<SluiceConfig, 'retryPreset' | 'maxAttempts' | 'retry' | 'attemptTimeout'>): RetryPolicy | RetryPolicyOptions {
  if (config.maxAttempts === undefined && config.retry === undefined) {
    if (config.retryPreset === 'veo') return veoSubmission();
    if (config.retryPreset === 'clip-download') return clipDownload();
    if (config.retryPreset === 'genai-processing') return genaiProcessing().policy;
  }
  return retryOptionsFor(config);
}

/** The retry-policy options for a configuration: the preset, then `--max-attempts`, then per-kind overrides. */
export function retryOptionsFor(config: Pick<SluiceConfig, 'retryPreset' | 'maxAttempts' | 'retry' | 'attemptTimeout'>): RetryPolicyOptions {
  const preset = PRESETS[config.retryPreset];
  const byKind: Partial<Record<ErrorKind, KindPolicyOptions>> = { ...preset.byKind };
  const options: RetryPolicyOptions = { ...preset, timeoutMs: preset.timeoutMs ?? config.attemptTimeout, byKind };
  if (config.maxAttempts !== undefined) {
    options.default = { ...preset.default, attempts: config.maxAttempts };
    for (const k of Object.keys(byKind) as ErrorKind[]) byKind[k] = { ...byKind[k], attempts: config.maxAttempts };
  }
  for (const [kind, o] of Object.entries(config.retry ?? {}) as [ErrorKind, RetryOverride][]) {
    byKind[kind] = { ...byKind[kind], ...kindOverride(o) };
  }
  return options;
}

function kindOverride(o: RetryOverride): KindPolicyOptions {
  const out: KindPolicyOptions = {};
  if (o.retry !== undefined) out.retry = o.retry;
  if (o.maxAttempts !== undefined) out.attempts = o.maxAttempts;
  if (o.schedule) out.backoff = { type: 'schedule', delaysMs: o.schedule };
  else if (o.initialDelayMs !== undefined || o.maxDelayMs !== undefined || o.factor !== undefined) {
    const initialMs = o.initialDelayMs ?? 1000;
    out.backoff = { type: 'exponential', initialMs, factor: o.factor ?? 2, maxMs: o.maxDelayMs ?? Math.max(initialMs, 60_000) };
  }
  if (o.jitter) out.jitter = o.jitter === 'proportional' ? { type: 'proportional', ratio: 0.1 } : o.jitter;
  return out;
}
