import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { runBatch, batchStatus, retryFailed, exportResults, InputChangedError } from '../../src/batch/index.js';
import { TypedEmitter } from '../../src/observe/typed-emitter.js';
import type { BatchEvents } from '../../src/batch/types.js';
import { failure, fakeExecutor, readJsonlFile, tempDir, writeJsonl } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

function ids(path: string): string[] {
  return readJsonlFile(path).map((r) => r['id'] as string);
}

describe('runBatch', () => {
  it('runs every item once and writes one line per item with results and classified errors', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 50);
    const executor = fakeExecutor((p, attempt, id) => {
      if (id === 'i7') throw failure('invalid_request', 'bad prompt', 400);
      if (id === 'i9' && attempt < 3) throw failure('server_error', 'boom', 500);
      return { echo: (p as { prompt: string }).prompt };
    });
    const summary = await runBatch({ input, executor, window: 8 });
    expect(summary.counts.byState).toMatchObject({ succeeded: 49, failed: 1, pending: 0, running: 0 });
    expect(summary.counts.failedByKind).toEqual({ invalid_request: 1 });
    expect(summary.counts.perKey['k1']).toMatchObject({ attempts: 52, succeeded: 49 });
    const out = readJsonlFile(summary.output);
    expect(out).toHaveLength(50);
    expect(new Set(ids(summary.output)).size).toBe(50);
    expect(out.find((r) => r['id'] === 'i7')).toMatchObject({
      status: 'failed',
      error: { kind: 'invalid_request', message: 'bad prompt', attempts: 1, status: 400 },
    });
    expect(out.find((r) => r['id'] === 'i9')).toMatchObject({ status: 'succeeded', result: { echo: 'p9' } });
    expect(executor.calls).toBe(52);
  });

  it('a second run of a finished batch calls nothing and writes nothing twice', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 20);
    const ex = fakeExecutor(() => 'ok');
    await runBatch({ input, executor: ex });
    const again = await runBatch({ input, executor: ex });
    expect(ex.calls).toBe(20);
    expect(again.writtenThisRun).toBe(0);
    expect(ids(again.output)).toHaveLength(20);
  });

  it('refuses a changed input on resume unless forced', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 5);
    await runBatch({ input, executor: fakeExecutor(() => 1) });
    appendFileSync(input, JSON.stringify({ id: 'new', prompt: 'x' }) + '\n');
    await expect(runBatch({ input, executor: fakeExecutor(() => 1) })).rejects.toBeInstanceOf(InputChangedError);
    await expect(runBatch({ input, executor: fakeExecutor(() => 1) })).rejects.toThrow(/input changed/);
    const ex = fakeExecutor(() => 1);
    const forced = await runBatch({ input, executor: ex, force: true });
    // Forcing after an append ingests and runs the appended line (and only it).
    expect(forced.counts.total).toBe(6);
    expect(ex.calls).toBe(1);
    expect(ids(forced.output).sort()).toEqual(['i1', 'i2', 'i3', 'i4', 'i5', 'new']);
  });

  it('stops on the signal: items not started go back to pending and a later run finishes them', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 40);
    const controller = new AbortController();
    let n = 0;
    const ex = fakeExecutor(() => {
      if (++n === 10) controller.abort();
      return 'ok';
    });
    const first = await runBatch({ input, executor: ex, window: 4, signal: controller.signal, graceMs: 0 });
    expect(first.interrupted).toBe(true);
    expect(first.counts.byState.running).toBe(0);
    expect(first.counts.byState.succeeded).toBeLessThan(40);
    const second = await runBatch({ input, executor: fakeExecutor(() => 'ok') });
    expect(second.counts.byState.succeeded).toBe(40);
    expect(new Set(ids(second.output)).size).toBe(40);
    expect(ids(second.output)).toHaveLength(40);
  });

  it('on stop, attempts on the wire finish and are kept; items not started go back to pending', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 10);
    const controller = new AbortController();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    // Two attempts on the wire at a time; the others wait in the "executor" without an attempt.
    let slots = 2;
    const ex = fakeExecutor(async () => {
      started++;
      if (started === 2) {
        controller.abort();
        release();
      }
      await gate;
      return 'done';
    });
    const limited = {
      run: async (payload: unknown, o: Parameters<typeof ex.run>[1]) => {
        while (slots === 0) {
          if (o.signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
          await new Promise((r) => setImmediate(r));
        }
        slots--;
        try {
          return await ex.run(payload, o);
        } finally {
          slots++;
        }
      },
    };
    const summary = await runBatch({ input, executor: limited, window: 10, signal: controller.signal, graceMs: 60_000 });
    expect(summary.interrupted).toBe(true);
    expect(summary.counts.byState).toMatchObject({ succeeded: 2, pending: 8, running: 0 });
    expect(readJsonlFile(summary.output)).toHaveLength(2);
  });

  it('emits start, ingest, item, progress-free events and done', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 3);
    const events = new TypedEmitter<BatchEvents>();
    const seen: string[] = [];
    events.onAny((type) => seen.push(String(type)));
    await runBatch({ input, executor: fakeExecutor(() => 1), events });
    expect(seen[0]).toBe('ingest');
    expect(seen).toContain('start');
    expect(seen.filter((s) => s === 'item')).toHaveLength(3);
    expect(seen.at(-1)).toBe('done');
  });

  it('retryFailed returns failed items of a kind to pending and the next run rewrites the output once', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 10);
    const failing = new Set(['i2', 'i3', 'i4']);
    const ex = fakeExecutor((_p, _a, id) => {
      if (id === 'i2') throw failure('auth', 'revoked', 401);
      if (failing.has(id)) throw failure('invalid_request', 'nope', 400);
      return 'ok';
    });
    const first = await runBatch({ input, executor: ex });
    expect(first.counts.failedByKind).toEqual({ auth: 1, invalid_request: 2 });
    expect(await retryFailed({ state: first.state, kinds: ['auth'] })).toBe(1);
    const status = await batchStatus({ state: first.state });
    expect(status.byState).toMatchObject({ pending: 1, failed: 2 });
    const second = await runBatch({ input, executor: fakeExecutor(() => 'ok') });
    expect(second.counts.byState).toMatchObject({ succeeded: 8, failed: 2 });
    const out = readJsonlFile(second.output);
    expect(out).toHaveLength(10);
    expect(out.find((r) => r['id'] === 'i2')).toMatchObject({ status: 'succeeded' });
    const exported = t.file('export.jsonl');
    expect(await exportResults({ state: first.state, output: exported })).toBe(10);
    expect(ids(exported)).toEqual(Array.from({ length: 10 }, (_, i) => `i${i + 1}`));
  });

  it('refuses a second run on the same state file while the first holds it; takes over a dead owner\'s lock', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 3);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const first = runBatch({ input, executor: fakeExecutor(() => gate) });
    const lock = `${input}.sluice.db.lock`;
    for (let i = 0; i < 100_000 && !existsSync(lock); i++) await new Promise((r) => setImmediate(r));
    await expect(runBatch({ input, executor: fakeExecutor(() => 1) })).rejects.toThrow(/is in use by process/);
    release();
    expect((await first).counts.byState.succeeded).toBe(3);
    // A lock left by a killed process (pid that does not exist) is stale.
    writeFileSync(lock, '2147483646');
    const again = await runBatch({ input, executor: fakeExecutor(() => 1) });
    expect(again.counts.byState.succeeded).toBe(3);
  });

  it('names the missing input file', async () => {
    await expect(runBatch({ input: t.file('nope.jsonl'), executor: fakeExecutor(() => 1) })).rejects.toThrow(
      /nope\.jsonl: not found/,
    );
  });

  it('validates options naming the field', async () => {
    const input = t.file('in.jsonl');
    writeFileSync(input, '');
    await expect(runBatch({ input, executor: fakeExecutor(() => 1), window: 0 })).rejects.toThrow(/window must be/);
    expect(statSync(input).size).toBe(0);
  });
});
