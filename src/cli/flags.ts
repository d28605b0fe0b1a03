import { Option, type Command } from 'commander';
import { RENAMED_OPTIONS } from './library-options.js';
import { OPTIONS, flagAttribute, flagOf, type OptionGroup, type OptionSpec } from './options.js';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * Declares the option table's flags on a command. No commander defaults are set on purpose: a flag
 * that was not typed must stay undefined so that env, config file and defaults can rank below it.
 * The flags of renamed options are declared too, hidden, so that loadConfig can refuse them with their
 * new name (commander would only say "unknown option").
 */
export function addConfigOptions(cmd: Command, groups?: readonly OptionGroup[]): Command {
  cmd.option('--config <path>', 'JSON config file (env SLUICE_CONFIG); flags > env > file > defaults');
  for (const spec of Object.values(OPTIONS) as OptionSpec<unknown>[]) {
    if (!spec.flag || (groups && !groups.includes(spec.group))) continue;
    const help = `${spec.description} [${spec.range}; env ${spec.env}]`;
    cmd.addOption(new Option(spec.flag, help));
    if (spec.kind === 'boolean') cmd.addOption(new Option(spec.flag.replace(/^--/, '--no-'), `Turn off ${spec.flag}`).hideHelp());
    else if (spec.negatable) {
      const name = spec.flag.split(' ')[0]!;
      cmd.addOption(new Option(name.replace(/^--/, '--no-'), `Turn off ${name}`));
    }
  }
  for (const old of Object.keys(RENAMED_OPTIONS) as (keyof typeof RENAMED_OPTIONS)[]) {
    if (!groups || groups.includes(OPTIONS[RENAMED_OPTIONS[old]].group)) addRenamedFlag(cmd, old);
  }
  return cmd;
}

/**
 * Declares the flag an option had before it was renamed (`rpm` -> `--rpm`), hidden and with an optional
 * value, so that a command line using it reaches `refuseRenamedOptions` (config.ts), which names the new flag.
 */
export function addRenamedFlag(cmd: Command, old: keyof typeof RENAMED_OPTIONS): Command {
  return cmd.addOption(new Option(`${flagOf(old)} [value]`).hideHelp());
}

/** The flags the user actually typed, as `{ attribute: value }` (commander only sets those, since there are no defaults). */
export function givenFlags(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const opts = cmd.opts<Record<string, unknown>>();
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) out[k] = v;
  return out;
}

/** Re-exported for commands that need a single attribute name. */
export { flagAttribute };

/**
 * An integer flag of a command outside the option table (`demo`, `simulate`): `fallback` when absent,
 * else an integer in min..max, or a CliError naming the flag and its range.
 */
export function intFlag(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(`invalid option --${name}: must be an integer ${min}..${max}, got ${JSON.stringify(value)}`, ExitCode.badConfig);
  }
  return n;
}
