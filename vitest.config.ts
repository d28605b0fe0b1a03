import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `import … from 'sluice'` (and its subpaths) in tests and examples resolves to the sources, without a
 * build: the one list is tsconfig.json's `paths` (which tsc and tsx read too).
 */
const tsconfig = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8')) as {
  compilerOptions: { paths: Record<string, [string]> };
};
const alias = Object.entries(tsconfig.compilerOptions.paths).map(([find, [target]]) => ({
  // Exact match only: `sluice` must not capture `sluice/testing`.
  find: new RegExp(`^${find.replace(/[/.]/g, '\\$&')}$`),
  replacement: fileURLToPath(new URL(target, import.meta.url)),
}));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-process and Redis tests share loopback ports and one Redis server: keep files
    // isolated in forks and bounded so two cores are not oversubscribed.
    pool: 'forks',
    maxWorkers: 2,
  },
});
