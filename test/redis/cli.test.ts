/**
 * The CLI on the Redis backend, in process: `run --enqueue-only`, `worker`, `status` and `export` on
 * the same run; `run` (enqueue + process) writes the results file; a wrong Redis URL fails at start
 * with a clear message and the configuration exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { runCli } from '../../src/cli/program.js';
import { openRunQueue } from '../../src/batch/redis/queue.js';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('cli');
const SECRET = 'sk-test-REDIS-cli-secret-123456';
const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-cli-'));
let sim: Simulator;
let admin: Redis;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runCli(['node', 'sluice', ...args], { stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)), env: { KEY_ONE: SECRET, ...env }, cwd: dir });
  return { code, stdout, stderr };
}

function writeInput(name: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `item-${i + 1}`, payload: { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: `hello ${i + 1}` }] } }));
  const path = join(dir, name);
  writeFileSync(path, [...lines, '{broken'].join('\n') + '\n');
  return path;
}

beforeAll(async () => {
  admin = testClient();
  sim = await startSimulator({ seed: 2, keys: [{ name: 'one', secret: SECRET }] });
});
afterAll(async () => {
  await sim.close();
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice on --backend redis://', () => {
  it('run --enqueue-only, then worker, status and export see the same run', async () => {
    const input = writeInput('jobs.jsonl', 12);
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix];
    const enq = await cli(['run', input, ...common, '--enqueue-only', '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE']);
    expect(enq.code, enq.stderr).toBe(0);
    expect(enq.stdout).toContain('12 items, 12 enqueued, 1 rejected lines');
    const before = await cli(['status', input, ...common, '--json']);
    expect(JSON.parse(before.stdout) as { byState: Record<string, number> }).toMatchObject({ byState: { pending: 12 } });
    const worker = await cli(['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE']);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout).toContain('succeeded 12');
    const status = await cli(['status', input, ...common]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('succeeded 12');
    const out = join(dir, 'export.jsonl');
    const exported = await cli(['export', input, ...common, '--output', out]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(12);
    for (const text of [enq.stdout, enq.stderr, worker.stdout, worker.stderr, status.stdout, readFileSync(out, 'utf8')]) expect(text).not.toContain(SECRET);
  }, 20_000);

  it('run enqueues and processes, then writes the results file', async () => {
    const input = writeInput('all.jsonl', 8);
    const res = await cli(['run', input, '--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'all-in-one', '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE']);
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n')).toHaveLength(8);
  }, 20_000);

  it('a CSV run on Redis: results lines carry the row (--id-column), its fields and the answer text', async () => {
    const input = join(dir, 'people.csv');
    writeFileSync(input, 'sku,name\nA-1,Ada\nB-2,"Grace, H."\nC-3,Linus\n');
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'csv-rows'];
    const res = await cli(['run', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--model', 'gpt-4o-mini', '--template', 'Bio of {{name}}', '--id-column', 'sku']);
    expect(res.code, res.stderr).toBe(0);
    const rows = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; input?: Record<string, string>; text?: string });
    expect(rows.map((r) => r.id).sort()).toEqual(['A-1', 'B-2', 'C-3']);
    for (const r of rows) {
      expect(r.input).toMatchObject({ sku: r.id });
      expect(typeof r.text).toBe('string');
      expect(r.text!.length).toBeGreaterThan(0);
    }
    expect(rows.find((r) => r.id === 'B-2')!.input).toEqual({ sku: 'B-2', name: 'Grace, H.' });
  }, 20_000);

  it("a worker's report lists the run's failed items (id, kind), read from the Redis store", async () => {
    const path = join(dir, 'some-fail.jsonl');
    const line = (id: string, content: string): string => JSON.stringify({ id, payload: { model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content }] } });
    writeFileSync(path, [line('fine-1', 'hello'), line('doomed-7', 'hello [[fault:400]]'), line('fine-2', 'hi')].join('\n') + '\n');
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'some-fail'];
    expect((await cli(['run', path, ...common, '--enqueue-only'])).code).toBe(0);
    const report = join(dir, 'some-fail.report.html');
    const worker = await cli(['worker', path, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--report', report]);
    expect(worker.code, worker.stderr).toBe(3); // some items failed
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('doomed-7');
    expect(html).toContain('invalid_request');
    expect(html).not.toContain('fine-1');
    expect(html).not.toContain(SECRET);
  }, 20_000);

  it('a Redis that does not answer fails at start with a clear message', async () => {
    const input = writeInput('bad.jsonl', 1);
    const res = await cli(['run', input, '--backend', 'redis://:pw-secret@127.0.0.1:1', '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/sluice: backend redis:\/\/:?\*\*\*@127\.0\.0\.1:1: cannot reach Redis/);
    expect(res.stderr).not.toContain('pw-secret');
    const noBackend = await cli(['worker', input]);
    expect(noBackend.code).toBe(2);
    expect(noBackend.stderr).toContain('needs --backend redis://');
  }, 20_000);

  it('worker honours --adaptive, --max-concurrency, --log-file, --metrics-port, --report, keyLimits and --selection', async () => {
    const input = writeInput('flags.jsonl', 10);
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix];
    const enq = await cli(['run', input, ...common, '--enqueue-only']);
    expect(enq.code, enq.stderr).toBe(0);
    const log = join(dir, 'worker.log');
    const report = join(dir, 'worker.report.html');
    const worker = await cli(
      ['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--adaptive', '--concurrency', '2', '--max-concurrency', '4', '--log-file', log, '--log-level', 'debug', '--metrics-port', '0', '--report', report, '--selection', 'fixed-order'],
      { SLUICE_KEY_LIMITS: JSON.stringify({ KEY_ONE: { requestsPerMinute: 6000 } }) },
    );
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout).toContain('succeeded 10');
    expect(worker.stderr).toMatch(/metrics: http:\/\/127\.0\.0\.1:\d+\/metrics/);
    // The log has the executor's and the batch's events, one JSON line each, never the secret.
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string });
    expect(lines.some((l) => l.event === 'run_start')).toBe(true);
    expect(lines.some((l) => l.event === 'run_end')).toBe(true);
    expect(lines.filter((l) => l.event === 'attempt_start')).toHaveLength(10);
    expect(lines.filter((l) => l.event === 'success')).toHaveLength(10);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<html');
    for (const text of [worker.stdout, worker.stderr, readFileSync(log, 'utf8'), html]) expect(text).not.toContain(SECRET);
    // A keyLimits entry for a key that is not configured is refused, naming it.
    const unknownKey = await cli(['worker', input, ...common, '--keys-env', 'KEY_ONE'], { SLUICE_KEY_LIMITS: JSON.stringify({ nope: { requestsPerMinute: 1 } }) });
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.stderr).toContain('key "nope"');
  }, 30_000);

  it('run --carry-max-chars <n> (config carryMaxChars) sets how large a payload a job carries: 0 none, unset the default; a bad value is refused naming the flag', async () => {
    const input = writeInput('carry.jsonl', 3);
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix, '--enqueue-only', '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE'];
    const carried = async (run: string): Promise<boolean[]> => {
      const queue = openRunQueue(admin, prefix, run);
      try {
        return (await queue.getJobs(['waiting', 'prioritized'])).map((j) => j.data.item !== undefined);
      } finally {
        await queue.close();
      }
    };
    const none = await cli(['run', input, ...common, '--run-name', 'carry-none', '--carry-max-chars', '0']);
    expect(none.code, none.stderr).toBe(0);
    expect(await carried('carry-none')).toEqual([false, false, false]);
    const byDefault = await cli(['run', input, ...common, '--run-name', 'carry-default']);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(await carried('carry-default')).toEqual([true, true, true]);
    // The same name in a config file; a payload longer than the limit is not carried.
    const config = join(dir, 'carry.config.json');
    writeFileSync(config, JSON.stringify({ carryMaxChars: 10 }));
    const small = await cli(['run', input, ...common, '--run-name', 'carry-small', '--config', config]);
    expect(small.code, small.stderr).toBe(0);
    expect(await carried('carry-small')).toEqual([false, false, false]);
    for (const bad of ['-1', '1.5', 'lots']) {
      const res = await cli(['run', input, ...common, '--run-name', 'carry-bad', `--carry-max-chars=${bad}`]);
      expect(res.code, bad).toBe(2);
      expect(res.stderr).toContain(`invalid option carryMaxChars from flag --carry-max-chars: must be integer >= 0 (0 = off), got "${bad}"`);
    }
    expect(await carried('carry-bad')).toEqual([]);
    const worker = await cli(['worker', input, '--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'carry-none', '--keys-env', 'KEY_ONE', '--carry-max-chars', '0']);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('sluice worker does not take "carryMaxChars"');
  }, 30_000);

  it('worker refuses the options of the enqueueing side, naming them', async () => {
    const res = await cli(['worker', 'x.jsonl', '--backend', REDIS_URL, '--redis-prefix', prefix, '--keys-env', 'KEY_ONE', '--template', 'Hi {{name}}', '--output', 'out.jsonl']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('sluice worker does not take "template", "output"');
  }, 20_000);
});
