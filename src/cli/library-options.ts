import type { BackoffSpec } from '../attempt/backoff.js';
import { checkByKind, type KindPolicyOptions } from '../attempt/policy.js';
import { checkKnownKeys, checkObject } from '../attempt/validate.js';
import type { ErrorKind } from '../classify/kinds.js';
import { validateLimits, type KeyLimits } from '../flow/limits.js';
import { parseDurationText } from './duration-text.js';

/**
 * The CLI's options take the library's names: the top-level limits and attempts (`requestsPerMinute`,
 * `tokensPerMinute`, `requestsPerDay`, `attempts`), and the config file's per-kind retry overrides and
 * per-key limits take the library's own shapes (`retryPolicy({ byKind })` and `KeyLimits`), validated by
 * the library's own checks. The names used before are refused with the name that replaced them
 * ({@link renamedTo}), and read back in their new form from the settings stored by older runs
 * ({@link withLibraryNames}).
 */

/** One kind's retry settings as a config file writes them: the library's, with the backoff as data. */
export type KindOverride = Omit<KindPolicyOptions, 'backoff'> & { backoff?: BackoffSpec };

/** Per-kind retry overrides: the config file's `retry`, `SLUICE_RETRY`, the library's `byKind`. */
export type RetryOverrides = Partial<Record<ErrorKind, KindOverride>>;

/** The limits one key may have in the config file's `keyLimits`: the library's names the CLI applies per key. */
export const KEY_LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'requestsPerDay', 'minSpacingMs', 'maxInFlight'] as const satisfies readonly (keyof KeyLimits)[];

/** One key's limits in `keyLimits`. */
export type KeyLimitOverride = Pick<KeyLimits, (typeof KEY_LIMIT_FIELDS)[number]>;

/** Names of per-key limits in `keyLimits` and of the CLI's limit options before they took the library's. */
export const RENAMED_LIMITS = { rpm: 'requestsPerMinute', tpm: 'tokensPerMinute', rpd: 'requestsPerDay' } as const;

/**
 * Top-level duration options (a text such as `5s`, or ms) whose per-key limit in `keyLimits` is the
 * library's field in ms: the top-level name written in an entry is refused with the field to use.
 */
export const DURATION_LIMITS = { minSpacing: 'minSpacingMs' } as const;

/** What a top-level duration name inside `keyLimits` is told: `use the library's "minSpacingMs": 5000 (a number of ms)`. */
function durationLimitHint(value: unknown, now: string): string {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationText(value) : undefined;
  const example = ms !== undefined && Number.isFinite(ms) ? `"${now}": ${ms}` : `"${now}"`;
  return `a per-key limit takes the library's name and unit: use ${example} (a number of ms; the top-level option is a duration)`;
}

/**
 * The CLI's top-level options renamed to the library's names: old config key -> new. Their flags and
 * environment variables follow the option table's convention (`flagOf`, `envOf` in options.ts):
 * `--rpm`/`SLUICE_RPM` became `--requests-per-minute`/`SLUICE_REQUESTS_PER_MINUTE`, `--max-attempts` `--attempts`,
 * and `--daily-limit`/`SLUICE_DAILY_LIMIT`, a second name of the same per-key daily budget, `--requests-per-day`.
 */
export const RENAMED_OPTIONS = { ...RENAMED_LIMITS, maxAttempts: 'attempts', dailyLimit: 'requestsPerDay' } as const;

/** What an old name is told: `renamed to requestsPerMinute, the library's name`. */
export function renamedTo(now: string): string {
  return `renamed to ${now}, the library's name`;
}

/** Names of per-kind retry fields that became the library's one `backoff`. */
const RENAMED_BACKOFF_FIELDS = ['initialDelayMs', 'maxDelayMs', 'factor', 'schedule'] as const;

