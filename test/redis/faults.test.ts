/**
 * Redis faults said out loud (issue 12), through the CLI in process and real redis-server processes:
 * - `status` and `export` refuse a run that does not exist (both backends), `export` warns when the run
 *   is unfinished (both backends);
 * - a worker whose run vanished (its own redis-server, no persistence, killed with SIGKILL and started
 *   again empty) exits non-zero with a clear message instead of waiting for ever;
 * - with AOF (`--appendonly yes --appendfsync always`, as docs/SCALING.md says) the same kill -9 and
 *   restart loses nothing: the worker reconnects and the run finishes, every item once;
 * - a Redis Cluster node is refused at connect.
 * The servers this file starts listen on free loopback ports of their own; the shared server on 6379
 * is only used with this file's prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../../src/batch/sqlite-store.js';
import { connectRedis, RedisConnectError } from '../../src/flow/redis/connect.js';
import { runCli } from '../../src/cli/program.js';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('faults');
const SECRET = 'sk-test-REDIS-faults-secret-123456';
const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-faults-'));
let sim: Simulator;
let admin: Redis;
const servers: ChildProcess[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runCli(['node', 'sluice', ...args], { stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)), env: { KEY_ONE: SECRET }, cwd: dir });
  return { code, stdout, stderr };
}

function writeInput(name: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `item-${i + 1}`, payload: { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: `hello ${i + 1}` }] } }));
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** A free loopback port (bound and released; the server started on it next takes it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a redis-server of this test on `port` with `args`, and waits until it answers PING. */
async function startRedisServer(port: number, args: string[], cwd: string): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', cwd, '--save', '', ...args], { stdio: 'ignore' });
  servers.push(child);
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
      if ((await probe.connect().then(() => probe.ping()).catch(() => undefined)) === 'PONG') return child;
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${port} did not answer`);
  } finally {
    probe.disconnect();
  }
}

/** SIGKILL, as a crash or an OOM kill would do, and waits for the process to be gone. */
async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

/** Polls `status --json` of a run until `done(counts)` or the deadline. */
async function waitForCounts(args: string[], done: (byState: Record<string, number>) => boolean, ms = 15_000): Promise<Record<string, number>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await cli(['status', ...args, '--json']);
    const byState = res.code === 6 ? {} : (JSON.parse(res.stdout) as { byState: Record<string, number> }).byState;
    if (done(byState) || Date.now() > deadline) return byState;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  admin = testClient();
  // A little latency per request, so that a run of a few dozen items is still in progress when Redis dies.
  sim = await startSimulator({ seed: 3, keys: [{ name: 'one', secret: SECRET }], latency: { type: 'fixed', ms: 40 } });
});
afterAll(async () => {
  for (const child of servers) await kill9(child);
  await sim.close();
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('unknown and unfinished runs', () => {
  it('status and export refuse a run that was never enqueued on Redis (exit 6, clear message)', async () => {
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'never-enqueued'];
    const status = await cli(['status', ...common]);
    expect(status.code).toBe(6);
    expect(status.stderr).toContain(`no run ${prefix}:never-enqueued on Redis`);
    expect(status.stdout).not.toContain('items 0');
    const exported = await cli(['export', ...common, '--output', join(dir, 'never.jsonl')]);
    expect(exported.code).toBe(6);
    expect(exported.stderr).toContain(`no run ${prefix}:never-enqueued on Redis`);
    expect(exported.stdout).not.toContain('result(s) written');
  });

  it('status and export refuse an embedded run whose state file does not exist (exit 6)', async () => {
    const input = writeInput('no-state.jsonl', 2);
    const status = await cli(['status', input]);
    expect(status.code).toBe(6);
    expect(status.stderr).toMatch(/no-state\.jsonl\.sluice\.db.*does not exist/);
    const exported = await cli(['export', input]);
    expect(exported.code).toBe(6);
    expect(exported.stderr).toMatch(/does not exist/);
  });

  it('export of an unfinished Redis run writes what is final and warns', async () => {
    const input = writeInput('unfinished.jsonl', 5);
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix];
    expect((await cli(['run', input, ...common, '--enqueue-only', '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE'])).code).toBe(0);
    const out = join(dir, 'unfinished.export.jsonl');
    const exported = await cli(['export', input, ...common, '--output', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('0 result(s) written');
    expect(exported.stderr).toContain('warning: the run is unfinished (5 pending, 0 running)');
    // Once finished, no warning.
    expect((await cli(['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE'])).code).toBe(0);
    const again = await cli(['export', input, ...common, '--output', out]);
    expect(again.stdout).toContain('5 result(s) written');
    expect(again.stderr).not.toContain('warning');
  }, 30_000);

  it('export of an unfinished embedded run writes what is final and warns', async () => {
    const input = writeInput('embedded.jsonl', 3);
    const store = SqliteJobStore.open(`${input}.sluice.db`);
    await store.ingest(
      [1, 2, 3].map((line) => ({ id: `item-${line}`, line, priority: 0, payload: {} })),
      { throughLine: 3, rejectsOffset: 0, done: true },
    );
    await store.claimPending(1);
    await store.complete([{ id: 'item-1', state: 'succeeded', result: { ok: true } }]);
    await store.close();
    const exported = await cli(['export', input]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('1 result(s) written');
    expect(exported.stderr).toContain('warning: the run is unfinished (2 pending, 0 running)');
  });
});

describe('Redis that loses or keeps its data', () => {
  it('a worker whose run vanished (restart without persistence) exits non-zero with a clear message', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(dir, 'volatile-'));
    let server = await startRedisServer(port, ['--appendonly', 'no'], data);
    const url = `redis://127.0.0.1:${port}`;
    const input = writeInput('vanish.jsonl', 60);
    const common = ['--backend', url, '--redis-prefix', prefix];
    expect((await cli(['run', input, ...common, '--enqueue-only'])).code).toBe(0);
    const worker = cli(['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--concurrency', '2']);
    await waitForCounts([input, ...common], (s) => (s.succeeded ?? 0) >= 5);
    await kill9(server);
    server = await startRedisServer(port, ['--appendonly', 'no'], data);
    const res = await worker;
    expect(res.code, res.stderr).toBe(6);
    expect(res.stderr).toContain(`run ${prefix}:vanish.jsonl vanished from Redis while it was in progress`);
    expect(res.stderr).toContain('persistence');
    expect(res.stderr).not.toContain(SECRET);
    await kill9(server);
  }, 60_000);

  it('with AOF (appendfsync always) a kill -9 and restart of Redis loses nothing: the run resumes and finishes, every item once', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(dir, 'aof-'));
    const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
    let server = await startRedisServer(port, aof, data);
    const url = `redis://127.0.0.1:${port}`;
    const input = writeInput('durable.jsonl', 60);
    const common = ['--backend', url, '--redis-prefix', prefix];
    expect((await cli(['run', input, ...common, '--enqueue-only'])).code).toBe(0);
    const worker = cli(['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--concurrency', '2']);
    const before = await waitForCounts([input, ...common], (s) => (s.succeeded ?? 0) >= 5);
    expect(before.succeeded).toBeLessThan(60);
    await kill9(server);
    server = await startRedisServer(port, aof, data);
    const res = await worker;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('60 items: succeeded 60, failed 0');
    expect(res.stderr).toContain('Redis connection lost');
    const out = join(dir, 'durable.export.jsonl');
    expect((await cli(['export', input, ...common, '--output', out])).code).toBe(0);
    const ids = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(new Set(ids).size).toBe(60);
    expect(ids).toHaveLength(60);
    await kill9(server);
  }, 60_000);

  it('a Redis Cluster node is refused at connect, with the reason, and the worker exits with the configuration code', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(dir, 'cluster-'));
    const server = await startRedisServer(port, ['--cluster-enabled', 'yes', '--cluster-config-file', join(data, 'nodes.conf')], data);
    const url = `redis://127.0.0.1:${port}`;
    const error = await connectRedis(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisConnectError);
    expect((error as Error).message).toContain('this is a Redis Cluster node (cluster_enabled:1), which Sluice does not support');
    const res = await cli(['worker', '--run-name', 'x', '--backend', url, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('Redis Cluster');
    expect(res.stderr.split('\n').filter(Boolean).length).toBeLessThan(5);
    await kill9(server);
  }, 30_000);
});
