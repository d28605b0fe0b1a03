/**
 * Memory stays flat as the batch grows: peak RSS while ingesting and running inputs of 10k, 100k and
 * 1M lines through `runBatch` with an instant executor (SQLite store, real files). Set
 * SLUICE_BENCH_MEMORY_MAX=100000 to stop at a smaller size.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatch } from '../src/batch/runner.js';
import { instantExecutor } from './store.bench.js';

const SIZES = [10_000, 100_000, 1_000_000];

/** Writes `n` JSONL lines as a stream (the generator must not hold the input either). */
async function writeInput(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < n; i++) {
    const line = JSON.stringify({ id: `item-${i}`, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Write a bio of artist ${i}` }] }) + '\n';
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Entry point for `npm run bench` (BENCH=memory). */
export async function benchMemory(): Promise<void> {
  const max = Number(process.env.SLUICE_BENCH_MEMORY_MAX ?? Infinity);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-memory-'));
  try {
    for (const n of SIZES.filter((s) => s <= max)) {
      const input = join(dir, `in-${n}.jsonl`);
      await writeInput(input, n);
      (globalThis as { gc?: () => void }).gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      let peakHeap = 0;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      }, 50);
      const t = performance.now();
      const summary = await runBatch({ input, executor: instantExecutor(), window: 1024 });
      const ms = performance.now() - t;
      clearInterval(sampler);
      console.log(
        `${String(n).padStart(9)} lines: peak RSS ${mb(peak)} (start ${mb(before)}), peak heap ${mb(peakHeap)}, ` +
          `${summary.counts.byState.succeeded} succeeded in ${(ms / 1000).toFixed(1)} s (${Math.round((n * 1000) / ms)} items/s)`,
      );
      rmSync(input);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
