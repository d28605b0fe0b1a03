import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { SqliteJobStore } from '../../src/batch/sqlite-store.js';
import { BEGIN_STALE, RedisJobStore } from '../../src/batch/redis/redis-store.js';
import { runBatch } from '../../src/batch/runner.js';
import { exportResults } from '../../src/batch/commands.js';
import type { JobStore, NewItem } from '../../src/batch/store.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('store');
const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-store-'));
let admin: Redis;
const opened: JobStore[] = [];
let runSeq = 0;

beforeAll(() => {
  admin = testClient();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

const makers: Record<string, () => Promise<JobStore>> = {
  sqlite: async () => {
    const s = SqliteJobStore.open(join(dir, `s${++runSeq}.db`));
    opened.push(s);
    return s;
  },
  redis: async () => {
    const s = await RedisJobStore.connect(REDIS_URL, { prefix, run: `r${++runSeq}` });
    opened.push(s);
    return s;
  },
};

const items = (n: number, priority = (_i: number) => 0): NewItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `i${i + 1}`, line: i + 1, priority: priority(i + 1), payload: { n: i + 1 } }));

describe.each(Object.keys(makers))('JobStore contract: %s', (name) => {
  const make = makers[name]!;

  it('meta: undefined until created, then a shallow merge', async () => {
    const store = await make();
    expect(await store.getMeta()).toBeUndefined();
    await store.setMeta({ createdAt: 5, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0, options: { rpm: 60 } });
    await store.setMeta({ outputOffset: 10 });
    expect(await store.getMeta()).toEqual({ createdAt: 5, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 10, options: { rpm: 60 } });
  });

  it('ingest commits the checkpoint with the items; duplicates are ignored and reported', async () => {
    const store = await make();
    await store.setMeta({ createdAt: 1, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0 });
    expect(await store.ingest(items(3), { throughLine: 3, rejectsOffset: 7, done: false })).toEqual({ inserted: 3, duplicates: [] });
    expect(await store.existingIds(['i1', 'zz', 'i3'])).toEqual(new Set(['i1', 'i3']));
    const again = await store.ingest([{ id: 'i2', line: 9, priority: 0, payload: null }, { id: 'i4', line: 4, priority: 0, payload: 'x' }], { throughLine: 9, rejectsOffset: 8, done: true });
    expect(again).toEqual({ inserted: 1, duplicates: ['i2'] });
    expect(await store.getMeta()).toMatchObject({ ingestedThroughLine: 9, rejectsOffset: 8, ingestDone: true });
    expect((await store.counts()).total).toBe(4);
    expect(await store.get('i4')).toMatchObject({ id: 'i4', line: 4, state: 'pending', attempts: 0, payload: 'x' });
  });

  it('claims by priority then line, never the same item twice', async () => {
    const store = await make();
    await store.ingest(items(6, (i) => (i === 5 ? 3 : i === 2 ? 1 : 0)), { throughLine: 6, rejectsOffset: 0, done: true });
    const claims = await Promise.all([store.claimPending(2), store.claimPending(2), store.claimPending(5)]);
    const ids = claims.flat().map((i) => i.id);
    expect(ids).toEqual(['i5', 'i2', 'i1', 'i3', 'i4', 'i6']);
    expect(claims.flat().every((i) => i.state === 'running')).toBe(true);
    expect((await store.counts()).byState).toMatchObject({ pending: 0, running: 6 });
  });

  it('attempts persist as they start; attempt ends keep the last error and per-key counters; resetRunning returns items', async () => {
    const store = await make();
    await store.ingest(items(2), { throughLine: 2, rejectsOffset: 0, done: true });
    await store.claimPending(2);
    await store.recordAttemptStart('i1', 1, 'k1');
    await store.recordAttemptEnd('i1', 1, { ok: false, key: 'k1', kind: 'rate_limited', message: '429', status: 429 });
    await store.recordAttemptStart('i1', 2, 'k2');
    expect(await store.resetRunning()).toBe(2);
    expect(await store.get('i1')).toMatchObject({ state: 'pending', attempts: 2, lastKey: 'k2', lastError: { kind: 'rate_limited', message: '429', status: 429 } });
    await store.claimPending(1);
    await store.recordAttemptEnd('i1', 3, { ok: true, key: 'k2' });
    const counts = await store.counts();
    expect(counts.perKey).toEqual({ k1: { attempts: 1, succeeded: 0, failedByKind: { rate_limited: 1 } }, k2: { attempts: 1, succeeded: 1, failedByKind: {} } });
  });

  it('completes (results, failures by kind, give back), writes once, retries failed by kind', async () => {
    const store = await make();
    await store.ingest(items(5), { throughLine: 5, rejectsOffset: 0, done: true });
    await store.claimPending(5);
    await store.complete([
      { id: 'i1', state: 'succeeded', result: { text: 'one', n: 1.5 } },
      { id: 'i2', state: 'failed', error: { kind: 'invalid_request', message: 'bad', status: 400 } },
      { id: 'i3', state: 'failed', error: { kind: 'auth', message: 'no' } },
      { id: 'i4', state: 'cancelled', error: { kind: 'cancelled', message: 'stop' } },
      { id: 'i5', state: 'pending' },
    ]);
    let counts = await store.counts();
    expect(counts.byState).toEqual({ pending: 1, running: 0, succeeded: 1, failed: 2, cancelled: 1 });
    expect(counts.failedByKind).toEqual({ invalid_request: 1, auth: 1 });
    expect(counts.written).toBe(0);
    expect(await store.get('i1')).toMatchObject({ state: 'succeeded', result: { text: 'one', n: 1.5 } });
    const unwritten = await store.unwritten(10);
    expect(unwritten.map((i) => i.id).sort()).toEqual(['i1', 'i2', 'i3', 'i4']);
    await store.markWritten(['i1', 'i2'], 123);
    expect((await store.unwritten(10)).map((i) => i.id).sort()).toEqual(['i3', 'i4']);
    expect((await store.getMeta())?.outputOffset ?? (await store.counts()).written).toBeDefined();
    counts = await store.counts();
    expect(counts.written).toBe(2);
    expect(await store.retryFailed({ kinds: ['auth'] })).toBe(1);
    expect(await store.get('i3')).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await store.get('i3'))?.lastError).toBeUndefined();
    expect(await store.retryFailed({ includeCancelled: true })).toBe(2);
    counts = await store.counts();
    expect(counts.byState).toEqual({ pending: 4, running: 0, succeeded: 1, failed: 0, cancelled: 0 });
    expect(counts.failedByKind).toEqual({});
    await store.resetWritten();
    expect((await store.unwritten(10)).map((i) => i.id)).toEqual(['i1']);
  });

  it('streams final items in line order, in pages', async () => {
    const store = await make();
    await store.ingest(items(7), { throughLine: 7, rejectsOffset: 0, done: true });
    await store.claimPending(7);
    await store.complete([7, 3, 5, 1, 2].map((n) => ({ id: `i${n}`, state: 'succeeded' as const, result: n })));
    const seen: string[] = [];
    for await (const item of store.finalItems(2)) seen.push(item.id);
    expect(seen).toEqual(['i1', 'i2', 'i3', 'i5', 'i7']);
  });
});

