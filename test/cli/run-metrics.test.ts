/**
 * The Prometheus endpoint of a real `sluice run`, scraped over loopback HTTP during the run: attempts apart
 * from items, pending/queued/in-flight gauges, tokens in and out, per-key latency, quota use filled, and
 * every key's series present from the start.
 */
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunMetrics } from '../../src/cli/run-metrics.js';
import { CliError, ExitCode } from '../../src/cli/exit-codes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { spawnCli } from './helpers.js';

const SECRET_1 = 'sk-metrics-secret-one-0123456789';
const SECRET_2 = 'sk-metrics-secret-two-0123456789';
let sim: Simulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
  sim = await startSimulator({
    seed: 11,
    keys: [
      { name: 'a', secret: SECRET_1, requestsPerMinute: 3000 },
      { name: 'b', secret: SECRET_2, requestsPerMinute: 3000 },
    ],
    latency: { type: 'fixed', ms: 40 },
  });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The value of one series of an exposition text, or undefined when the series is absent. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).filter((k) => k !== 'le').length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

describe('sluice run --metrics-port', () => {
  it('serves attempts, items, pending/queued/in-flight, tokens, per-key latency and quota use, every key from the start', async () => {
    const input = join(dir, 'm.jsonl');
    const lines = Array.from({ length: 330 }, (_, i) => JSON.stringify({ id: `m${i}`, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `metrics item ${i}` }] }));
    writeFileSync(input, lines.join('\n') + '\n');
    let scrape: Promise<string> | undefined;
    const run = await spawnCli(
      ['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE,KEY_TWO', '--metrics-port', '0', '--progress-interval', '200ms', '--concurrency', '4', '--no-adaptive', '--requests-per-day', '5000'],
      {
        env: { KEY_ONE: SECRET_1, KEY_TWO: SECRET_2 },
        onStderr: (text) => {
          const url = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(text)?.[1];
          // Mid-run: some items done, most still to do.
          if (url && !scrape && /"succeeded":([2-9]\d|1\d\d)\b/.test(text)) scrape = fetch(url).then((r) => r.text());
        },
      },
    );
    expect(run.code, run.stderr).toBe(ExitCode.ok);
    const text = await scrape!;
    expect(text).not.toContain(SECRET_1);
    expect(text).not.toContain(SECRET_2);
    expect(text).not.toContain('sluice_requests_total');
    for (const key of ['KEY_ONE', 'KEY_TWO']) {
      expect(series(text, 'sluice_attempts_total', { key, outcome: 'success' })).toBeGreaterThan(0);
      // Present from the start, at 0.
      expect(series(text, 'sluice_attempts_total', { key, outcome: 'auth' })).toBe(0);
      expect(series(text, 'sluice_rate_limited_total', { key })).toBeDefined();
      expect(series(text, 'sluice_key_state', { key, state: 'active' })).toBe(1);
      expect(series(text, 'sluice_key_state', { key, state: 'disabled' })).toBe(0);
      expect(series(text, 'sluice_tokens_total', { key, type: 'input' })).toBeGreaterThan(0);
      expect(series(text, 'sluice_tokens_total', { key, type: 'output' })).toBeGreaterThan(0);
      expect(series(text, 'sluice_attempt_duration_seconds_count', { key, outcome: 'success' })).toBeGreaterThan(0);
      // Daily budget and the simulator's rate-limit headers: in use, below 1.
      const usage = series(text, 'sluice_quota_usage_ratio', { key })!;
      expect(usage).toBeGreaterThan(0);
      expect(usage).toBeLessThan(1);
    }
    const succeeded = series(text, 'sluice_items_total', { outcome: 'succeeded' })!;
    const attempts = series(text, 'sluice_attempts_total', { key: 'KEY_ONE', outcome: 'success' })! + series(text, 'sluice_attempts_total', { key: 'KEY_TWO', outcome: 'success' })!;
    expect(succeeded).toBeGreaterThan(0);
    expect(attempts).toBeGreaterThanOrEqual(succeeded);
    expect(series(text, 'sluice_items_total', { outcome: 'failed' })).toBe(0);
    // 330 items, a window of 256 claimed at once: some wait in the state, some in the executor.
    expect(series(text, 'sluice_items_pending')).toBeGreaterThan(0);
    expect(series(text, 'sluice_items_queued')).toBeGreaterThan(0);
    expect(series(text, 'sluice_attempts_in_flight')).toBeLessThanOrEqual(4);
    expect(series(text, 'sluice_concurrency_limit')).toBe(4);
    expect(series(text, 'sluice_paused')).toBe(0);
  });

  it('a port in use is one message naming it (exit 2)', async () => {
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', () => done()));
    const port = (busy.address() as { port: number }).port;
    try {
      const err = await startRunMetrics(port, ['k'], new PassThrough()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(ExitCode.badConfig);
      expect((err as CliError).message).toBe(`metrics port ${port} on 127.0.0.1 is in use (EADDRINUSE): give another --metrics-port, or 0 for any free port`);
    } finally {
      busy.close();
    }
  });
});
