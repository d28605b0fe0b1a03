/**
 * "Kill at any instant", in process: a store wrapper dies at its N-th call (before or after applying
 * it), which is what a kill -9 looks like to the state: some prefix of the calls committed, nothing
 * after. For every N the resumed run must end with every item in the output exactly once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { runBatch } from '../../src/batch/runner.js';
import { exportResults, retryFailed } from '../../src/batch/commands.js';
import { failure } from './helpers.js';
import { SqliteJobStore } from '../../src/batch/sqlite-store.js';
import type { JobStore } from '../../src/batch/store.js';
import { fakeExecutor, readJsonlFile, tempDir, writeJsonl } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

/** A store that dies at call number `dieAt` (1-based), applying that call first when `afterApply`. */
function dyingStore(inner: JobStore, dieAt: number, afterApply: boolean): { store: JobStore; calls: () => number } {
  let calls = 0;
  const killed = (): Error => new Error('killed');
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]) => {
        calls++;
        if (calls > dieAt) return Promise.reject(killed());
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (calls < dieAt) return result;
        if (!afterApply) return Promise.reject(killed());
        return Promise.resolve(result).then(() => Promise.reject(killed()));
      };
    },
  });
  return { store, calls: () => calls };
}

const N = 8;

async function crashThenResume(dieAt: number, afterApply: boolean): Promise<void> {
  const input = t.file(`in-${dieAt}-${String(afterApply)}.jsonl`);
  writeJsonl(input, N, 'not json\n');
  const state = `${input}.db`;
  const output = `${input}.out`;
  const inner = SqliteJobStore.open(state);
  const { store } = dyingStore(inner, dieAt, afterApply);
  const ex1 = fakeExecutor((p) => p);
  await runBatch({ input, executor: ex1, state: store, output, window: 4 }).catch(() => undefined);
  // Let background items hit the dead store, then "the process is gone".
  await new Promise((r) => setTimeout(r, 5));
  await inner.close();
  const ex2 = fakeExecutor((p) => p);
  const summary = await runBatch({ input, executor: ex2, state, output, window: 4 });
  const lines = readJsonlFile(output);
  const seen = lines.map((l) => l['id']);
  expect(new Set(seen).size, `dieAt=${dieAt} afterApply=${String(afterApply)}`).toBe(N);
  expect(seen).toHaveLength(N);
  expect(summary.counts.byState.succeeded).toBe(N);
  // One reject line, once, whatever the crash point.
  expect(readJsonlFile(`${input}.rejects.jsonl`)).toHaveLength(1);
}

describe('crash at any store call, then resume', () => {
  it('ends with every item exactly once in the output (every crash point)', async () => {
    // Count the calls of a full run to know the range to sweep.
    const input = t.file('probe.jsonl');
    writeJsonl(input, N, 'not json\n');
    const inner = SqliteJobStore.open(`${input}.db`);
    const probe = dyingStore(inner, Number.MAX_SAFE_INTEGER, false);
    await runBatch({ input, executor: fakeExecutor((p) => p), state: probe.store, output: `${input}.out`, window: 4 });
    await inner.close();
    const total = probe.calls();
    expect(total).toBeGreaterThan(N);
    for (let dieAt = 1; dieAt <= total; dieAt++) {
      await crashThenResume(dieAt, false);
      await crashThenResume(dieAt, true);
    }
  });

  it('truncates an uncommitted tail of the output and rewrites a file shorter than recorded', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 10);
    const first = await runBatch({ input, executor: fakeExecutor((p) => p) });
    // A torn write after the last commit: garbage past the recorded offset.
    appendFileSync(first.output, '{"id":"i3","status":"succ');
    const second = await runBatch({ input, executor: fakeExecutor((p) => p) });
    expect(readJsonlFile(second.output)).toHaveLength(10);
    // Output lost (shorter than the store says): rewritten from the store, still once each.
    writeFileSync(first.output, readFileSync(first.output, 'utf8').slice(0, 30));
    const third = await runBatch({ input, executor: fakeExecutor((p) => p) });
    const out = readJsonlFile(third.output);
    expect(out).toHaveLength(10);
    expect(new Set(out.map((r) => r['id'])).size).toBe(10);
    expect(third.writtenThisRun).toBe(10);
  });

  it('export over the run\'s own output, then retry-failed and resume: still one line per item', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 6);
    const first = await runBatch({
      input,
      executor: fakeExecutor((p, _a, id) => {
        if (id === 'i2') throw failure('auth', 'revoked', 401);
        return p;
      }),
    });
    expect(await exportResults({ state: first.state, output: first.output })).toBe(6);
    expect(await retryFailed({ state: first.state })).toBe(1);
    const second = await runBatch({ input, executor: fakeExecutor((p) => p) });
    const out = readJsonlFile(second.output);
    expect(out.map((r) => r['id']).sort()).toEqual(['i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
    expect(out.every((r) => r['status'] === 'succeeded')).toBe(true);
  });

  it('resumes an ingestion killed between chunks: every line once, every reject once', async () => {
    const input = t.file('big.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= 2500; i++) lines.push(i % 500 === 0 ? 'garbage' : JSON.stringify({ id: `i${i}`, prompt: 'p' }));
    writeFileSync(input, lines.join('\n') + '\n');
    const state = `${input}.db`;
    const inner = SqliteJobStore.open(state);
    let ingests = 0;
    const dying = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'ingest' || typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          ++ingests === 2 ? Promise.reject(new Error('killed')) : (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    await expect(runBatch({ input, executor: fakeExecutor((p) => p), state: dying })).rejects.toThrow('killed');
    expect((await inner.getMeta())?.ingestedThroughLine).toBe(1000);
    await inner.close();
    const summary = await runBatch({ input, executor: fakeExecutor((p) => p), state });
    expect(summary.counts.total).toBe(2495);
    expect(readJsonlFile(summary.rejects).map((r) => r['line'])).toEqual([500, 1000, 1500, 2000, 2500]);
    expect(readJsonlFile(summary.output)).toHaveLength(2495);
  });

  it('a resume with another output file writes every item into it, ignoring what it held', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 5);
    await runBatch({ input, executor: fakeExecutor((p) => p) });
    const other = t.file('other.jsonl');
    writeFileSync(other, 'unrelated content that is longer than nothing\n'.repeat(50));
    const summary = await runBatch({ input, executor: fakeExecutor((p) => p), output: other });
    expect(readJsonlFile(other).map((r) => r['id'])).toEqual(['i1', 'i2', 'i3', 'i4', 'i5']);
    expect(summary.writtenThisRun).toBe(5);
  });
});
