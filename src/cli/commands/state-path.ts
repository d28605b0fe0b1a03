import { resolve } from 'node:path';
import { defaultStatePath } from '../../batch/index.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { SluiceConfig } from '../options.js';

/** The state file a command works on: `--state`, else `<input>.sluice.db`. */
export function statePathFor(cwd: string, input: string | undefined, config: Pick<SluiceConfig, 'state'>): string {
  if (config.state) return resolve(cwd, config.state);
  if (input) return defaultStatePath(resolve(cwd, input));
  throw new CliError('name the input file (the state is beside it) or give --state <path>', ExitCode.badConfig);
}