interface LegacyKindOverride {
  maxAttempts?: unknown;
  initialDelayMs?: unknown;
  maxDelayMs?: unknown;
  factor?: unknown;
  schedule?: unknown;
  jitter?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The backoff that the old fields `initialDelayMs`, `maxDelayMs`, `factor` and `schedule` meant. */
function legacyBackoff(o: LegacyKindOverride): BackoffSpec {
  if (o.schedule !== undefined) return { type: 'schedule', delaysMs: o.schedule as number[] };
  const initialMs = (o.initialDelayMs as number | undefined) ?? 1000;
  const maxMs = (o.maxDelayMs as number | undefined) ?? Math.max(initialMs, 60_000);
  return { type: 'exponential', initialMs, factor: (o.factor as number | undefined) ?? 2, maxMs };
}

const PROPORTIONAL = { type: 'proportional', ratio: 0.1 } as const;

/**
 * Validates per-kind retry overrides with the library's check of `byKind`; messages start with
 * `field` (`retry.rate_limited.backoff.maxMs must be >= initialMs (2000), got 1000`). An old field name
 * is refused with what replaced it. Returns the value as given (plain data, storable with the run).
 */
export function checkRetryOverrides(value: unknown, field = 'retry'): RetryOverrides {
  if (isObject(value)) {
    for (const [kind, o] of Object.entries(value)) {
      if (isObject(o)) refuseRenamedRetryFields(o, `${field}.${kind}`);
    }
  }
  checkByKind(value, field);
  return value as RetryOverrides;
}

function refuseRenamedRetryFields(o: Record<string, unknown>, path: string): void {
  if ('maxAttempts' in o) throw new TypeError(`${path}.maxAttempts: ${renamedTo(RENAMED_OPTIONS.maxAttempts)}`);
  for (const name of RENAMED_BACKOFF_FIELDS) {
    if (name in o) {
      throw new TypeError(
        `${path}.${name}: initialDelayMs/maxDelayMs/factor/schedule are now one backoff, the library's: ` +
          `"backoff": ${JSON.stringify(legacyBackoff(o))}`,
      );
    }
  }
  if (o.jitter === 'proportional') {
    throw new TypeError(`${path}.jitter: "proportional" is now the library's ${JSON.stringify(PROPORTIONAL)}`);
  }
}

/**
 * Validates `keyLimits` (`{keyName: KeyLimits}`) with the library's `validateLimits`; an old name
 * (`rpm`, `tpm`, `rpd`) is refused with the library's name, a top-level duration name (`minSpacing`)
 * with the library's field in ms, any other unknown field by name.
 */
export function checkKeyLimits(value: unknown, field = 'keyLimits'): Record<string, KeyLimitOverride> {
  const keys = checkObject(value, field);
  for (const [name, limits] of Object.entries(keys)) {
    const path = `${field}.${name}`;
    const obj = checkObject(limits, path);
    for (const [old, now] of Object.entries(RENAMED_LIMITS)) {
      if (old in obj) throw new TypeError(`${path}.${old}: ${renamedTo(now)}`);
    }
    for (const [top, now] of Object.entries(DURATION_LIMITS)) {
      if (top in obj) throw new TypeError(`${path}.${top}: ${durationLimitHint(obj[top], now)}`);
    }
    checkKnownKeys(obj, KEY_LIMIT_FIELDS, path);
    validateLimits(obj as KeyLimits, path);
  }
  return keys as Record<string, KeyLimitOverride>;
}

/**
 * Settings stored by a run made before the options took the library's names (a resume's remembered
 * settings, the report's display settings), in the new names: the top-level options of
 * {@link RENAMED_OPTIONS}, `rpm`/`tpm`/`rpd` per key and the old per-kind retry fields. Anything else is kept.
 * Where both an old name and its new one are stored (`dailyLimit` and `requestsPerDay`), the old name's
 * value is taken: it is the one that run used.
 */
export function withLibraryNames(settings: Record<string, unknown>): Record<string, unknown> {
  const out = renameKeys(settings, RENAMED_OPTIONS);
  if (isObject(out.keyLimits)) {
    const perKey: Record<string, unknown> = {};
    for (const [name, limits] of Object.entries(out.keyLimits)) {
      perKey[name] = isObject(limits) ? renameKeys(limits, RENAMED_LIMITS) : limits;
    }
    out.keyLimits = perKey;
  }
  if (isObject(out.retry)) {
    const byKind: Record<string, unknown> = {};
    for (const [kind, o] of Object.entries(out.retry)) byKind[kind] = isObject(o) ? legacyKindOverride(o) : o;
    out.retry = byKind;
  }
  return out;
}

/** `obj` with each old name of `names` as its new one; an old name's value wins over its new name's. */
function renameKeys(obj: Record<string, unknown>, names: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const renamed = new Set(Object.entries(names).filter(([old]) => Object.hasOwn(obj, old)).map(([, now]) => now));
  for (const [key, value] of Object.entries(obj)) {
    const now = Object.hasOwn(names, key) ? names[key] : undefined;
    if (now !== undefined) out[now] = value;
    else if (!renamed.has(key)) out[key] = value;
  }
  return out;
}

/** One kind's override in the old names, in the library's (the translation the CLI made before). */
function legacyKindOverride(o: Record<string, unknown>): Record<string, unknown> {
  const { maxAttempts, initialDelayMs, maxDelayMs, factor, schedule, ...rest } = o;
  const out: Record<string, unknown> = { ...rest };
  if (maxAttempts !== undefined) out.attempts = maxAttempts;
  if ([initialDelayMs, maxDelayMs, factor, schedule].some((v) => v !== undefined)) {
    out.backoff = legacyBackoff({ initialDelayMs, maxDelayMs, factor, schedule });
  }
  if (out.jitter === 'proportional') out.jitter = { ...PROPORTIONAL };
  return out;
}
