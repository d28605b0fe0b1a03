import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SqliteJobStore, StateFileError } from '../../src/batch/sqlite-store.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const checkpoint = { throughLine: 3, rejectsOffset: 0, done: true };

describe('SqliteJobStore', () => {
  it('claims by priority then line, never twice, and persists attempts as they start', async () => {
    const path = t.file('s.db');
    const store = SqliteJobStore.open(path);
    await store.setMeta({ createdAt: 1, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0 });
    await store.ingest(
      [
        { id: 'a', line: 1, priority: 0, payload: { n: 1 } },
        { id: 'b', line: 2, priority: 5, payload: { n: 2 } },
        { id: 'c', line: 3, priority: 0, payload: { n: 3 } },
      ],
      checkpoint,
    );
    const [first, second] = await Promise.all([store.claimPending(2), store.claimPending(2)]);
    expect(first?.map((i) => i.id)).toEqual(['b', 'a']);
    expect(second?.map((i) => i.id)).toEqual(['c']);
    await store.recordAttemptStart('b', 1, 'k1');
    await store.recordAttemptEnd('b', 1, { ok: false, key: 'k1', kind: 'rate_limited', message: '429', status: 429 });
    await store.recordAttemptStart('b', 2, 'k2');
    await store.close();

    // "Crash": reopen; the running items come back, with their attempts.
    const again = SqliteJobStore.open(path, { create: false });
    expect(await again.resetRunning()).toBe(3);
    const b = await again.get('b');
    expect(b).toMatchObject({ state: 'pending', attempts: 2, lastKey: 'k2', lastError: { kind: 'rate_limited', status: 429 } });
    expect((await again.getMeta())?.ingestDone).toBe(true);
    const counts = await again.counts();
    expect(counts.perKey['k1']).toEqual({ attempts: 1, succeeded: 0, failedByKind: { rate_limited: 1 } });
    await again.close();
  });

  it('completes, writes, retries failed by kind', async () => {
    const store = SqliteJobStore.open(t.file('s.db'));
    await store.ingest(
      ['a', 'b', 'c'].map((id, i) => ({ id, line: i + 1, priority: 0, payload: null })),
      checkpoint,
    );
    await store.claimPending(3);
    await store.complete([
      { id: 'a', state: 'succeeded', result: { text: 'hi' } },
      { id: 'b', state: 'failed', error: { kind: 'auth', message: 'revoked', status: 401 } },
      { id: 'c', state: 'failed', error: { kind: 'invalid_request', message: 'bad' } },
    ]);
    expect((await store.unwritten(10)).map((i) => i.id)).toEqual(['a', 'b', 'c']);
    await store.markWritten(['a', 'b'], 123);
    expect((await store.unwritten(10)).map((i) => i.id)).toEqual(['c']);
    const counts = await store.counts();
    expect(counts).toMatchObject({ total: 3, written: 2, failedByKind: { auth: 1, invalid_request: 1 } });
    expect(await store.retryFailed({ kinds: ['auth'] })).toBe(1);
    expect(await store.get('b')).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await store.counts()).byState).toMatchObject({ pending: 1, succeeded: 1, failed: 1 });
    await store.close();
  });

  it('gives a clear error for a corrupt file, a foreign database and a missing file', () => {
    const corrupt = t.file('corrupt.db');
    writeFileSync(corrupt, 'this is not a database'.repeat(100));
    expect(() => SqliteJobStore.open(corrupt)).toThrow(StateFileError);
    expect(() => SqliteJobStore.open(corrupt)).toThrow(/corrupt\.db: not a usable state file/);
    const foreign = t.file('foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => SqliteJobStore.open(foreign)).toThrow(/not a Sluice state file/);
    expect(() => SqliteJobStore.open(t.file('missing.db'), { create: false })).toThrow(/does not exist/);
  });

  it('refuses a newer schema version', () => {
    const path = t.file('new.db');
    SqliteJobStore.open(path).close().catch(() => undefined);
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteJobStore.open(path)).toThrow(/schema version 99 is newer/);
  });

  it('keeps the input row of an item, and opens a version-1 state (before input rows) by migrating it', async () => {
    const path = t.file('v1.db');
    const store = SqliteJobStore.open(path);
    await store.ingest([{ id: 'a', line: 2, priority: 0, payload: { prompt: 'x' }, input: { id: 'a', name: 'Ada' } }], checkpoint);
    expect((await store.get('a'))?.input).toEqual({ id: 'a', name: 'Ada' });
    await store.close();
    // The schema of version 1 had no input column.
    const db = new Database(path);
    db.exec('ALTER TABLE items DROP COLUMN input');
    db.pragma('user_version = 1');
    db.close();
    const migrated = SqliteJobStore.open(path);
    expect((await migrated.get('a'))?.input).toBeUndefined();
    await migrated.ingest([{ id: 'b', line: 3, priority: 0, payload: {}, input: { id: 'b' } }], checkpoint);
    expect((await migrated.get('b'))?.input).toEqual({ id: 'b' });
    await migrated.close();
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });
});
