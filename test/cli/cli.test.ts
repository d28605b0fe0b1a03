import { readFileSync, readdirSync, writeFileSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { runCli } from '../../src/cli/program.js';
import { spawnCli, type CliRun } from './helpers.js';
import { Writable } from 'node:stream';

/** Runs the CLI in process (fast) with captured streams; the spawned runs above cover the real process exit. */
async function inProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runCli(['node', 'sluice', ...args], {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    env,
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

const SECRET_1 = 'sk-test-SECRET-one-1234567890';
const SECRET_2 = 'sk-test-SECRET-two-0987654321';
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
let sim: Simulator;

function writeInput(name: string, n: number, extra: string[] = []): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `item-${i + 1}`, payload: { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: `hello ${i + 1}` }] } }),
  );
  const path = join(dir, name);
  writeFileSync(path, [...lines, ...extra].join('\n') + '\n');
  return path;
}

beforeAll(async () => {
  sim = await startSimulator({
    seed: 3,
    keys: [
      { name: 'k1', secret: SECRET_1, requestsPerMinute: 6000 },
      { name: 'k2', secret: SECRET_2, requestsPerMinute: 6000 },
    ],
    latency: { type: 'fixed', ms: 5 },
  });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice CLI (spawned)', () => {
  it('runs a batch: exit 0, JSON progress off a terminal, and no secret in any output, log, report or state', async () => {
    const input = writeInput('ok.jsonl', 40);
    const log = join(dir, 'ok.log');
    const run = await spawnCli(
      ['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE,KEY_TWO', '--log-file', log, '--log-level', 'debug', '--progress-interval', '100ms'],
      { env: { KEY_ONE: SECRET_1, KEY_TWO: SECRET_2 } },
    );
    expect(run.stderr).toContain('40 succeeded');
    expect(run.code).toBe(ExitCode.ok);
    const progress = run.stderr.split('\n').filter((l) => l.startsWith('{"type":"progress"'));
    expect(progress.length).toBeGreaterThan(0);
    const last = JSON.parse(progress[progress.length - 1]!) as { succeeded: number; total: number; keys: Record<string, string> };
    expect(last).toMatchObject({ succeeded: 40, total: 40 });
    expect(Object.keys(last.keys).sort()).toEqual(['KEY_ONE', 'KEY_TWO']);
    const results = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n');
    expect(results).toHaveLength(40);
    const report = readFileSync(`${input}.report.html`, 'utf8');
    expect(report).toContain('data-chart="throughput"');
    expect(report).toContain('KEY_ONE');
    const logText = readFileSync(log, 'utf8');
    expect(logText).toContain('"event":"run_start"');
    for (const file of readdirSync(dir).filter((f) => f.startsWith('ok.jsonl') || f === 'ok.log')) {
      const bytes = readFileSync(join(dir, file)).toString('latin1');
      expect(bytes, file).not.toContain(SECRET_1);
      expect(bytes, file).not.toContain(SECRET_2);
    }
    expect(run.stdout + run.stderr).not.toContain(SECRET_1);

    const status = await spawnCli(['status', input, '--json']);
    expect(status.code).toBe(ExitCode.ok);
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 40, byState: { succeeded: 40 } });
  });

  it('--no-report (or config "report": false) writes no report at the end; `sluice report` still draws one from the state', async () => {
    const input = writeInput('noreport.jsonl', 3);
    const args = ['--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE'];
    const run = await inProcess(['run', input, ...args, '--no-report'], { KEY_ONE: SECRET_1 });
    expect(run.code).toBe(ExitCode.ok);
    expect(run.stderr).toContain('report none (--no-report)');
    expect(existsSync(`${input}.report.html`)).toBe(false);
    const config = join(dir, 'noreport.config.json');
    writeFileSync(config, JSON.stringify({ report: false }));
    const again = await inProcess(['run', input, ...args, '--config', config], { KEY_ONE: SECRET_1 });
    expect(again.code).toBe(ExitCode.ok);
    expect(existsSync(`${input}.report.html`)).toBe(false);
    const drawn = await inProcess(['report', input]);
    expect(drawn.code).toBe(ExitCode.ok);
    expect(readFileSync(`${input}.report.html`, 'utf8')).toContain('data-chart="throughput"');
  });

  it('exit codes: bad option, missing key variable, missing input, bad state file, some failed', async () => {
    const input = writeInput('codes.jsonl', 3);
    const bad = await inProcess(['run', input, '--quota-threshold', '2']);
    expect(bad.code).toBe(ExitCode.badConfig);
    expect(bad.stderr).toContain('quotaThreshold from flag --quota-threshold: must be number in (0, 1], got "2"');

    const envBad = await inProcess(['run', input], { SLUICE_MAX_CONCURRENCY: '0' });
    expect(envBad.code).toBe(ExitCode.badConfig);
    expect(envBad.stderr).toContain('SLUICE_MAX_CONCURRENCY');

    const missingKey = await spawnCli(['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE,KEY_MISSING'], {
      env: { KEY_ONE: SECRET_1 },
    });
    expect(missingKey.code).toBe(ExitCode.missingKey);
    expect(missingKey.stderr).toContain('KEY_MISSING is not set');
    expect(missingKey.stderr).not.toContain(SECRET_1);
    expect(missingKey.stderr.trim().split('\n')).toHaveLength(1);

    const noInput = await inProcess(['run', join(dir, 'nope.jsonl'), '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE'], { KEY_ONE: SECRET_1 });
    expect(noInput.code).toBe(ExitCode.badInput);

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not sqlite at all'.repeat(100));
    const badState = await inProcess(['status', '--state', garbage]);
    expect(badState.code).toBe(ExitCode.badState);
    expect(badState.stderr).toContain('garbage.db');

    const failing = writeInput('failing.jsonl', 2, [
      JSON.stringify({ id: 'bad', payload: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x [[fault:400]]' }] } }),
    ]);
    const some = await spawnCli(['run', failing, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY_ONE', '--progress', 'off'], {
      env: { KEY_ONE: SECRET_1 },
    });
    expect(some.stderr).toContain('failed by kind: invalid_request 1');
    expect(some.code).toBe(ExitCode.someFailed);
    const retry = await inProcess(['retry-failed', failing, '--kind', 'invalid_request']);
    expect(retry.code).toBe(ExitCode.ok);
    expect(retry.stdout).toContain('1 failed item(s) returned to pending');
    const badKind = await inProcess(['retry-failed', failing, '--kind', 'sometimes']);
    expect(badKind.code).toBe(ExitCode.badConfig);
    const exported = await inProcess(['export', failing, '--output', join(dir, 'export.jsonl')]);
    expect(exported.code).toBe(ExitCode.ok);
    expect(existsSync(join(dir, 'export.jsonl'))).toBe(true);
  });

  it('SIGINT stops new starts, saves state and exits 130; the same command resumes to exactly one result per item', async () => {
    const slow = await startSimulator({ seed: 5, keys: [{ name: 's', secret: SECRET_1, requestsPerMinute: 1200 }], latency: { type: 'fixed', ms: 20 } });
    try {
      const input = writeInput('sigint.jsonl', 120);
      const args = ['run', input, '--base-url', `${slow.url}/v1`, '--keys-env', 'KEY_ONE', '--progress-interval', '200ms', '--grace-period', '5s'];
      let sent = false;
      let scrape: Promise<string> | undefined;
      const first = await spawnCli([...args, '--metrics-port', '0'], {
        env: { KEY_ONE: SECRET_1 },
        onStderr: (text, child) => {
          const m = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(text);
          if (m && !scrape && /"succeeded":[1-9]/.test(text)) scrape = fetch(m[1]!).then((r) => r.text());
          // Interrupt after some items are done, mid-run.
          if (!sent && /"succeeded":([1-9]\d)/.test(text)) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      });
      expect(sent).toBe(true);
      expect(first.code).toBe(ExitCode.interrupted);
      expect(first.stderr).toContain('SIGINT: no new requests');
      // The Prometheus endpoint answered over loopback during the run, with key names and no secret.
      const metrics = await scrape!;
      expect(metrics).toMatch(/sluice_attempts_total\{key="KEY_ONE",outcome="success"\} [1-9]/);
      expect(metrics).toContain('sluice_attempt_duration_seconds_bucket');
      expect(metrics).not.toContain(SECRET_1);
      const second = await spawnCli(args, { env: { KEY_ONE: SECRET_1 } });
      expect(second.code).toBe(ExitCode.ok);
      const ids = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
      expect(ids).toHaveLength(120);
      expect(new Set(ids).size).toBe(120);
    } finally {
      await slow.close();
    }
  });

  it('sluice simulate prints its URL and keys, answers requests, and stops on SIGINT', async () => {
    let url = '';
    let secret = '';
    let asked = false;
    const run = await spawnCli(['simulate', '--keys', '2', '--requests-per-minute', '100'], {
      onStdout: (text, child) => {
        const u = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        const k = /SIM_KEY_1=(\S+)/.exec(text);
        if (!asked && u && k && text.includes('Ctrl-C')) {
          asked = true;
          url = u[1]!;
          secret = k[1]!;
          void fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
          }).then(
            (res) => {
              expect(res.status).toBe(200);
              child.kill('SIGINT');
            },
            () => child.kill('SIGINT'),
          );
        }
      },
    });
    expect(asked).toBe(true);
    expect(run.code).toBe(ExitCode.ok);
    expect(run.stdout).toContain('SIM_KEY_2=');
    expect(run.stdout).toContain('simulator stopped after 1 requests');
  });

  it('sluice demo --items 200 completes end to end and prints the report path', async () => {
    const demoDir = join(dir, 'demo');
    const run = await spawnCli(['demo', '--items', '200', '--time-scale', '30', '--dir', demoDir, '--progress', 'json']);
    expect(run.code).toBe(ExitCode.ok);
    expect(run.stdout.trim()).toBe(join(demoDir, 'report.html'));
    const html = readFileSync(join(demoDir, 'report.html'), 'utf8');
    expect(html).toContain('Throughput (items per second)');
    expect(html).toContain('demo-key-3');
    const results = readFileSync(join(demoDir, 'prompts.jsonl.results.jsonl'), 'utf8').trim().split('\n');
    expect(results).toHaveLength(200);
    expect(readFileSync(join(demoDir, 'prompts.jsonl.rejects.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
