import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';
import { RENAMED_OPTIONS, renamedTo } from './library-options.js';
import { OPTIONS, envOf, flagAttribute, flagOf, type OptionName, type OptionSpec, type SluiceConfig } from './options.js';
import { parseDurationText } from './duration-text.js';

/**
 * Builds the run configuration from four sources with the precedence
 * command-line flags > `SLUICE_*` environment variables > config file > defaults,
 * and validates every value with its zod schema. An invalid value ends the CLI with
 * {@link ExitCode.badConfig} and a message naming the option, where the value came from, and the
 * allowed range.
 */

/** Where a value came from. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** The configuration plus the source of each value (for `--help`-style diagnostics and tests). */
export interface LoadedConfig {
  config: SluiceConfig;
  sources: Record<OptionName, ConfigSource>;
  /** Absolute path of the config file that was read, if any. */
  configFile?: string;
}

/** Inputs of {@link loadConfig}. */
export interface LoadConfigInput {
  /** Parsed commander options (attribute name -> value); only explicitly given flags should be present. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Config file path (`--config`, else `SLUICE_CONFIG`). */
  configPath?: string;
  /** Values a command fixes or defaults differently (e.g. the demo's limits); they rank as defaults. */
  defaults?: Partial<SluiceConfig>;
  cwd?: string;
}

/** Loads and validates the configuration. Throws {@link CliError} on any invalid input. */
export function loadConfig(input: LoadConfigInput = {}): LoadedConfig {
  const env = input.env ?? process.env;
  const flags = input.flags ?? {};
  const configPath = (flags.config as string | undefined) ?? input.configPath ?? env.SLUICE_CONFIG;
  const file = configPath ? readConfigFile(resolve(input.cwd ?? process.cwd(), configPath)) : undefined;
  refuseRenamedOptions(flags, env, file?.values);

  const config = {} as Record<OptionName, unknown>;
  const sources = {} as Record<OptionName, ConfigSource>;
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec = OPTIONS[name] as OptionSpec<unknown>;
    const picked = pickValue(name, spec, flags, env, file?.values, input.defaults);
    config[name] = validate(name, spec, picked.value, picked.source, picked.raw);
    sources[name] = picked.source;
  }
  const typed = config as SluiceConfig;
  checkCrossFields(typed, sources);
  return { config: typed, sources, ...(file ? { configFile: file.path } : {}) };
}

interface Picked {
  value: unknown;
  raw: unknown;
  source: ConfigSource;
}

function pickValue(
  name: OptionName,
  spec: OptionSpec<unknown>,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown> | undefined,
  defaults: Partial<SluiceConfig> | undefined,
): Picked {
  const attr = spec.flag ? flagAttribute(spec.flag) : undefined;
  const fromFlag = attr === undefined ? undefined : flags[attr];
  if (fromFlag !== undefined) {
    return { value: fromText(name, spec, fromFlag, 'flag'), raw: fromFlag, source: 'flag' };
  }
  const fromEnv = env[spec.env];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { value: fromText(name, spec, fromEnv, 'env'), raw: fromEnv, source: 'env' };
  }
  if (file && name in file) {
    const v = file[name];
    // A config file may hold durations as "30s" and lists as "a,b" as well as typed JSON values.
    const value = typeof v === 'string' && spec.kind !== 'string' && spec.kind !== 'enum' ? fromText(name, spec, v, 'file') : v;
    return { value, raw: v, source: 'file' };
  }
  const d = defaults && name in defaults ? (defaults as Record<string, unknown>)[name] : spec.default;
  return { value: d, raw: d, source: 'default' };
}

/** Converts a flag or environment text to the option's type; leaves garbage for the schema to reject. */
function fromText(name: OptionName, spec: OptionSpec<unknown>, value: unknown, source: ConfigSource): unknown {
  if (typeof value !== 'string') return value; // commander gives booleans for switches
  const text = value.trim();
  switch (spec.kind) {
    case 'int':
    case 'number':
      return text === '' || Number.isNaN(Number(text)) ? text : Number(text);
    case 'boolean': {
      const lower = text.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return true;
      if (['false', '0', 'no', 'off'].includes(lower)) return false;
      return text;
    }
    case 'list':
      return text.split(',').map((s) => s.trim()).filter(Boolean);
    case 'numberList':
      return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (Number.isNaN(Number(s)) ? s : Number(s)));
    case 'duration': {
      const ms = parseDurationText(text);
      return ms ?? text;
    }
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw invalid(name, spec, source, value, 'is not valid JSON');
      }
    default:
      return text;
  }
}