describe('RedisJobStore across workers', () => {
  it('attempts are counted once each across concurrent workers, and the first final result wins', async () => {
    const run = `shared${++runSeq}`;
    const workers = await Promise.all(Array.from({ length: 6 }, () => RedisJobStore.connect(REDIS_URL, { prefix, run })));
    opened.push(...workers);
    await workers[0]!.ingest(items(1), { throughLine: 1, rejectsOffset: 0, done: true });
    const numbers = await Promise.all(workers.flatMap((w) => Array.from({ length: 20 }, () => w.beginAttempt('i1', 'k'))));
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const finals = await Promise.all(
      workers.map((w, i) => w.finishAttempt('i1', 120, { ok: true, key: 'k' }, { id: 'i1', state: 'succeeded', result: `worker ${i}` })),
    );
    expect(finals.filter(Boolean)).toHaveLength(1);
    const item = await workers[1]!.get('i1');
    expect(item).toMatchObject({ state: 'succeeded', attempts: 120, result: `worker ${finals.indexOf(true)}` });
    expect(await workers[2]!.beginAttempt('i1')).toBe(0);
    expect((await workers[3]!.counts()).byState).toMatchObject({ running: 0, succeeded: 1 });
  });

  it("an attempt counted from a stale copy of the item (expected number) is refused and counts nothing", async () => {
    const run = `stale${++runSeq}`;
    const store = await RedisJobStore.connect(REDIS_URL, { prefix, run });
    opened.push(store);
    await store.ingest(items(1), { throughLine: 1, rejectsOffset: 0, done: true });
    expect(await store.beginAttempt('i1', 'k', 'n1', undefined, 1)).toBe(1);
    // A copy made before that attempt expects 1 again: refused, still 1 attempt.
    expect(await store.beginAttempt('i1', 'k', 'n2', undefined, 1)).toBe(BEGIN_STALE);
    expect((await store.get('i1'))?.attempts).toBe(1);
    expect(await store.beginAttempt('i1', 'k', 'n3', undefined, 2)).toBe(2);
    // The nonce of a resent call still answers first (its count stands).
    expect(await store.beginAttempt('i1', 'k', 'n3', undefined, 2)).toBe(2);
  });

  it('pendingPage reads the payloads and attempts only when asked for them (a job carries them; with carryMaxChars 0 nothing is carried)', async () => {
    const run = `page${++runSeq}`;
    const store = await RedisJobStore.connect(REDIS_URL, { prefix, run });
    opened.push(store);
    await store.ingest(items(2), { throughLine: 2, rejectsOffset: 0, done: true });
    let trips = store.trips;
    const bare = await store.pendingPage('-inf', 10, false);
    expect(store.trips - trips).toBe(1);
    expect(bare.items.map((i) => [i.id, i.payloadJson])).toEqual([['i1', undefined], ['i2', undefined]]);
    trips = store.trips;
    const full = await store.pendingPage('-inf', 10);
    expect(store.trips - trips).toBe(2);
    expect(full.items.map((i) => JSON.parse(i.payloadJson!) as unknown)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a call resent after a lost reply (same nonce) counts its attempt once, and an attempt ends once in the key stats', async () => {
    const run = `resend${++runSeq}`;
    const store = await RedisJobStore.connect(REDIS_URL, { prefix, run });
    opened.push(store);
    await store.ingest(items(1), { throughLine: 1, rejectsOffset: 0, done: true });
    expect(await store.beginAttempt('i1', 'k', 'nonce-1')).toBe(1);
    expect(await store.beginAttempt('i1', 'k', 'nonce-1')).toBe(1);
    expect(await store.beginAttempt('i1', 'k', 'nonce-2')).toBe(2);
    const failure = { ok: false as const, key: 'k', kind: 'server_error' as const, message: 'HTTP 500' };
    await store.finishAttempt('i1', 1, failure, { id: 'i1', state: 'pending' });
    await store.finishAttempt('i1', 1, failure, { id: 'i1', state: 'pending' });
    await store.finishAttempt('i1', 2, { ok: true, key: 'k' }, { id: 'i1', state: 'succeeded', result: 'r' });
    await store.finishAttempt('i1', 2, { ok: true, key: 'k' }, { id: 'i1', state: 'succeeded', result: 'r' });
    expect(await store.get('i1')).toMatchObject({ state: 'succeeded', attempts: 2, result: 'r' });
    expect(await store.redis.hgetall(`${store.base}:keystats`)).toEqual({ 'k\tserver_error': '1', 'k\tok': '1' });
  });

  it('runBatch works on the Redis store; status and export read the same store', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `x${i}`, prompt: `p${i}` })).join('\n') + '\n{oops\n');
    const store = await RedisJobStore.connect(REDIS_URL, { prefix, run: `batch${++runSeq}` });
    opened.push(store);
    const summary = await runBatch({
      input,
      state: store,
      output: join(dir, 'out.jsonl'),
      executor: {
        run: async (payload, o) => {
          await o.onAttemptStart({ attempt: o.startAttempt + 1, key: 'k' });
          const p = (payload as { prompt: string }).prompt;
          if (p === 'p7') {
            await o.onAttemptEnd({ attempt: o.startAttempt + 1, key: 'k', ok: false, kind: 'invalid_request', message: 'nope', status: 400 });
            throw new SluiceError({ kind: 'invalid_request', retryable: false, message: 'nope', status: 400 });
          }
          await o.onAttemptEnd({ attempt: o.startAttempt + 1, key: 'k', ok: true });
          return p.toUpperCase();
        },
      },
    });
    expect(summary.counts.byState).toMatchObject({ succeeded: 29, failed: 1, pending: 0, running: 0 });
    expect(summary.rejected).toBe(1);
    const out = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n');
    expect(out).toHaveLength(30);
    expect(new Set(out.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(30);
    expect(await exportResults({ state: store, output: join(dir, 'export.jsonl') })).toBe(30);
    const exported = readFileSync(join(dir, 'export.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string });
    expect(exported[0]).toMatchObject({ id: 'x0', status: 'succeeded' });
    expect(exported.find((e) => e.id === 'x7')).toMatchObject({ status: 'failed', error: { kind: 'invalid_request', attempts: 1, status: 400 } });
    expect((await store.counts()).perKey['k']).toMatchObject({ attempts: 30, succeeded: 29 });
  });
});
