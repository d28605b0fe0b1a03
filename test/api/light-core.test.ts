/**
 * The light core: `import 'sluice'` loads no native module, no Redis client and no BullMQ (issue 12),
 * and pino, undici and js-tiktoken only on first use. Each entry point is imported in a fresh Node
 * process whose loader hook (scripts/record-module-loads.mjs) writes down every module it resolves;
 * the packages are read from those paths. The subpaths that do need the heavy packages are the
 * control: they show that the recorder sees them.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-light-core-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The npm packages (names) a fresh process loads when it imports `entry` (a path under src/), tsx's own left out. */
async function packagesLoadedBy(entry: string, then = ''): Promise<Set<string>> {
  const out = join(dir, `${entry.replace(/\W/g, '_')}${then ? '-then' : ''}.txt`);
  const url = new URL(`file://${join(root, entry)}`).href;
  await run(process.execPath, ['--import', './scripts/record-module-loads.mjs', '--import', 'tsx', '--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); ${then}`], {
    cwd: root,
    env: { ...process.env, SLUICE_RECORD_LOADS: out },
  });
  const names = new Set<string>();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m?.[1] && m[1] !== 'tsx' && m[1] !== 'esbuild' && !m[1].startsWith('@esbuild')) names.add(m[1]);
  }
  return names;
}

const HEAVY = ['better-sqlite3', 'ioredis', 'bullmq'];
const ON_FIRST_USE = ['pino', 'undici', 'js-tiktoken'];

describe('light core', () => {
  it('import of src/index.ts (sluice) loads none of better-sqlite3, ioredis, bullmq, nor pino, undici, js-tiktoken', async () => {
    const loaded = await packagesLoadedBy('src/index.ts');
    for (const name of [...HEAVY, ...ON_FIRST_USE]) expect(loaded, name).not.toContain(name);
  });

  it('loads pino, undici and js-tiktoken on first use, so the lazy paths still work', async () => {
    const loaded = await packagesLoadedBy(
      'src/index.ts',
      `m.createLogger({ level: 'silent' }); const http = await import(${JSON.stringify(new URL(`file://${join(root, 'src/provider/http.ts')}`).href)}); await new http.HttpClient().close(); if (!(m.estimateTokens('hello there', 'gpt-4o') > 0)) process.exit(3);`,
    );
    for (const name of ON_FIRST_USE) expect(loaded, name).toContain(name);
    for (const name of HEAVY) expect(loaded, name).not.toContain(name);
  });

  it('the subpaths carry the heavy packages: sluice/batch loads better-sqlite3, sluice/redis loads ioredis and bullmq', async () => {
    expect(await packagesLoadedBy('src/batch/index.ts')).toContain('better-sqlite3');
    const redis = await packagesLoadedBy('src/redis.ts');
    expect(redis).toContain('ioredis');
    expect(redis).toContain('bullmq');
  });

  it("every subpath of package.json's exports is built from an entry file in src/", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { import: string; types: string }> };
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    expect(subpaths.sort()).toEqual(['.', './batch', './redis', './simulator', './testing']);
    for (const key of subpaths) {
      const target = pkg.exports[key] as { import: string; types: string };
      expect(target.import, key).toMatch(/^\.\/dist\/.+\.js$/);
      expect(target.types, key).toBe(target.import.replace(/\.js$/, '.d.ts'));
      const source = join(root, target.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
      expect(existsSync(source), `${key} -> ${source}`).toBe(true);
    }
  });
});
