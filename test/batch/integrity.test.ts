/**
 * Issue 13 at the batch layer, on real files: a forced resume of a changed input (appended, changed,
 * removed lines; a state of another input), one writer per output file, a BOM, the run-level stop after
 * identical failures, and the quota state saved with attempts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InputLinesChangedError,
  StateInUseError,
  StateOfOtherInputError,
  acquireFileLocks,
  readRunMeta,
  runBatch,
  runLockTargets,
} from '../../src/batch/index.js';
import { startTimeOf } from '../../src/batch/run-lock.js';
import { TypedEmitter } from '../../src/observe/typed-emitter.js';
import type { BatchEvents } from '../../src/batch/types.js';
import { failure, fakeExecutor, readJsonlFile, tempDir, writeJsonl } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

/** The executor's answer is the prompt it got, so a result shows which version of a line ran. */
const echo = (): ReturnType<typeof fakeExecutor> => fakeExecutor((p) => (p as { prompt: string }).prompt);
const results = (path: string): Record<string, unknown> => Object.fromEntries(readJsonlFile(path).map((r) => [r.id as string, r.result]));

function rewrite(path: string, edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  writeFileSync(path, edit(lines).join('\n') + '\n');
}

describe('--force with a changed input', () => {
  it('lists changed and removed lines and refuses without a policy', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 6);
    await runBatch({ input, executor: echo() });
    rewrite(input, (l) => [l[0]!, JSON.stringify({ id: 'i2', prompt: 'p2 edited' }), l[2]!, '', l[4]!, l[5]!]);
    const err = await runBatch({ input, executor: echo(), force: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputLinesChangedError);
    const changes = (err as InputLinesChangedError).changes.map((c) => [c.line, c.change]);
    expect(changes).toEqual([
      [2, 'changed'],
      [4, 'removed'],
    ]);
    expect((err as Error).message).toMatch(/line 2 changed \(id i2\), line 4 removed \(id i4\)/);
    expect((err as Error).message).toMatch(/--changed-lines rerun/);
  });

  it('rerun: changed lines run again with their new content, removed lines leave the output, appended lines run', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 5);
    const first = await runBatch({ input, executor: echo() });
    rewrite(input, (l) => [l[0]!, JSON.stringify({ id: 'i2', prompt: 'p2 edited' }), l[2]!, l[4]!, JSON.stringify({ id: 'n1', prompt: 'new' })]);
    const ex = echo();
    const events = new TypedEmitter<BatchEvents>();
    const seen: BatchEvents['inputChanged'][] = [];
    events.on('inputChanged', (e) => seen.push(e));
    const again = await runBatch({ input, executor: ex, force: true, changedLines: 'rerun', events });
    // Line 4 now holds i5 (line 5 before): i4 removed, i5 moved (changed), i2 changed, line 5 is new.
    expect(seen[0]?.appendOnly).toBe(false);
    const out = readJsonlFile(first.output);
    expect(out.map((r) => r.id).sort()).toEqual(['i1', 'i2', 'i3', 'i5', 'n1']);
    expect(results(first.output)).toMatchObject({ i1: 'p1', i2: 'p2 edited', i3: 'p3', i5: 'p5', n1: 'new' });
    expect(again.counts.total).toBe(5);
    expect(ex.calls).toBe(3); // i2, i5 (its line moved), n1
  });

  it('keep: old results stay, nothing already run is sent again; appended lines still run', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 3);
    const first = await runBatch({ input, executor: echo() });
    rewrite(input, (l) => [l[0]!, JSON.stringify({ id: 'i2', prompt: 'p2 edited' }), l[2]!, JSON.stringify({ id: 'n1', prompt: 'new' })]);
    const ex = echo();
    await runBatch({ input, executor: ex, force: true, changedLines: 'keep' });
    expect(ex.calls).toBe(1);
    expect(results(first.output)).toEqual({ i1: 'p1', i2: 'p2', i3: 'p3', n1: 'new' });
  });

  it('appended lines only: no policy needed, only the new lines are called', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 4);
    const first = await runBatch({ input, executor: echo() });
    appendFileSync(input, JSON.stringify({ id: 'a1', prompt: 'x' }) + '\n' + JSON.stringify({ id: 'a2', prompt: 'y' }) + '\n');
    const ex = echo();
    const again = await runBatch({ input, executor: ex, force: true });
    expect(ex.calls).toBe(2);
    expect(again.counts.total).toBe(6);
    expect(readJsonlFile(first.output).map((r) => r.id)).toEqual(['i1', 'i2', 'i3', 'i4', 'a1', 'a2']);
  });

  it('a state made from another input is refused even with force, and this input’s results are untouched', async () => {
    const a = t.file('a.jsonl');
    const b = t.file('b.jsonl');
    writeJsonl(a, 3);
    writeFileSync(b, JSON.stringify({ id: 'b1', prompt: 'other' }) + '\n');
    const bRun = await runBatch({ input: b, executor: echo() });
    const before = readFileSync(bRun.output, 'utf8');
    await runBatch({ input: a, executor: echo(), state: t.file('a.db') });
    // The state of a.jsonl, used for b.jsonl (which has results of its own).
    const err = await runBatch({ input: b, executor: echo(), state: t.file('a.db'), force: true, changedLines: 'rerun' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateOfOtherInputError);
    expect((err as Error).message).toContain(a);
    // Without force it is the same refusal (not "use force"), since force would not help.
    await expect(runBatch({ input: b, executor: echo(), state: t.file('a.db') })).rejects.toBeInstanceOf(StateOfOtherInputError);
    expect(readFileSync(bRun.output, 'utf8')).toBe(before);
  });
});

