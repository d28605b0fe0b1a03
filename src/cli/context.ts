import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from './config.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { givenFlags } from './flags.js';
import type { CliIO } from './io.js';
import type { SluiceConfig } from './options.js';

/** Shared by the commands of one CLI invocation: where to write, and the exit code they set. */
export interface CliContext {
  io: CliIO;
  exitCode: ExitCodeValue;
}

/** Creates a context with exit code 0. */
export function createContext(io: CliIO): CliContext {
  return { io, exitCode: ExitCode.ok };
}

/** Loads the configuration of a command from its flags, the environment and the config file. */
export function configFor(ctx: CliContext, cmd: Command, defaults?: Partial<SluiceConfig>): LoadedConfig {
  return loadConfig({ flags: givenFlags(cmd), env: ctx.io.env, cwd: ctx.io.cwd, ...(defaults ? { defaults } : {}) });
}
