/**
 * The report and the metrics of a Redis run, through the CLI in process: two `sluice worker`s share a run
 * and `sluice report --backend redis://` draws one HTML report of the fleet whose timeline counts are the
 * run's (the store's attempts per key, items succeeded, 429s); an unknown run is refused (exit 6); a
 * worker's `sluice_items_pending` is the fleet's pending count read from Redis at the scrape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { readRedisTimeline } from '../../src/batch/redis/timeline.js';
import { runCli } from '../../src/cli/program.js';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('report');
const SECRET = 'sk-test-REDIS-report-secret-98765';
const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-report-'));
let sim: Simulator;
let admin: Redis;

/** Runs the CLI in process; `onStderr` sees the error stream as it is written. */
async function cli(args: string[], onStderr?: (text: string) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const io = {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => {
      stderr += t;
      onStderr?.(stderr);
    }),
    env: { KEY_ONE: SECRET },
    cwd: dir,
  };
  const code = await runCli(['node', 'sluice', ...args], io);
  return { code, stdout, stderr };
}

/** `n` chat lines; every 7th asks the simulator for a 400 (the item fails, not retried). */
function writeInput(name: string, n: number, text = 'hello'): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `item-${i + 1}`, payload: { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: `${text} ${i + 1}${i % 7 === 3 ? ' [[fault:400]]' : ''}` }] } }),
  );
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** A row of the page's summary table (`<tr><th>name</th><td>value</td></tr>`). */
function summaryRow(html: string, name: string): string {
  const m = new RegExp(`<tr><th>${name}</th><td>([^<]*)</td></tr>`).exec(html);
  if (!m) throw new Error(`report: no "${name}" row`);
  return m[1]!;
}

/** The per-key table's rows: key, attempts, succeeded, 429s. */
function keyRows(html: string): { key: string; attempts: number; succeeded: number; rateLimited: number }[] {
  const re = /<tr><td>([^<]+)<\/td><td class="num">(\d+)<\/td><td class="num">(\d+)<\/td><td class="num">(\d+)<\/td>/g;
  return [...html.matchAll(re)].map((m) => ({ key: m[1]!, attempts: Number(m[2]), succeeded: Number(m[3]), rateLimited: Number(m[4]) }));
}

