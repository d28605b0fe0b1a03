/**
 * The two backends of the behaviour suite, behind one function: run these items with these keys,
 * provider and options, and give back the results file's lines.
 * - `embedded`: `runBatch` with the SQLite store (a real file) and the executor of `createSluice`;
 * - `redis`: the items enqueued in real Redis (own prefix) and one `runRedisWorker` (BullMQ), the
 *   results exported from the Redis store.
 * Both read the same JSONL input and write the same results format, so one test asserts both.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RetryPolicy, RetryPolicyOptions } from '../../src/attempt/policy.js';
import { exportResults } from '../../src/batch/commands.js';
import type { ResultLine } from '../../src/batch/output.js';
import { runRedisWorker } from '../../src/batch/redis/run-worker.js';
import { runBatch } from '../../src/batch/runner.js';
import type { BatchExecutor } from '../../src/batch/types.js';
import type { KeyLimits } from '../../src/flow/limits.js';
import type { ApiKey, ProviderAdapter } from '../../src/provider/types.js';
import { createSluice } from '../../src/scheduler/create-sluice.js';
import { REDIS_URL, cleanup, enqueueItems, testClient, uniquePrefix } from '../redis/helpers.js';
import { connectRedis } from '../../src/flow/redis/connect.js';
import { deleteByPattern } from '../../src/flow/redis/redis-flow-backend.js';

/** What a scenario gives a backend. */
export interface Scenario {
  items: readonly object[];
  keys: readonly ApiKey[];
  provider: ProviderAdapter;
  retry?: RetryPolicy | RetryPolicyOptions;
  limits?: KeyLimits;
  concurrency?: number;
  learnRate?: boolean;
}

/** A backend under test. */
export interface Backend {
  name: 'embedded' | 'redis';
  /** Runs the scenario to its end; returns the results lines by item id. */
  run(s: Scenario): Promise<Map<string, ResultLine>>;
  close(): Promise<void>;
}

function readResults(path: string): Map<string, ResultLine> {
  const out = new Map<string, ResultLine>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as ResultLine;
    out.set(r.id, r);
  }
  return out;
}

function writeInput(dir: string, name: string, items: readonly object[]): string {
  const input = join(dir, `${name}.jsonl`);
  writeFileSync(input, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
  return input;
}

/** The embedded backend: SQLite state, createSluice's executor. */
export function embeddedBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-behaviour-'));
  let n = 0;
  return {
    name: 'embedded',
    async run(s) {
      const name = `run${++n}`;
      const input = writeInput(dir, name, s.items);
      const executor = createSluice<unknown, unknown>({
        provider: s.provider,
        keys: s.keys,
        ...(s.limits ? { limits: s.limits } : {}),
        ...(s.retry ? { retry: s.retry } : {}),
        concurrency: s.concurrency ?? 4,
        ...(s.learnRate !== undefined ? { learnRate: s.learnRate } : {}),
      });
      // As src/cli/session.ts wires the executor into the batch runner.
      const batchExecutor: BatchExecutor = {
        run: (payload, o) =>
          executor.run(payload, {
            id: o.id,
            priority: o.priority,
            signal: o.signal,
            startAttempt: o.startAttempt,
            onAttemptStart: (i) => o.onAttemptStart({ attempt: i.attempt, key: i.key }),
            onAttemptEnd: (i) =>
              o.onAttemptEnd({
                attempt: i.attempt,
                key: i.key,
                ok: i.ok,
                ...(i.kind ? { kind: i.kind } : {}),
                ...(i.message ? { message: i.message } : {}),
                ...(i.status !== undefined ? { status: i.status } : {}),
              }),
          }),
      };
      const output = join(dir, `${name}.results.jsonl`);
      try {
        await runBatch({ input, executor: batchExecutor, state: join(dir, `${name}.sluice.db`), output, maxConsecutiveFailures: 0 });
      } finally {
        await executor.close({ graceMs: 0 });
      }
      return readResults(output);
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Redis backend: real Redis under a prefix of its own, one BullMQ worker. */
export function redisBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-behaviour-redis-'));
  const prefix = uniquePrefix('behaviour');
  const admin = testClient();
  let n = 0;
  return {
    name: 'redis',
    async run(s) {
      const run = `run${++n}`;
      const connection = await connectRedis(REDIS_URL);
      try {
        // Each scenario starts with fresh keys: key states are shared per prefix (a key disabled stays so).
        await deleteByPattern(connection, `${prefix}:flow:*`);
        const { store } = await enqueueItems(connection, { dir, prefix, run }, s.items);
        await runRedisWorker({
          url: REDIS_URL,
          prefix,
          run,
          pollMs: 50,
          provider: s.provider,
          keys: s.keys,
          ...(s.limits ? { limits: s.limits } : {}),
          ...(s.retry ? { retry: s.retry } : {}),
          concurrency: s.concurrency ?? 4,
          ...(s.learnRate !== undefined ? { learnRate: s.learnRate } : {}),
        });
        const output = join(dir, `${run}.results.jsonl`);
        await exportResults({ state: store, output });
        return readResults(output);
      } finally {
        await connection.quit();
      }
    },
    async close() {
      await cleanup(admin, prefix);
      await admin.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
