import type { ErrorKind } from '../classify/kinds.js';
import { retryPolicy, type KindPolicyOptions, type RetryPolicy, type RetryPolicyOptions } from '../attempt/policy.js';
import { presetOptions } from '../attempt/presets.js';
import type { RetryOverride, SluiceConfig } from './options.js';

/**
 * The retry presets the CLI offers by name. Each is the library's preset in its one form, the options
 * of `presetOptions` in `src/attempt/presets.ts` (giveUpMessage and validate included), so that
 * `--max-attempts` and per-kind overrides merge into it before the policy is built.
 */
const PRESETS: Record<SluiceConfig['retryPreset'], () => RetryPolicyOptions> = {
  default: () => ({}),
  veo: () => presetOptions.veoSubmission(),
  'clip-download': () => presetOptions.clipDownload(),
  'genai-processing': () => presetOptions.genaiProcessing(),
  'quota-plan': () => presetOptions.quotaPlan(),
};

/** The retry policy of a configuration: the preset, with `--max-attempts` and per-kind overrides merged in. */
export function retryFor(config: Pick<SluiceConfig, 'retryPreset' | 'maxAttempts' | 'retry' | 'attemptTimeout'>): RetryPolicy {
  return retryPolicy(retryOptionsFor(config));
}

/** The retry-policy options for a configuration: the preset, then `--max-attempts`, then per-kind overrides. */
export function retryOptionsFor(config: Pick<SluiceConfig, 'retryPreset' | 'maxAttempts' | 'retry' | 'attemptTimeout'>): RetryPolicyOptions {
  const preset = PRESETS[config.retryPreset]();
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
