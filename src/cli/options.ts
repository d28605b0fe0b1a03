import { z } from 'zod';
import { KEY_SELECTIONS, type KeySelection } from '../flow/key-pool.js';
import { checkKeyLimits, checkRetryOverrides, type KeyLimitOverride, type RetryOverrides } from './library-options.js';

/**
 * The table of every configurable option: one entry gives its command-line flag, its `SLUICE_*`
 * environment variable, its config-file key, its default, its allowed range and its zod schema.
 * The CLI's flags, the config loader and docs/CONFIGURATION.md are all derived from this table, so they
 * cannot drift apart.
 */

/** How a value given as text (flag or environment variable) is turned into a typed value before validation. */
export type OptionKind = 'int' | 'number' | 'string' | 'boolean' | 'list' | 'numberList' | 'duration' | 'enum' | 'json';

/** One option's description. `T` is the validated type (including `undefined` when there is no default). */
export interface OptionSpec<T> {
  /** Flag as commander declares it, e.g. `--requests-per-minute <n>`. Booleans get a `--no-…` twin automatically. */
  readonly flag: string | undefined;
  /** Environment variable, e.g. `SLUICE_REQUESTS_PER_MINUTE`. */
  readonly env: string;
  readonly kind: OptionKind;
  readonly schema: z.ZodType<T>;
  /** Value used when no source gives one. */
  readonly default: T;
  /** The allowed values in words, used in error messages and the docs. */
  readonly range: string;
  readonly description: string;
  readonly group: OptionGroup;
  /** Allowed values of an `enum` option. */
  readonly choices?: readonly string[];
  /** A value option that a `--no-…` twin sets to `false` (booleans have one anyway), e.g. `--no-report`. */
  readonly negatable?: boolean;
}

/** Sections of docs/CONFIGURATION.md and of `--help`. */
export type OptionGroup = 'provider' | 'keys' | 'limits' | 'retry' | 'concurrency' | 'quota' | 'files' | 'report' | 'runtime';

function opt<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

const positiveInt = z.number().int().min(1);
/** Key selection strategies: the flow layer's list, as the non-empty tuple zod wants. */
const KEY_SELECTIONS_CLI = KEY_SELECTIONS as unknown as readonly [KeySelection, ...KeySelection[]];
const duration = z.number().finite().min(0);
const fraction = z.number().gt(0).lte(1);

/**
 * An option whose value the library validates itself (per-kind retry settings, per-key limits): the
 * library's message, which names the field with its path, becomes the option's error.
 */
function libraryChecked<T>(check: (value: unknown) => T): z.ZodType<T | undefined> {
  return z.unknown().transform((value, ctx) => {
    if (value === undefined) return undefined;
    try {
      return check(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, params: { library: true } });
      return z.NEVER;
    }
  });
}

/** The names of the retry presets the CLI offers (see src/attempt/presets.ts). */
export const RETRY_PRESETS = ['default', 'veo', 'clip-download', 'genai-processing', 'quota-plan'] as const;

/** Log levels of pino. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Provider families the CLI can talk to. */
export const CLI_PROVIDERS = ['openai', 'openai-compatible', 'azure', 'anthropic', 'gemini'] as const;