export { parseDurationText };

function validate(name: OptionName, spec: OptionSpec<unknown>, value: unknown, source: ConfigSource, raw: unknown): unknown {
  const result = spec.schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'custom' && (issue.params as { library?: boolean } | undefined)?.library) {
    // The library's own message names the field with its path and the value found there.
    return fail(name, spec, source, issue.message);
  }
  const where = issue && issue.path.length > 0 ? ` (at ${issue.path.join('.')}: ${issue.message})` : '';
  throw invalid(name, spec, source, raw, `must be ${spec.range}${where}`);
}

function fail(name: OptionName, spec: OptionSpec<unknown>, source: ConfigSource, problem: string): never {
  throw new CliError(`invalid option ${name} from ${describeSource(name, spec, source)}: ${problem}`, ExitCode.badConfig);
}

/** Old option names, each with the option that replaced it (checked against the table here). */
const RENAMED: Readonly<Record<string, OptionName>> = RENAMED_OPTIONS;

/**
 * Refuses an option given under the name it had before it took the library's ({@link RENAMED_OPTIONS}),
 * from a flag, an environment variable or the config file, naming the new one as that source gives it:
 * `invalid option rpm from flag --rpm: renamed to requestsPerMinute, the library's name; use flag --requests-per-minute`.
 * `flags` are commander attributes: the old flags are declared (hidden) so that they get here.
 */
export function refuseRenamedOptions(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file?: Record<string, unknown>): void {
  for (const [old, now] of Object.entries(RENAMED)) {
    const was = { flag: flagOf(old), env: envOf(old) };
    const given = env[was.env];
    const source: ConfigSource | undefined =
      flags[flagAttribute(was.flag)] !== undefined ? 'flag' : given !== undefined && given !== '' ? 'env' : file && old in file ? 'file' : undefined;
    if (source === undefined) continue;
    throw new CliError(
      `invalid option ${old} from ${describeSource(old, was, source)}: ${renamedTo(now)}; use ${describeSource(now, OPTIONS[now], source)}`,
      ExitCode.badConfig,
    );
  }
}

function describeSource(name: string, spec: Pick<OptionSpec<unknown>, 'flag' | 'env'>, source: ConfigSource): string {
  switch (source) {
    case 'flag':
      return `flag ${spec.flag?.split(' ')[0] ?? name}`;
    case 'env':
      return `environment variable ${spec.env}`;
    case 'file':
      return `config file key "${name}"`;
    default:
      return 'default';
  }
}

function invalid(name: OptionName, spec: OptionSpec<unknown>, source: ConfigSource, raw: unknown, problem: string): CliError {
  const shown = typeof raw === 'string' ? JSON.stringify(raw) : JSON.stringify(raw) ?? String(raw);
  return new CliError(`invalid option ${name} from ${describeSource(name, spec, source)}: ${problem}, got ${shown}`, ExitCode.badConfig);
}

function checkCrossFields(config: SluiceConfig, sources: Record<OptionName, ConfigSource>): void {
  const fail = (name: OptionName, problem: string): never => {
    const spec = OPTIONS[name] as OptionSpec<unknown>;
    throw invalid(name, spec, sources[name], config[name], problem);
  };
  if (config.maxConcurrency < config.minConcurrency) {
    fail('maxConcurrency', `must be >= minConcurrency (${config.minConcurrency})`);
  }
  if (config.concurrency < config.minConcurrency || config.concurrency > config.maxConcurrency) {
    fail('concurrency', `must be between minConcurrency (${config.minConcurrency}) and maxConcurrency (${config.maxConcurrency})`);
  }
}

interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

/** Reads a JSON config file; unknown keys are refused with their name so typos do not pass silently. */
function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, ExitCode.badConfig);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`config file ${path} is not valid JSON: ${(err as Error).message}`, ExitCode.badConfig);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`config file ${path} must hold a JSON object of options`, ExitCode.badConfig);
  }
  const values = parsed as Record<string, unknown>;
  for (const key of Object.keys(values)) {
    if (key === '$schema' || key in RENAMED) continue; // an old name is refused with its new one by loadConfig
    if (!(key in OPTIONS)) {
      throw new CliError(`config file ${path}: unknown option "${key}" (see docs/CONFIGURATION.md)`, ExitCode.badConfig);
    }
  }
  return { path, values };
}