describe('one writer per output file', () => {
  it('a second run writing the same results file (with another state) is refused, naming the file', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 2);
    const lock = acquireFileLocks(runLockTargets(t.file('other.db'), `${input}.results.jsonl`, t.file('other.rejects')));
    try {
      const err = await runBatch({ input, executor: echo(), state: t.file('mine.db') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateInUseError);
      expect((err as Error).message).toContain(`results file ${input}.results.jsonl`);
      expect((err as Error).message).toContain('--output');
      // Refused before anything was created.
      expect(existsSync(t.file('mine.db'))).toBe(false);
    } finally {
      lock.release();
    }
    await runBatch({ input, executor: echo(), state: t.file('mine.db') });
  });

  it('a lock left by a pid now used by another process is taken over; one held by its live owner is not', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 1);
    const child: ChildProcess = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const pid = child.pid!;
      const state = t.file('in.db');
      // Reused pid: the lock names a live pid, but with another start time than that process has.
      writeFileSync(`${state}.lock`, JSON.stringify({ pid, start: '1', host: (await import('node:os')).hostname() }));
      await runBatch({ input, executor: echo(), state });
      expect(existsSync(`${state}.lock`)).toBe(false);
      // The real owner (same pid and start time) keeps it.
      writeFileSync(`${state}.lock`, JSON.stringify({ pid, start: startTimeOf(pid), host: (await import('node:os')).hostname() }));
      const err = await runBatch({ input, executor: echo(), state }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateInUseError);
      expect((err as Error).message).toContain(`lock ${state}.lock`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('input details', () => {
  it('a UTF-8 BOM on line 1 is accepted (JSONL and CSV)', async () => {
    const jsonl = t.file('bom.jsonl');
    writeFileSync(jsonl, '\ufeff' + JSON.stringify({ id: 'a', prompt: 'x' }) + '\n' + JSON.stringify({ id: 'b', prompt: 'y' }) + '\n');
    const j = await runBatch({ input: jsonl, executor: echo() });
    expect(j.rejected).toBe(0);
    expect(j.counts.byState.succeeded).toBe(2);
    const csv = t.file('bom.csv');
    writeFileSync(csv, '\ufeffid,name\r\nr1,Ada\r\nr2,Linus\r\n');
    const c = await runBatch({ input: csv, template: 'Bio of {{name}}', executor: echo() });
    expect(c.rejected).toBe(0);
    expect(results(c.output)).toEqual({ r1: 'Bio of Ada', r2: 'Bio of Linus' });
  });
});

describe('run-level stop', () => {
  it('pauses after N identical non-retryable failures in a row; the rest stays pending', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 200);
    const ex = fakeExecutor(() => {
      throw failure('invalid_request', 'model is required', 400);
    });
    const events = new TypedEmitter<BatchEvents>();
    const halts: BatchEvents['halted'][] = [];
    events.on('halted', (h) => halts.push(h));
    const summary = await runBatch({ input, executor: ex, maxConsecutiveFailures: 5, window: 2, events });
    expect(halts).toHaveLength(1);
    expect(summary.halted).toMatchObject({ kind: 'invalid_request', message: 'model is required', status: 400, count: 5 });
    // Stopped at once: a few in flight at most beyond the 5.
    expect(ex.calls).toBeLessThanOrEqual(5 + 2);
    expect(summary.counts.byState.pending).toBeGreaterThan(150);
    expect(summary.interrupted).toBe(false);
  });

  it('different failures, retryable kinds or a success in between do not stop the run', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 60);
    let n = 0;
    const ex = fakeExecutor(() => {
      n++;
      if (n % 10 === 0) return 'ok';
      throw failure(n % 2 ? 'invalid_request' : 'server_error', `bad ${n % 3}`);
    }, 1);
    const summary = await runBatch({ input, executor: ex, maxConsecutiveFailures: 3, window: 1 });
    expect(summary.halted).toBeUndefined();
    expect(summary.counts.byState.pending).toBe(0);
  });
});

describe('quota state', () => {
  it('is stored with each attempt start and read back for the next run', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 3);
    let started = 0;
    await runBatch({
      input,
      executor: fakeExecutor(() => 'ok'),
      quotaState: () => ({ k1: { day: '2026-12-02', requests: ++started, tokens: 0 } }),
      settings: { model: 'm1' },
    });
    const meta = await readRunMeta(`${input}.sluice.db`);
    expect(meta?.quotaState).toEqual({ k1: { day: '2026-12-02', requests: 3, tokens: 0 } });
    expect(meta?.settings).toEqual({ model: 'm1' });
    // A copied state still reads (nothing depends on the path).
    copyFileSync(`${input}.sluice.db`, t.file('copy.db'));
    expect((await readRunMeta(t.file('copy.db')))?.settings).toEqual({ model: 'm1' });
    expect(await readRunMeta(t.file('none.db'))).toBeUndefined();
    expect(existsSync(t.file('none.db'))).toBe(false);
  });
});
