import type { ErrorKind } from '../classify/kinds.js';
import type { KindPolicyOptions, RetryPolicyOptions } from '../attempt/policy.js';
import type { RetryOverride, SluiceConfig } from './options.js';

/**
 * The retry presets the CLI offers by name, as retry-policy options. These reproduce the stories in
 * ../shared/seeds (Veo submission, clip download, GenAI processing fix, quota plan).
 * NOTE: a thin CLI-side table until `src/attempt/presets.ts` lands; then these should point there.
 */
const PRESETS: Record<SluiceConfig['retryPreset'], RetryPolicyOptions> = {
  default: {},
  veo: {
    default: { attempts: 1 },
    byKind: {
      rate_limited: { retry: true, attempts: 4, backoff: { type: 'schedule', delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' },
      overloaded: { retry: true, attempts: 4, backoff: { type: 'schedule', delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' },
      invalid_request: { retry: false },
      unknown: { retry: false },
    },
  },
  'clip-download': {
    timeoutMs: 10_000,
    default: { attempts: 3, backoff: { type: 'schedule', delaysMs: [1000, 2000, 4000] }, jitter: 'none' },
    byKind: { not_found: { retry: false }, auth: { retry: false } },
  },
  'genai-processing': {
    default: { attempts: 3, backoff: { type: 'schedule', delaysMs: [1000, 2000, 4000] }, jitter: 'none' },
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
