/**
 * `npm run bench`: runs every benchmark in one process and prints figures and ratios against the
 * peers measured in the same run. Select some with `BENCH=retry,executor npm run bench`.
 * Benchmarks print; they never assert timings (that is what makes them useless as tests).
 */
const BENCHES: { name: string; file: string; fn: string }[] = [
  { name: 'retry', file: './retry.bench.ts', fn: 'benchRetry' },
  { name: 'executor', file: './executor.bench.ts', fn: 'benchExecutor' },
  { name: 'simulator', file: './simulator.bench.ts', fn: 'benchSimulator' },
  { name: 'store', file: './store.bench.ts', fn: 'benchStore' },
  { name: 'memory', file: './memory.bench.ts', fn: 'benchMemory' },
  { name: 'cli', file: './cli.bench.ts', fn: 'benchCli' },
  { name: 'redis', file: './redis.bench.ts', fn: 'benchRedis' },
  { name: 'soak', file: './soak.bench.ts', fn: 'benchSoak' },
  { name: 'import', file: './import.bench.ts', fn: 'benchImport' },
  { name: 'limiters', file: './limiters.bench.ts', fn: 'benchLimiters' },
  { name: 'discovery', file: './discovery.bench.ts', fn: 'benchDiscovery' },
  { name: 'adaptive', file: './adaptive.bench.ts', fn: 'benchAdaptive' },
];

async function main(): Promise<void> {
  const only = process.env.BENCH?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const bench of BENCHES) {
    if (only && !only.includes(bench.name)) continue;
    console.log(`\n=== ${bench.name} ===`);
    const mod = (await import(bench.file)) as Record<string, () => Promise<void>>;
    const run = mod[bench.fn];
    if (typeof run !== 'function') throw new Error(`bench/${bench.file} does not export ${bench.fn}()`);
    const started = performance.now();
    await run();
    console.log(`(${bench.name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
