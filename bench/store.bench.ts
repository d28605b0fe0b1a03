/**
 * JobStore throughput: state transitions per second of the SQLite store (goal >= 20,000), measured
 * through the same async API the runner uses, with many items in flight so the store's per-turn
 * transaction batching works as in a real run. Also the end-to-end rate of `runBatch` with an instant
 * executor (every transition, attempt record and output line included).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../src/batch/sqlite-store.js';
import { runBatch } from '../src/batch/runner.js';
import type { BatchExecutor } from '../src/batch/types.js';

const ITEMS = 50_000;
const IN_FLIGHT = 256;

/** An executor that answers at once, reporting one attempt through the hooks like the real one. */
export function instantExecutor(): BatchExecutor {
  return {
    async run(payload, o) {
      const attempt = o.startAttempt + 1;
      await o.onAttemptStart({ attempt, key: 'k' });
      await o.onAttemptEnd({ attempt, key: 'k', ok: true });
      return payload;
    },
  };
}

async function transitionsPerSecond(dir: string): Promise<void> {
  const store = SqliteJobStore.open(join(dir, 'bench.db'));
  await store.setMeta({ createdAt: 0, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0 });
  let t = performance.now();
  for (let start = 0; start < ITEMS; start += 1000) {
    const chunk = Array.from({ length: 1000 }, (_, i) => ({ id: `i${start + i}`, line: start + i + 1, priority: 0, payload: { prompt: 'p' } }));
    await store.ingest(chunk, { throughLine: start + 1000, rejectsOffset: 0, done: start + 1000 >= ITEMS });
  }
  const ingestMs = performance.now() - t;
  console.log(`ingest: ${ITEMS} items in ${ingestMs.toFixed(0)} ms = ${Math.round((ITEMS * 1000) / ingestMs)} items/s`);

  // Each item: claim (pending->running), attempt start, attempt end, complete (running->succeeded), written.
  t = performance.now();
  let transitions = 0;
  const lane = async (): Promise<void> => {
    while (true) {
      const [item] = await store.claimPending(1);
      if (!item) return;
      await store.recordAttemptStart(item.id, 1, 'k');
      await store.recordAttemptEnd(item.id, 1, { ok: true, key: 'k' });
      await store.complete([{ id: item.id, state: 'succeeded', result: { text: 'ok' } }]);
      transitions += 4;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  let offset = 0;
  while (true) {
    const batch = await store.unwritten(1000);
    if (batch.length === 0) break;
    offset += batch.length * 40;
    await store.markWritten(batch.map((i) => i.id), offset);
    transitions += batch.length;
  }
  const ms = performance.now() - t;
  console.log(
    `transitions: ${transitions} (claim, attempt start, attempt end, complete, written per item) in ${ms.toFixed(0)} ms = ` +
      `${Math.round((transitions * 1000) / ms)} transitions/s (goal >= 20,000), ${IN_FLIGHT} items in flight`,
  );
  await store.close();
}

async function runBatchRate(dir: string): Promise<void> {
  const input = join(dir, 'in.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < ITEMS; i++) lines.push(JSON.stringify({ id: `i${i}`, prompt: `p${i}` }));
  writeFileSync(input, lines.join('\n') + '\n');
  const t = performance.now();
  const summary = await runBatch({ input, executor: instantExecutor() });
  const ms = performance.now() - t;
  console.log(
    `runBatch: ${summary.counts.byState.succeeded} items (ingest + run + output) in ${ms.toFixed(0)} ms = ` +
      `${Math.round((ITEMS * 1000) / ms)} items/s`,
  );
}

/** Entry point for `npm run bench` (BENCH=store). */
export async function benchStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-store-'));
  try {
    await transitionsPerSecond(dir);
    await runBatchRate(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