beforeAll(async () => {
  admin = testClient();
  // The 3rd to 5th requests answer 500: retried, so the first run has more attempts than items.
  sim = await startSimulator({ seed: 5, keys: [{ name: 'one', secret: SECRET }], latency: { type: 'fixed', ms: 30 }, faults: { schedule: [{ from: 3, to: 5, fault: '500' }] } });
});
afterAll(async () => {
  await sim.close();
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice report on --backend redis://', () => {
  it("draws one report of a two-worker run whose timeline counts are the run's", async () => {
    const input = writeInput('fleet.jsonl', 40);
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix];
    expect((await cli(['run', input, ...common, '--enqueue-only'])).code).toBe(0);
    const worker = ['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--concurrency', '2', '--no-adaptive'];
    const workers = await Promise.all([cli(worker), cli(worker)]);
    for (const w of workers) expect(w.code, w.stderr).toBe(3); // some items failed (the 400s)
    const status = JSON.parse((await cli(['status', input, ...common, '--json'])).stdout) as {
      total: number;
      byState: Record<string, number>;
      perKey: Record<string, { attempts: number; succeeded: number; failedByKind: Record<string, number> }>;
    };
    expect(status.byState).toMatchObject({ succeeded: 34, failed: 6, pending: 0, running: 0 });
    const [keyName, perKey] = Object.entries(status.perKey)[0]!;
    expect(Object.keys(status.perKey)).toEqual([keyName]);
    const storeAttempts = perKey.attempts;
    expect(storeAttempts).toBeGreaterThan(40); // retried 500s
    // Both workers took part (each stored a session), as one session of the fleet.
    const timeline = await readRedisTimeline(admin, `${prefix}:run:fleet.jsonl`);
    expect(timeline.sessions).toHaveLength(1);
    expect(timeline.sessions[0]).toMatchObject({ finished: true, info: { workers: 2 } });

    const res = await cli(['report', input, ...common]);
    expect(res.code, res.stderr).toBe(0);
    const path = res.stdout.trim();
    expect(path).toBe(`${input}.report.html`);
    const html = readFileSync(path, 'utf8');
    expect(summaryRow(html, 'Status')).toBe('finished');
    expect(summaryRow(html, 'Items')).toBe('40: 34 succeeded, 6 failed, 0 cancelled, 0 pending');
    expect(summaryRow(html, 'Time')).not.toContain('sessions');
    // The timeline's counts are the run's: attempts and successes per key as the store counted them.
    const attempts = Number(/^(\d+) \((\d+) retries scheduled\)$/.exec(summaryRow(html, 'Attempts'))![1]);
    expect(attempts).toBe(storeAttempts);
    expect(keyRows(html)).toEqual([{ key: keyName, attempts: storeAttempts, succeeded: perKey.succeeded, rateLimited: perKey.failedByKind.rate_limited ?? 0 }]);
    expect(perKey.succeeded).toBe(34);
    const data = JSON.parse(/<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as { s: { inFlight: (number | null)[]; limit: (number | null)[] } };
    // The fleet's concurrency: two workers of 2.
    expect(Math.max(...data.s.limit.filter((v): v is number => v !== null))).toBe(4);
    expect(html).toContain('item-4'); // a failed item, from the store
    expect(html).not.toContain(SECRET);

    // --run-name alone names the run; the report is named after it.
    const named = await cli(['report', ...common, '--run-name', 'fleet.jsonl']);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout.trim()).toBe(join(dir, 'fleet.jsonl.report.html'));
  }, 60_000);

  it('refuses a run that is not on Redis, naming it', async () => {
    const res = await cli(['report', '--backend', REDIS_URL, '--redis-prefix', prefix, '--run-name', 'never-enqueued']);
    expect(res.code).toBe(6);
    expect(res.stderr).toContain(`no run ${prefix}:never-enqueued on Redis`);
    expect(res.stdout).toBe('');
  }, 20_000);

  it("a worker's sluice_items_pending is the fleet's pending count, read from Redis at the scrape", async () => {
    const input = writeInput('pending.jsonl', 30, 'hi');
    const common = ['--backend', REDIS_URL, '--redis-prefix', prefix];
    expect((await cli(['run', input, ...common, '--enqueue-only'])).code).toBe(0);
    const scrapes: number[] = [];
    let url: string | undefined;
    const worker = cli(['worker', input, ...common, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--concurrency', '1', '--metrics-port', '0'], (text) => {
      url ??= /metrics: (http:\/\/\S+)/.exec(text)?.[1];
    });
    let done = false;
    void worker.finally(() => (done = true));
    // Scrape while the worker runs (30 items one at a time, at least 30 x 30 ms): the count falls from 30.
    for (let i = 0; i < 200 && !done; i++) {
      if (url) {
        // The worker closes its endpoint as it ends: a scrape caught in that moment is reset, not a value.
        const text = await fetch(url).then((r) => r.text(), () => '');
        const m = /^sluice_items_pending (\d+)$/m.exec(text);
        if (m) scrapes.push(Number(m[1]));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await worker;
    expect(res.code, res.stderr).toBe(3);
    const seen = scrapes.filter((n) => n > 0);
    expect(seen.length, `scrapes ${scrapes.join(',')}`).toBeGreaterThan(1);
    for (const n of seen) expect(n).toBeLessThanOrEqual(30);
    // Read afresh at each scrape: it falls as the fleet takes items.
    expect(Math.min(...seen)).toBeLessThan(Math.max(...seen));
  }, 60_000);
});
