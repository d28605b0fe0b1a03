import type { KeyLimits } from '../flow/limits.js';
import type { ApiKey } from '../provider/types.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { SluiceConfig } from './options.js';

/**
 * The limits of every key: the per-key options, overridden by `keyLimits[name]`. Returns one record per
 * key name (what createSluice takes for per-key limits). A `keyLimits` entry for an unknown key is an error.
 */
export function keyLimitsFor(config: SluiceConfig, keys: readonly ApiKey[], windowMs?: number): Record<string, KeyLimits> {
  const names = new Set(keys.map((k) => k.name));
  for (const name of Object.keys(config.keyLimits ?? {})) {
    if (!names.has(name)) {
      throw new CliError(`invalid option keyLimits: key "${name}" is not one of the configured keys (${[...names].join(', ')})`, ExitCode.badConfig);
    }
  }
  const out: Record<string, KeyLimits> = {};
  for (const { name } of keys) {
    const o = config.keyLimits?.[name] ?? {};
    const rpm = o.requestsPerMinute ?? config.requestsPerMinute;
    const tpm = o.tokensPerMinute ?? config.tokensPerMinute;
    const spacing = o.minSpacingMs ?? config.minSpacing;
    const inFlight = o.maxInFlight ?? config.maxInFlight;
    const perDay = o.requestsPerDay ?? config.requestsPerDay;
    out[name] = {
      ...(windowMs !== undefined ? { windowMs } : {}),
      ...(rpm !== undefined ? { requestsPerMinute: rpm } : {}),
      ...(tpm !== undefined ? { tokensPerMinute: tpm } : {}),
      ...(spacing > 0 ? { minSpacingMs: spacing } : {}),
      ...(inFlight !== undefined ? { maxInFlight: inFlight } : {}),
      ...(perDay !== undefined ? { requestsPerDay: perDay } : {}),
    };
  }
  return out;
}
