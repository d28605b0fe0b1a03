import { readFileSync } from 'node:fs';
import type { ApiKey } from '../provider/types.js';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * Loads API keys from environment variables named by `--keys-env` / `SLUICE_KEYS`, or from a key file.
 * Keys never come from argv. A key's name is the variable name (or the file's name); its secret is
 * never put into a message: errors name the variable or the file line only.
 */
export interface KeySources {
  keysEnv?: string[] | undefined;
  keyFile?: string | undefined;
}

/** Reads the keys; throws {@link CliError} with {@link ExitCode.missingKey} when one is missing. */
export function loadKeys(sources: KeySources, env: NodeJS.ProcessEnv = process.env): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const name of sources.keysEnv ?? []) {
    const secret = env[name];
    if (secret === undefined || secret.trim() === '') {
      throw new CliError(
        `key variable ${name} is not set (named by --keys-env / SLUICE_KEYS); export it or remove it from the list`,
        ExitCode.missingKey,
      );
    }
    keys.push({ name, secret: secret.trim() });
  }
  if (sources.keyFile) keys.push(...readKeyFile(sources.keyFile));
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.name)) throw new CliError(`key ${k.name} is given twice`, ExitCode.badConfig);
    seen.add(k.name);
  }
  if (keys.length === 0) {
    throw new CliError(
      'no API key configured: name the variables that hold your keys with --keys-env KEY_1,KEY_2 (or SLUICE_KEYS), or use --key-file',
      ExitCode.missingKey,
    );
  }
  return keys;
}

/** Parses a key file: a JSON object `{name: secret}`, a JSON array of `{name, secret}`, or `name=secret` lines. */
export function readKeyFile(path: string): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, ExitCode.missingKey);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJsonKeys(path, trimmed);
  const keys: ApiKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    const secret = eq > 0 ? line.slice(eq + 1).trim() : '';
    if (!/^[\w.-]+$/.test(name) || secret === '') {
      // The line may hold a secret: report only its number.
      throw new CliError(`key file ${path}, line ${i + 1}: expected name=secret`, ExitCode.missingKey);
    }
    keys.push({ name, secret });
  }
  return keys;
}

function parseJsonKeys(path: string, text: string): ApiKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`key file ${path} is not valid JSON`, ExitCode.missingKey);
  }
  const entries: [unknown, unknown][] = Array.isArray(parsed)
    ? parsed.map((e: unknown) => [(e as { name?: unknown })?.name, (e as { secret?: unknown })?.secret])
    : Object.entries(parsed as Record<string, unknown>);
  return entries.map(([name, secret], i) => {
    if (typeof name !== 'string' || name === '' || typeof secret !== 'string' || secret === '') {
      throw new CliError(`key file ${path}, entry ${i + 1}: expected a name and a non-empty secret string`, ExitCode.missingKey);
    }
    return { name, secret };
  });
}
