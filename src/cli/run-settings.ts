/**
 * The run remembers itself: the resolved settings of a run are stored in its state (never a secret:
 * keys appear by variable name only), and a resume takes every remembered option it is not given
 * again from there. So `sluice run prompts.jsonl --keys-env K` after an interruption goes on against the
 * same base URL with the same model, never against a provider's default.
 *
 * Options that decide where requests go or what they ask ({@link GUARDED_OPTIONS}) cannot change on a
 * resume without `--force`: the refusal names each option with its old and new value.
 */
import { isDeepStrictEqual } from 'node:util';
import type { LoadedConfig } from './config.js';
import { CliError, ExitCode } from './exit-codes.js';
import { withLibraryNames } from './library-options.js';
import { OPTIONS, type OptionName, type OptionSpec, type SluiceConfig } from './options.js';

/** Options stored with a run and used again by a resume that does not give them. */
export const REMEMBERED_OPTIONS = [
  'provider', 'baseUrl', 'model', 'apiVersion', 'maxOutputTokens', 'template', 'idColumn',
  'keysEnv', 'keyFile',
  'requestsPerMinute', 'tokensPerMinute', 'requestsPerDay', 'minSpacing', 'maxInFlight', 'learnRate', 'cooldown', 'selection', 'keyLimits',
  'retryPreset', 'attempts', 'attemptTimeout', 'retry', 'maxConsecutiveFailures',
  'concurrency', 'minConcurrency', 'maxConcurrency', 'adaptive',
  'quotaMonitoring', 'quotaThreshold', 'pauseDuration', 'alertLevels',
] as const satisfies readonly OptionName[];

/** Remembered options that change where requests go or what they ask: a resume changes them only with `--force`. */
export const GUARDED_OPTIONS = ['provider', 'baseUrl', 'model', 'apiVersion', 'maxOutputTokens', 'template', 'idColumn'] as const satisfies readonly OptionName[];

/** The settings to store with a run: every remembered option's value (absent ones omitted). */
export function settingsToStore(config: SluiceConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of REMEMBERED_OPTIONS) {
    const value = config[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Options whose value (same name, same type) is in the display settings (`RunMeta.options`) of states made before settings were stored. */
const LEGACY_OPTIONS = [
  'provider', 'baseUrl', 'model', 'requestsPerMinute', 'tokensPerMinute', 'maxInFlight', 'learnRate', 'selection', 'keyLimits',
  'retryPreset', 'attempts', 'quotaMonitoring', 'quotaThreshold', 'alertLevels',
] as const satisfies readonly OptionName[];

/**
 * The stored settings of a run: `RunMeta.settings`, or, for a state made before they were stored, the
 * options that can be read back from the run's display settings (`RunMeta.options`), so that such a
 * resume does not fall back to a provider's default URL either.
 */
export function storedSettings(meta: { settings?: Record<string, unknown>; options?: Record<string, unknown> } | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  // Settings written before the options took the library's names are read in the new names.
  if (meta.settings) return withLibraryNames(meta.settings);
  if (!meta.options) return undefined;
  const options = withLibraryNames(meta.options);
  const out: Record<string, unknown> = {};
  for (const name of LEGACY_OPTIONS) if (options[name] !== undefined) out[name] = options[name];
  return out;
}

/** One guarded option whose value differs from the stored run's. */
export interface SettingChange {
  option: OptionName;
  stored: unknown;
  given: unknown;
  source: string;
}

/**
 * The configuration of a resume: options given in this invocation (flag, env, config file) win;
 * remembered options that were not given come from `stored`. A guarded option given with another value
 * than the stored one is refused (exit 2) unless `force`. Returns the merged config and the changes.
 */
export function resumeConfig(loaded: LoadedConfig, stored: Record<string, unknown> | undefined): { config: SluiceConfig; changes: SettingChange[] } {
  const config = { ...loaded.config } as Record<OptionName, unknown>;
  if (!stored) return { config: loaded.config, changes: [] };
  for (const name of REMEMBERED_OPTIONS) {
    if (loaded.sources[name] !== 'default' || !(name in stored)) continue;
    const parsed = (OPTIONS[name] as OptionSpec<unknown>).schema.safeParse(stored[name]);
    if (parsed.success) config[name] = parsed.data;
  }
  const changes: SettingChange[] = [];
  for (const name of GUARDED_OPTIONS) {
    const source = loaded.sources[name];
    if (source === 'default') continue;
    const before = stored[name];
    const now = loaded.config[name];
    if (!isDeepStrictEqual(before, now)) changes.push({ option: name, stored: before, given: now, source });
  }
  const merged = config as SluiceConfig;
  if (changes.length > 0 && !merged.force) {
    throw new CliError(
      `this run's state was made with other settings: ${changes.map(describeChange).join('; ')}. ` +
        'These decide where requests go or what they ask: give --force to resume with the new values, ' +
        'leave the option out to resume with the stored one, or use another --state for a new run',
      ExitCode.badConfig,
    );
  }
  return { config: merged, changes };
}

/** `model was "gpt-4o-mini", now "gpt-4o" (flag)`. */
export function describeChange(c: SettingChange): string {
  return `${c.option} was ${show(c.stored)}, now ${show(c.given)} (${c.source === 'env' ? 'environment' : c.source === 'file' ? 'config file' : 'flag'})`;
}

function show(value: unknown): string {
  return value === undefined ? '(not set: the provider default)' : JSON.stringify(value);
}
