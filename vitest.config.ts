import { defineConfig } from 'vitest/config';

export default defineConfig({
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
