/**
 * `sluice report` and the report of `sluice run` end to end, against the simulator over loopback: the
 * report is drawn from the state file (also while the run goes on, from a second process), named after
 * the state or output so runs never overwrite each other's, with tokens and an estimated cost.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTimeline } from '../../src/batch/timeline-store.js';
import { reportPathFor } from '../../src/cli/commands/report.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { runInProcess, spawnCli } from '../cli/helpers.js';

const SECRET = 'sk-test-REPORT-secret-1234567890';
const dir = mkdtempSync(join(tmpdir(), 'sluice-report-e2e-'));
let sim: Simulator;

function writeInput(name: string, n: number, model = 'gpt-4o-mini'): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `item-${i + 1}`, payload: { model, max_tokens: 16, messages: [{ role: 'user', content: `hello ${i + 1}` }] } }),
  );
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const runArgs = (input: string, ...more: string[]): string[] => ['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--progress', 'off', ...more];

beforeAll(async () => {
  sim = await startSimulator({ seed: 11, keys: [{ name: 'k1', secret: SECRET, requestsPerMinute: 6000 }], latency: { type: 'fixed', ms: 5 } });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('report naming', () => {
  it('follows --report, else the state, else the output, else the input', () => {
    expect(reportPathFor('/w', 'in.jsonl', { report: 'r.html' })).toBe('/w/r.html');
    expect(reportPathFor('/w', 'in.jsonl', { state: 'runs/a.db' })).toBe('/w/runs/a.report.html');
    expect(reportPathFor('/w', 'in.jsonl', { state: 'runs/a.sluice.db', output: 'x.jsonl' })).toBe('/w/runs/a.report.html');
    expect(reportPathFor('/w', 'in.jsonl', { output: 'out/x.results.jsonl' })).toBe('/w/out/x.report.html');
    expect(reportPathFor('/w', 'in.jsonl', { output: 'out/y.jsonl' })).toBe('/w/out/y.report.html');
    expect(reportPathFor('/w', 'in.jsonl', {})).toBe('/w/in.jsonl.report.html');
  });
});

describe('sluice run / sluice report', () => {
  it('runs with different --state write different reports; `sluice report` redraws each from its state', async () => {
    const input = writeInput('two.jsonl', 12);
    const a = await runInProcess(runArgs(input, '--state', join(dir, 'a.db'), '--output', join(dir, 'a.jsonl')), { KEY_ONE: SECRET });
    expect(a.code, a.stderr).toBe(ExitCode.ok);
    const b = await runInProcess(runArgs(input, '--state', join(dir, 'b.db'), '--output', join(dir, 'b.jsonl')), { KEY_ONE: SECRET });
    expect(b.code, b.stderr).toBe(ExitCode.ok);
    const ra = join(dir, 'a.report.html');
    const rb = join(dir, 'b.report.html');
    expect(a.stderr).toContain(`report ${ra}`);
    expect(b.stderr).toContain(`report ${rb}`);
    expect(existsSync(`${input}.report.html`)).toBe(false);
    for (const r of [ra, rb]) {
      const html = readFileSync(r, 'utf8');
      expect(html).toContain('12: 12 succeeded');
      expect(html).toMatch(/\$0\.\d+ estimate/);
      expect(html).not.toContain(SECRET);
    }
    // Redrawn from the state alone (no run): the same counts, the tokens the run stored.
    rmSync(ra);
    const again = await runInProcess(['report', input, '--state', join(dir, 'a.db')]);
    expect(again.code, again.stderr).toBe(ExitCode.ok);
    expect(again.stdout.trim()).toBe(ra);
    const html = readFileSync(ra, 'utf8');
    expect(html).toContain('12: 12 succeeded');
    expect(html).toContain('gpt-4o-mini');
    expect(html).toContain('id="failed-items"');
  });

  it('draws a snapshot while the run goes on, from another process', async () => {
    const slow = await startSimulator({ seed: 12, keys: [{ name: 'k1', secret: SECRET, requestsPerMinute: 1200 }], latency: { type: 'fixed', ms: 20 } });
    try {
      const input = writeInput('live.jsonl', 100);
      const state = `${input}.sluice.db`;
      let snapshot: Promise<{ code: number | null; html: string }> | undefined;
      const run = await spawnCli(['run', input, '--base-url', `${slow.url}/v1`, '--keys-env', 'KEY_ONE', '--progress-interval', '200ms'], {
        env: { KEY_ONE: SECRET },
        onStderr: (text) => {
          // Once some results are in and the first seconds of the series are stored, draw the report.
          if (snapshot || !existsSync(state) || (text.match(/"type":"progress"/g) ?? []).length < 12) return;
          if (readTimeline(state).buckets.length === 0) return;
          snapshot = runInProcess(['report', input]).then((r) => ({ code: r.code, html: readFileSync(`${input}.report.html`, 'utf8') }));
        },
      });
      expect(run.code, run.stderr).toBe(ExitCode.ok);
      expect(snapshot, 'the report was drawn during the run').toBeDefined();
      const mid = await snapshot!;
      expect(mid.code).toBe(ExitCode.ok);
      expect(mid.html).toContain('running (snapshot)');
      expect(mid.html).toMatch(/100: \d+ succeeded/);
      expect(mid.html).not.toContain('100: 100 succeeded');
      // At its end the run drew the final report over the snapshot.
      const end = readFileSync(`${input}.report.html`, 'utf8');
      expect(end).toContain('100: 100 succeeded');
      expect(end).toContain('<td>finished</td>');
    } finally {
      await slow.close();
    }
  }, 60_000);

  it('--prices: a custom table prices a custom model; a bad file names the file and the field', async () => {
    const input = writeInput('custom.jsonl', 5, 'my-model');
    const state = join(dir, 'custom.db');
    const run = await runInProcess(runArgs(input, '--state', state), { KEY_ONE: SECRET });
    expect(run.code, run.stderr).toBe(ExitCode.ok);
    expect(readFileSync(join(dir, 'custom.report.html'), 'utf8')).toContain('unknown (no price)');
    const prices = join(dir, 'prices.json');
    writeFileSync(prices, JSON.stringify({ currency: 'EUR', models: { 'my-model': { inputPerMTok: 1000, outputPerMTok: 2000 } } }));
    const priced = await runInProcess(['report', '--state', state, '--prices', prices]);
    expect(priced.code, priced.stderr).toBe(ExitCode.ok);
    const html = readFileSync(join(dir, 'custom.report.html'), 'utf8');
    expect(html).toMatch(/EUR \d+\.\d+ estimate/);
    expect(html).not.toContain('unknown (no price)');
    writeFileSync(prices, JSON.stringify({ models: { 'my-model': { inputPerMTok: 'cheap', outputPerMTok: 2 } } }));
    const bad = await runInProcess(['report', '--state', state, '--prices', prices]);
    expect(bad.code).toBe(ExitCode.badConfig);
    expect(bad.stderr).toContain(`prices file ${prices}: field models.my-model.inputPerMTok`);
    const missing = await runInProcess(['report', '--state', state, '--prices', join(dir, 'nope.json')]);
    expect(missing.code).toBe(ExitCode.badConfig);
    expect(missing.stderr).toContain('nope.json: cannot read it (no such file)');
  });

  it('refuses a Redis run that does not exist (test/redis/report.test.ts draws one that does), and a state that does not exist', async () => {
    const prefix = `sluice-test-e2e-report-${process.pid}`;
    const redis = await runInProcess(['report', '--backend', process.env.SLUICE_TEST_REDIS ?? 'redis://127.0.0.1:6379', '--redis-prefix', prefix, '--run-name', 'r1']);
    expect(redis.code).toBe(ExitCode.badState);
    expect(redis.stderr).toContain(`no run ${prefix}:r1 on Redis`);
    const none = await runInProcess(['report', join(dir, 'never-ran.jsonl')]);
    expect(none.code).not.toBe(ExitCode.ok);
    expect(none.stderr).toMatch(/never-ran\.jsonl\.sluice\.db: does not exist/);
  });
});
