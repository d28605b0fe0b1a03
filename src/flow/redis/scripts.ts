/**
 * Loads the Lua scripts that live beside this file (copied to dist/ by scripts/copy-assets.mjs) and
 * registers them on an ioredis client with `defineCommand` (EVALSHA, with EVAL on a NOSCRIPT miss).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A command defined with `defineCommand`: keys first, then arguments. */
export type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

const cache = new Map<string, string>();

/** The text of `scripts/<name>.lua` relative to `base` (the caller's `import.meta.url`). */
export function readScript(base: string, name: string): string {
  const url = new URL(`./scripts/${name}.lua`, base);
  const key = url.href;
  let text = cache.get(key);
  if (text === undefined) {
    text = readFileSync(url, 'utf8');
    cache.set(key, text);
  }
  return text;
}

/**
 * Defines `name` on `redis` (once per client) from the concatenation of `files` (a library first, then
 * the script), and returns a function calling it.
 */
export function defineScript(redis: Redis, base: string, name: string, files: readonly string[], numberOfKeys: number): ScriptCommand {
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
  if (typeof commands[name] !== 'function') {
    redis.defineCommand(name, { numberOfKeys, lua: files.map((f) => readScript(base, f)).join('\n') });
  }
  const command = commands[name]!;
  return (...args) => command.apply(redis, args);
}