/** Every option, keyed by its config-file name (camelCase). */
export const OPTIONS = {
  // provider
  provider: opt({
    flag: '--provider <name>', env: 'SLUICE_PROVIDER', kind: 'enum', group: 'provider',
    schema: z.enum(CLI_PROVIDERS), default: 'openai' as (typeof CLI_PROVIDERS)[number], choices: CLI_PROVIDERS,
    range: CLI_PROVIDERS.join(' | '), description: 'Provider family (wire format of requests, responses and errors).',
  }),
  baseUrl: opt<string | undefined>({
    flag: '--base-url <url>', env: 'SLUICE_BASE_URL', kind: 'string', group: 'provider',
    schema: z.url().optional(), default: undefined,
    range: 'an http(s) URL', description: "API base URL; defaults to the provider's public endpoint.",
  }),
  model: opt<string | undefined>({
    flag: '--model <name>', env: 'SLUICE_MODEL', kind: 'string', group: 'provider',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a non-empty model name', description: 'Model used for items that do not name one.',
  }),
  apiVersion: opt<string | undefined>({
    flag: '--api-version <v>', env: 'SLUICE_API_VERSION', kind: 'string', group: 'provider',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'an api-version string', description: 'Azure OpenAI api-version query parameter.',
  }),
  maxOutputTokens: opt({
    flag: '--max-output-tokens <n>', env: 'SLUICE_MAX_OUTPUT_TOKENS', kind: 'int', group: 'provider',
    schema: positiveInt.max(1_000_000), default: 256,
    range: 'integer 1..1000000', description: 'Max output tokens for items that do not set one (also reserved against tokens/min).',
  }),
  template: opt<string | undefined>({
    flag: '--template <text>', env: 'SLUICE_TEMPLATE', kind: 'string', group: 'provider',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'text with {{field}} placeholders', description: 'Prompt template: required for CSV (one {{column}} per column used); for JSONL each line then holds the variables.',
  }),
  // keys
  keysEnv: opt<string[] | undefined>({
    flag: '--keys-env <names>', env: 'SLUICE_KEYS', kind: 'list', group: 'keys',
    schema: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names')).min(1).optional(),
    default: undefined,
    range: 'comma-separated environment variable names',
    description: 'Names of the environment variables that hold the API keys (never the keys themselves).',
  }),
  keyFile: opt<string | undefined>({
    flag: '--key-file <path>', env: 'SLUICE_KEY_FILE', kind: 'string', group: 'keys',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a file path', description: 'File with `name=secret` lines or a JSON object {name: secret}.',
  }),
  // limits, per key: the library's KeyLimits names
  requestsPerMinute: opt<number | undefined>({
    flag: '--requests-per-minute <n>', env: 'SLUICE_REQUESTS_PER_MINUTE', kind: 'int', group: 'limits',
    schema: positiveInt.optional(), default: undefined,
    range: 'integer >= 1', description: 'Requests per minute, per key.',
  }),
  tokensPerMinute: opt<number | undefined>({
    flag: '--tokens-per-minute <n>', env: 'SLUICE_TOKENS_PER_MINUTE', kind: 'int', group: 'limits',
    schema: positiveInt.optional(), default: undefined,
    range: 'integer >= 1', description: 'Tokens per minute, per key (input estimate + max output tokens are reserved).',
  }),
  requestsPerDay: opt<number | undefined>({
    flag: '--requests-per-day <n>', env: 'SLUICE_REQUESTS_PER_DAY', kind: 'int', group: 'limits',
    schema: positiveInt.optional(), default: undefined,
    range: 'integer >= 1',
    description:
      'Daily request budget per key; each key pauses at --quota-threshold of it (default 0.8, so 10 pauses at 8) until 00:00 UTC. Counts persist per key and day in the state, across runs and restarts.',
  }),
  minSpacing: opt({
    flag: '--min-spacing <duration>', env: 'SLUICE_MIN_SPACING', kind: 'duration', group: 'limits',
    schema: duration.max(3_600_000), default: 0,
    range: 'duration 0..1h', description: 'Minimum time between two starts on one key (e.g. 5s for Veo submissions).',
  }),
  maxInFlight: opt<number | undefined>({
    flag: '--max-in-flight <n>', env: 'SLUICE_MAX_IN_FLIGHT', kind: 'int', group: 'limits',
    schema: positiveInt.max(10_000).optional(), default: undefined,
    range: 'integer 1..10000', description: 'Maximum concurrent requests, per key.',
  }),
  learnRate: opt({
    flag: '--learn-rate', env: 'SLUICE_LEARN_RATE', kind: 'boolean', group: 'limits',
    schema: z.boolean(), default: true,
    range: 'true | false',
    description:
      'Learn each key\'s rate from 429s whose headers announce no limit (cut to 0.95 of what got through; a bare 429 then cools the key 100 ms, or one start\'s spacing at the rate just learned where shorter, doubling to 8 s while probes keep failing); `--no-learn-rate` keeps the configured rate and cools a key for --cooldown (default 30 s), as in the per-profile story.',
  }),
  cooldown: opt<number | undefined>({
    flag: '--cooldown <duration>', env: 'SLUICE_COOLDOWN', kind: 'duration', group: 'limits',
    schema: duration.min(1).max(86_400_000).optional(), default: undefined,
    range: 'duration 1ms..24h',
    description: 'Cooldown of a key after a 429 that names no wait and no reset (default 1 s when learning, 30 s otherwise).',
  }),
  selection: opt({
    flag: '--selection <strategy>', env: 'SLUICE_SELECTION', kind: 'enum', group: 'limits',
    schema: z.enum(KEY_SELECTIONS_CLI), default: 'round-robin' as KeySelection, choices: KEY_SELECTIONS_CLI,
    range: KEY_SELECTIONS_CLI.join(' | '), description: 'How the next key is chosen among the available ones.',
  }),
  keyLimits: opt<Record<string, KeyLimitOverride> | undefined>({
    flag: undefined, env: 'SLUICE_KEY_LIMITS', kind: 'json', group: 'limits',
    schema: libraryChecked((v) => checkKeyLimits(v)), default: undefined,
    range: "object {keyName: {requestsPerMinute, tokensPerMinute, requestsPerDay, minSpacingMs, maxInFlight}} (the library's KeyLimits)",
    description: 'Per-key overrides of the limits above, by key name (config file, or JSON in the variable).',
  }),
  // retry
  retryPreset: opt({
    flag: '--retry-preset <name>', env: 'SLUICE_RETRY_PRESET', kind: 'enum', group: 'retry',
    schema: z.enum(RETRY_PRESETS), default: 'default' as (typeof RETRY_PRESETS)[number], choices: RETRY_PRESETS,
    range: RETRY_PRESETS.join(' | '), description: 'Named retry policy (see README, "Presets").',
  }),
  attempts: opt<number | undefined>({
    flag: '--attempts <n>', env: 'SLUICE_ATTEMPTS', kind: 'int', group: 'retry',
    schema: positiveInt.max(1000).optional(), default: undefined,
    range: 'integer 1..1000', description: 'Attempts per item for every retryable kind (overrides the preset).',
  }),
  attemptTimeout: opt({
    flag: '--attempt-timeout <duration>', env: 'SLUICE_ATTEMPT_TIMEOUT', kind: 'duration', group: 'retry',
    schema: duration.min(1).max(86_400_000), default: 120_000,
    range: 'duration 1ms..24h', description: 'Timeout of one attempt.',
  }),
  maxConsecutiveFailures: opt({
    flag: '--max-consecutive-failures <n>', env: 'SLUICE_MAX_CONSECUTIVE_FAILURES', kind: 'int', group: 'retry',
    schema: z.number().int().min(0).max(1_000_000), default: 20,
    range: 'integer 0..1000000 (0 = off)',
    description:
      'Pause the run after this many identical failures in a row of a kind that is not retried (auth, invalid_request, not_found, content_filtered, quota_exhausted, unknown): one message says what repeats and how to resume.',
  }),
  retry: opt<RetryOverrides | undefined>({
    flag: undefined, env: 'SLUICE_RETRY', kind: 'json', group: 'retry',
    schema: libraryChecked((v) => checkRetryOverrides(v)), default: undefined,
    range: "object {kind: {retry, attempts, backoff, jitter, honourRetryAfter, maxRetryAfterMs, retryAfterAboveCap}} (the library's byKind)",
    description: 'Per-kind overrides of the retry policy (config file, or JSON in the variable).',
  }),
  // concurrency
  concurrency: opt({
    flag: '--concurrency <n>', env: 'SLUICE_CONCURRENCY', kind: 'int', group: 'concurrency',
    schema: positiveInt.max(10_000), default: 4,
    range: 'integer 1..10000, between min and max', description: 'Initial number of requests in flight (all keys).',
  }),
  minConcurrency: opt({
    flag: '--min-concurrency <n>', env: 'SLUICE_MIN_CONCURRENCY', kind: 'int', group: 'concurrency',
    schema: positiveInt.max(10_000), default: 1,
    range: 'integer 1..10000', description: 'Floor of adaptive concurrency.',
  }),
  maxConcurrency: opt({
    flag: '--max-concurrency <n>', env: 'SLUICE_MAX_CONCURRENCY', kind: 'int', group: 'concurrency',
    schema: positiveInt.max(10_000), default: 16,
    range: 'integer 1..10000, >= min', description: 'Ceiling of adaptive concurrency.',
  }),
  adaptive: opt({
    flag: '--adaptive', env: 'SLUICE_ADAPTIVE', kind: 'boolean', group: 'concurrency',
    schema: z.boolean(), default: true,
    range: 'true | false', description: 'Adapt concurrency (AIMD) between min and max; `--no-adaptive` keeps it fixed.',
  }),
  // quota (the quota-management story)
  quotaMonitoring: opt({
    flag: '--quota-monitoring', env: 'SLUICE_QUOTA_MONITORING', kind: 'boolean', group: 'quota',
    schema: z.boolean(), default: true,
    range: 'true | false', description: 'Read rate-limit headers, track usage, alert and pause (`--no-quota-monitoring` to disable).',
  }),
  quotaThreshold: opt({
    flag: '--quota-threshold <fraction>', env: 'SLUICE_QUOTA_THRESHOLD', kind: 'number', group: 'quota',
    schema: fraction, default: 0.8,
    range: 'number in (0, 1]',
    description:
      'Usage fraction of a key at which new starts on it pause until its reset. With --requests-per-day the pause comes at this fraction of the daily budget: --requests-per-day 10 pauses each key after 8 requests (at 0.8) until the quota day ends (00:00 UTC); give 1 to use the whole limit.',
  }),
  pauseDuration: opt<number | undefined>({
    flag: '--pause-duration <duration>', env: 'SLUICE_PAUSE_DURATION', kind: 'duration', group: 'quota',
    schema: duration.min(1000).max(7 * 86_400_000).optional(), default: undefined,
    range: 'duration 1s..7d',
    description:
      'How long a key pauses when its daily budget is reached (the quota story\'s pause_duration_hours); unset: until the quota day ends (00:00 UTC).',
  }),
  alertLevels: opt({
    flag: '--alert-levels <fractions>', env: 'SLUICE_ALERT_LEVELS', kind: 'numberList', group: 'quota',
    schema: z.array(fraction).min(1).max(10).refine((a) => a.every((v, i) => i === 0 || v > a[i - 1]!), 'ascending'),
    default: [0.6, 0.8, 0.95],
    range: 'ascending fractions in (0, 1], comma-separated', description: 'Usage levels that log an alert (first info, second warn, later error).',
  }),
  quotaLogInterval: opt({
    flag: '--quota-log-interval <n>', env: 'SLUICE_QUOTA_LOG_INTERVAL', kind: 'int', group: 'quota',
    schema: positiveInt.max(1_000_000), default: 100,
    range: 'integer 1..1000000', description: 'Log a quota_metrics line every N requests.',
  }),
  // files
  state: opt<string | undefined>({
    flag: '--state <path>', env: 'SLUICE_STATE', kind: 'string', group: 'files',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a file path', description: 'SQLite state file; default `<input>.sluice.db` beside the input.',
  }),
  output: opt<string | undefined>({
    flag: '--output <path>', env: 'SLUICE_OUTPUT', kind: 'string', group: 'files',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a file path', description: 'Results JSONL; default `<input>.results.jsonl`.',
  }),
  rejects: opt<string | undefined>({
    flag: '--rejects <path>', env: 'SLUICE_REJECTS', kind: 'string', group: 'files',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a file path', description: 'Rejected input lines (file, line, reason); default `<input>.rejects.jsonl`.',
  }),
  idColumn: opt<string | undefined>({
    flag: '--id-column <name>', env: 'SLUICE_ID_COLUMN', kind: 'string', group: 'files',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a column (CSV) or field (JSONL) name',
    description:
      'The input column or field holding each item\'s id: the key of its results line and of `export --format csv`. Default: the optional `id` (`#<line>` where absent or empty); when given, every row must have it non-empty, the CSV header must name it, and repeated ids are rejected.',
  }),
  report: opt<string | false | undefined>({
    flag: '--report <path>', env: 'SLUICE_REPORT', kind: 'string', group: 'files', negatable: true,
    schema: z.union([z.string().min(1), z.literal(false)]).optional(), default: undefined,
    range: 'a file path, or false (`--no-report`)',
    description:
      'Self-contained HTML report written at the end (and by `sluice report`); default beside the state: `--state runs/a.db` gives `runs/a.report.html`, else `--output x.jsonl` gives `x.report.html`, else `<input>.report.html`. `--no-report` (config `"report": false`) writes none at the end; `sluice report` still draws one from the state.',
  }),
  prices: opt<string | undefined>({
    flag: '--prices <path>', env: 'SLUICE_PRICES', kind: 'string', group: 'report',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a JSON file path',
    description:
      'Token prices for the report\'s cost estimate: `{"currency": "USD", "models": {"<model>": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}}` (USD per million tokens); default the built-in list prices of current OpenAI, Anthropic and Gemini models.',
  }),
  logFile: opt<string | undefined>({
    flag: '--log-file <path>', env: 'SLUICE_LOG_FILE', kind: 'string', group: 'files',
    schema: z.string().min(1).optional(), default: undefined,
    range: 'a file path', description: 'JSON log (pino) file; no log file when unset.',
  }),
  backend: opt({
    flag: '--backend <url>', env: 'SLUICE_BACKEND', kind: 'string', group: 'files',
    schema: z.string().regex(/^(sqlite|redis:\/\/.+|rediss:\/\/.+)$/, 'sqlite or redis://host:port'), default: 'sqlite',
    range: 'sqlite | redis://host:port', description: 'Job store: the embedded SQLite file, or Redis for several workers.',
  }),
  sharedBreaker: opt({
    flag: '--shared-breaker <scope>', env: 'SLUICE_SHARED_BREAKER', kind: 'enum', group: 'files',
    schema: z.enum(['off', 'provider', 'key']), default: 'off' as 'off' | 'provider' | 'key', choices: ['off', 'provider', 'key'],
    range: 'off | provider | key',
    description: 'Redis workers only: a circuit breaker shared by every worker (auth opens it at once; 5 failures in a row open it for 30 s), for the whole provider or per key.',
  }),
  carryMaxChars: opt<number | undefined>({
    flag: '--carry-max-chars <n>', env: 'SLUICE_CARRY_MAX_CHARS', kind: 'int', group: 'files',
    schema: z.number().int().min(0).optional(), default: undefined,
    range: 'integer >= 0 (0 = off)',
    description:
      "`sluice run --backend redis://` only (the enqueueing side): a BullMQ job carries its item's payload up to this many characters of JSON, so a worker's first run of it reads no item; 0 carries none (for a Redis short of memory: the workers then read every item). Unset: the library's default, 2048 (`enqueueBatch({ carryMaxChars })`).",
  }),
  // runtime
  logLevel: opt({
    flag: '--log-level <level>', env: 'SLUICE_LOG_LEVEL', kind: 'enum', group: 'runtime',
    schema: z.enum(LOG_LEVELS), default: 'info' as (typeof LOG_LEVELS)[number], choices: LOG_LEVELS,
    range: LOG_LEVELS.join(' | '), description: 'Minimum level written to the log file.',
  }),
  metricsPort: opt<number | undefined>({
    flag: '--metrics-port <port>', env: 'SLUICE_METRICS_PORT', kind: 'int', group: 'runtime',
    schema: z.number().int().min(0).max(65_535).optional(), default: undefined,
    range: 'integer 0..65535 (0 = any free port)', description: 'Serve Prometheus metrics on 127.0.0.1:<port>/metrics.',
  }),
  gracePeriod: opt({
    flag: '--grace-period <duration>', env: 'SLUICE_GRACE_PERIOD', kind: 'duration', group: 'runtime',
    schema: duration.max(3_600_000), default: 30_000,
    range: 'duration 0..1h', description: 'On SIGINT, how long in-flight calls may finish before they are aborted.',
  }),
  progress: opt({
    flag: '--progress <mode>', env: 'SLUICE_PROGRESS', kind: 'enum', group: 'runtime',
    schema: z.enum(['auto', 'tty', 'json', 'off']), default: 'auto' as 'auto' | 'tty' | 'json' | 'off',
    choices: ['auto', 'tty', 'json', 'off'],
    range: 'auto | tty | json | off', description: 'Progress display: live on a terminal, JSON lines otherwise (auto).',
  }),
  progressInterval: opt({
    flag: '--progress-interval <duration>', env: 'SLUICE_PROGRESS_INTERVAL', kind: 'duration', group: 'runtime',
    schema: duration.min(100).max(3_600_000), default: 5_000,
    range: 'duration 100ms..1h', description: 'Interval of JSON progress records (non-terminal output).',
  }),
  force: opt({
    flag: '--force', env: 'SLUICE_FORCE', kind: 'boolean', group: 'runtime',
    schema: z.boolean(), default: false,
    range: 'true | false',
    description:
      'Resume even if the input file changed since the state was created (appended lines are ingested and run; changed lines need --changed-lines), or with a changed provider, base URL, model, template or max output tokens.',
  }),
  changedLines: opt<'rerun' | 'keep' | undefined>({
    flag: '--changed-lines <policy>', env: 'SLUICE_CHANGED_LINES', kind: 'enum', group: 'runtime',
    schema: z.enum(['rerun', 'keep']).optional(), default: undefined, choices: ['rerun', 'keep'],
    range: 'rerun | keep',
    description:
      'With --force and an input whose already-run lines changed: rerun runs them again (old results replaced), keep keeps the old results. Unset: the changed lines are listed and the run refused.',
  }),
  probe: opt({
    flag: '--probe', env: 'SLUICE_PROBE', kind: 'boolean', group: 'runtime',
    schema: z.boolean(), default: true,
    range: 'true | false',
    description:
      'Before the run, send one request (the first item) to check the URL, model and key; a refused connection, 404 or 401 stops the run with a clear message. Its answer becomes the result of the first item (not paid for twice). `--no-probe` skips it.',
  }),
} as const;

/** The config-file key of an option. */
export type OptionName = keyof typeof OPTIONS;

/** The validated configuration: one typed value per option. */
export type SluiceConfig = {
  -readonly [K in OptionName]: (typeof OPTIONS)[K] extends OptionSpec<infer T> ? T : never;
};

/** The flag of an option name by the table's convention: `requestsPerMinute` -> `--requests-per-minute`. */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The environment variable of an option name by the table's convention: `requestsPerMinute` ->
 * `SLUICE_REQUESTS_PER_MINUTE` (every option follows it but `keysEnv`, whose variable is `SLUICE_KEYS`).
 */
export function envOf(name: string): string {
  return `SLUICE_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** The commander attribute name of a flag (`--base-url <url>` -> `baseUrl`). */
export function flagAttribute(flag: string): string {
  const long = flag.split(/[ ,]+/).find((p) => p.startsWith('--')) ?? flag;
  return long
    .replace(/^--(no-)?/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
