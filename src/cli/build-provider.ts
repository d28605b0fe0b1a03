import { createProvider, type ProviderConfig } from '../provider/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { SluiceConfig } from './options.js';

/**
 * The adapter a configuration names. Shared by `sluice run` (embedded and Redis) and `sluice worker`,
 * so that neither command module imports the other.
 */
export function buildProvider(config: SluiceConfig): ReturnType<typeof createProvider> {
  const base: Record<string, unknown> = { type: config.provider };
  if (config.baseUrl) base.baseUrl = config.baseUrl;
  if (config.apiVersion) base.apiVersion = config.apiVersion;
  try {
    return createProvider(base as unknown as ProviderConfig);
  } catch (err) {
    throw new CliError(`invalid provider configuration: ${(err as Error).message}`, ExitCode.badConfig);
  }
}
