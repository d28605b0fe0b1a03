/**
 * Every example in examples/ (one per story, and the SDK recipes) runs to completion against the
 * simulator or the virtual clock, so the README's examples cannot rot.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(new URL('../../examples/', import.meta.url)).filter((f) => f.endsWith('.ts'));

describe('examples', () => {
  it('has one example per story and per SDK', () => {
    expect(examples).toEqual(
      expect.arrayContaining([
        'veo-sequential.ts',
        'veo-submission-retry.ts',
        'clip-download.ts',
        'genai-processing.ts',
        'per-profile-cooldown.ts',
        'quota-management.ts',
        'sdk-openai.ts',
        'sdk-anthropic.ts',
        'sdk-genai.ts',
      ]),
    );
  });

  it.each(examples)('%s imports Sluice as a user does, from the package', (file) => {
    const source = readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8');
    const specifiers = [...source.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    expect(specifiers.some((s) => s === 'sluice' || s.startsWith('sluice/'))).toBe(true);
    expect(specifiers.filter((s) => s.startsWith('.'))).toEqual([]);
  });

  it.each(examples)('%s runs to completion', async (file) => {
    // No real key in the environment: every example uses the simulator or the virtual clock.
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, env, timeout: 60_000 });
    expect(stdout.length).toBeGreaterThan(0);
  });
});
