import type { ErrorKind } from '../classify/kinds.js';
import { retryPolicy, type KindPolicyOptions, type RetryPolicy, type RetryPolicyOptions } from '../attempt/policy.js';
import { presetOptions } from '../attempt/presets.js';
import type { SluiceConfig } from './options.js';

/**
 * The retry presets the CLI offers by name. Each is the library's preset in its one form, the options
 * of `presetOptions` in `src/attempt/presets.ts` (giveUpMessage and validate included), so that
 * `--attempts` and per-kind overrides merge into it before the policy is built.
 */
const PRESETS: Record<SluiceConfig['retryPreset'], () => RetryPolicyOptions> = {
  default: () => ({}),
  veo: () => presetOptions.veoSubmission(),
  'clip-download': () => presetOptions.clipDownload(),
  'genai-processing': () => presetOptions.genaiProcessing(),
  'quota-plan': () => presetOptions.quotaPlan(),
};

/** The retry policy of a configuration: the preset, with `--attempts` and per-kind overrides merged in. */
export function retryFor(config: Pick<SluiceConfig, 'retryPreset' | 'attempts' | 'retry' | 'attemptTimeout'>): RetryPolicy {
  return retryPolicy(retryOptionsFor(config));
}

/** The retry-policy options for a configuration: the preset, then `--attempts`, then per-kind overrides. */
export function retryOptionsFor(config: Pick<SluiceConfig, 'retryPreset' | 'attempts' | 'retry' | 'attemptTimeout'>): RetryPolicyOptions {
  const preset = PRESETS[config.retryPreset]();
  const byKind: Partial<Record<ErrorKind, KindPolicyOptions>> = { ...preset.byKind };
  const options: RetryPolicyOptions = { ...preset, timeoutMs: preset.timeoutMs ?? config.attemptTimeout, byKind };
  if (config.attempts !== undefined) {
    options.default = { ...preset.default, attempts: config.attempts };
    for (const k of Object.keys(byKind) as ErrorKind[]) byKind[k] = { ...byKind[k], attempts: config.attempts };
  }
  // The overrides are the library's per-kind settings, validated as such when the config was loaded.
  for (const [kind, o] of Object.entries(config.retry ?? {}) as [ErrorKind, KindPolicyOptions][]) {
    byKind[kind] = { ...byKind[kind], ...o };
  }
  return options;
}
