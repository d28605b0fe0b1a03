/**
 * Issue 13 through the real CLI (in process for speed, spawned where the process itself matters), on
 * real files and the simulator over loopback: preflight before the first request (and no state file
 * when it fails), exit codes and messages naming files and ports, the run's remembered settings, a
 * forced resume of a changed input, the run-level stop, and daily budgets that persist across runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTimeOf } from '../../src/batch/run-lock.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { CLI_MAIN, runInProcess, spawnCli } from './helpers.js';

const SECRET = 'sk-trust-SECRET-1234567890';
const env = { TRUST_KEY: SECRET };
const dir = mkdtempSync(join(tmpdir(), 'sluice-trust-'));
let sim: Simulator;
let n = 0;

/** A fresh sub-directory per test, so default file names never collide. */
function place(): string {
  const d = join(dir, `t${++n}`);
  spawnSync('mkdir', ['-p', d]);
  return d;
}

function chat(i: number, extra = ''): string {
  return JSON.stringify({ id: `r${i}`, messages: [{ role: 'user', content: `hello ${i}${extra}` }], max_tokens: 8 });
}

function jsonl(d: string, name: string, lines: string[]): string {
  const p = join(d, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

const requests = (): number => sim.stats({ log: false }).requests;
const base = (): string[] => ['--base-url', `${sim.url}/v1`, '--keys-env', 'TRUST_KEY', '--progress', 'off'];

beforeAll(async () => {
  sim = await startSimulator({ seed: 13, keys: [{ name: 'trust', secret: SECRET, requestsPerMinute: 60_000 }], latency: { type: 'fixed', ms: 1 } });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('preflight: checked before the first request, and no state file when it fails', () => {
  let d: string;
  beforeEach(() => {
    d = place();
  });
  const noState = (input: string): void => {
    expect(existsSync(`${input}.sluice.db`)).toBe(false);
    expect(readdirSync(d).filter((f) => f.endsWith('.lock'))).toEqual([]);
  };

  it('a template field that is not a CSV column names the template, the field and the columns', async () => {
    const csv = join(d, 'people.csv');
    writeFileSync(csv, 'id,name,city\n1,Ada,London\n2,Linus,Helsinki\n');
    const before = requests();
    const r = await runInProcess(['run', csv, ...base(), '--model', 'gpt-4o-mini', '--template', 'Write a bio of {{nmae}}'], env);
    expect(r.code).toBe(ExitCode.badConfig);
    expect(r.stderr).toContain('{{nmae}}');
    expect(r.stderr).toContain('Write a bio of {{nmae}}');
    expect(r.stderr).toContain('line 1 header: id, name, city');
    expect(requests()).toBe(before);
    noState(csv);
  });

  it('a JSONL template field found in none of the first records is refused; one missing on some lines only rejects those', async () => {
    const input = jsonl(d, 'vars.jsonl', [JSON.stringify({ name: 'Ada' }), JSON.stringify({ name: 'Linus' })]);
    const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--template', 'Hi {{nmae}}'], env);
    expect(r.code).toBe(ExitCode.badConfig);
    expect(r.stderr).toMatch(/no record of .*vars\.jsonl.*fields found: name/);
    noState(input);
  });

  it('no model anywhere: refused naming the line, before any request', async () => {
    const input = jsonl(d, 'nomodel.jsonl', [chat(1), chat(2)]);
    const before = requests();
    const r = await runInProcess(['run', input, ...base()], env);
    expect(r.code).toBe(ExitCode.badConfig);
    expect(r.stderr).toMatch(/line 1 of .*nomodel\.jsonl names no model, and no --model is given/);
    expect(requests()).toBe(before);
    noState(input);
  });

  it('a base URL without /v1, or with an endpoint, is called out', async () => {
    const input = jsonl(d, 'url.jsonl', [chat(1)]);
    const bare = await runInProcess(['run', input, '--base-url', sim.url, '--keys-env', 'TRUST_KEY', '--model', 'm'], env);
    expect(bare.code).toBe(ExitCode.badConfig);
    expect(bare.stderr).toContain(`has no /v1`);
    expect(bare.stderr).toContain(`${sim.url}/v1`);
    const endpoint = await runInProcess(['run', input, '--base-url', `${sim.url}/v1/chat/completions`, '--keys-env', 'TRUST_KEY', '--model', 'm'], env);
    expect(endpoint.code).toBe(ExitCode.badConfig);
    expect(endpoint.stderr).toContain('ends with the endpoint /chat/completions');
    const anthropic = await runInProcess(['run', input, '--provider', 'anthropic', '--base-url', `${sim.url}/v1`, '--keys-env', 'TRUST_KEY', '--model', 'm'], env);
    expect(anthropic.stderr).toContain('Sluice adds /v1/messages itself');
    noState(input);
  });

  it('the probe stops on a refused connection, a 404 or a refused key, naming the URL and never the secret', async () => {
    const input = jsonl(d, 'probe.jsonl', [chat(1), chat(2), chat(3)]);
    // A port nobody listens on: take a free one and close it.
    const port = await freePort();
    const refused = await runInProcess(['run', input, '--base-url', `http://127.0.0.1:${port}/v1`, '--keys-env', 'TRUST_KEY', '--model', 'm', '--progress', 'off'], env);
    expect(refused.code).toBe(ExitCode.badConfig);
    expect(refused.stderr).toContain(`probe request to http://127.0.0.1:${port}/v1 failed: ECONNREFUSED`);
    const before = requests();
    const notFound = await runInProcess(['run', input, '--base-url', `${sim.url}/api/v9`, '--keys-env', 'TRUST_KEY', '--model', 'm', '--progress', 'off'], env);
    expect(notFound.code).toBe(ExitCode.badConfig);
    expect(notFound.stderr).toContain(`probe request to ${sim.url}/api/v9 returned 404`);
    expect(notFound.stderr).toContain('/v1 root');
    expect(requests()).toBe(before + 1);
    const badKey = await runInProcess(['run', input, ...base(), '--model', 'm'], { TRUST_KEY: 'sk-revoked-0000-SECRET' });
    expect(badKey.code).toBe(ExitCode.missingKey);
    expect(badKey.stderr).toMatch(/refused with 401 for key TRUST_KEY/);
    for (const r of [refused, notFound, badKey]) {
      expect(r.stderr).not.toContain(SECRET);
      expect(r.stderr).not.toContain('sk-revoked-0000-SECRET');
    }
    noState(input);
  });

  it('--no-probe skips the probe: the run sends exactly one request per item', async () => {
    const input = jsonl(d, 'noprobe.jsonl', [chat(1), chat(2), chat(3)]);
    const before = requests();
    const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--no-probe'], env);
    expect(r.code).toBe(ExitCode.ok);
    expect(requests()).toBe(before + 3);
  });

  it('an input whose every line is rejected exits 5', async () => {
    const input = jsonl(d, 'garbage.jsonl', ['{not json', '[1,2]', '"x"']);
    const r = await runInProcess(['run', input, ...base(), '--model', 'm'], env);
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.stderr).toMatch(/every line of .*garbage\.jsonl is rejected \(3 line\(s\); first: line 1: malformed JSON/);
    noState(input);
  });
});

describe('exit codes and messages that name the file or port', () => {
  it('a busy state file exits 6 naming its lock; a lock of a reused pid is taken over', async () => {
    const d = place();
    const input = jsonl(d, 'busy.jsonl', [chat(1)]);
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const lock = `${input}.sluice.db.lock`;
      writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, start: startTimeOf(sleeper.pid!), host: hostname() }));
      const busy = await runInProcess(['run', input, ...base(), '--model', 'm'], env);
      expect(busy.code).toBe(ExitCode.badState);
      expect(busy.stderr).toContain(`lock ${lock}`);
      // The same pid with another start time: the process that took the lock is gone, its pid reused.
      writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, start: '12345', host: hostname() }));
      const ok = await runInProcess(['run', input, ...base(), '--model', 'm'], env);
      expect(ok.code).toBe(ExitCode.ok);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a second writer of the same results file is refused (exit 6), naming the file', async () => {
    const d = place();
    const input = jsonl(d, 'shared.jsonl', [chat(1)]);
    writeFileSync(`${input}.results.jsonl.lock`, JSON.stringify({ pid: process.pid, host: hostname(), start: startTimeOf(process.pid) }));
    const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--state', join(d, 'other.db')], env);
    expect(r.code).toBe(ExitCode.badState);
    expect(r.stderr).toContain(`results file ${input}.results.jsonl is being written by process ${process.pid}`);
    expect(existsSync(join(d, 'other.db'))).toBe(false);
  });

  it('a corrupt state file exits 6 naming it', async () => {
    const d = place();
    const input = jsonl(d, 'corrupt.jsonl', Array.from({ length: 300 }, (_, i) => chat(i, ' padding '.repeat(20))));
    expect((await runInProcess(['run', input, ...base(), '--model', 'm'], env)).code).toBe(ExitCode.ok);
    const state = `${input}.sluice.db`;
    const size = statSync(state).size;
    expect(size).toBeGreaterThan(16_384);
    // Garbage over every page after the first two (the schema stays readable, the data does not).
    const fd = openSync(state, 'r+');
    writeSync(fd, Buffer.alloc(size - 8192, 0x5a), 0, size - 8192, 8192);
    closeSync(fd);
    const r = await runInProcess(['status', input], env);
    expect(r.code).toBe(ExitCode.badState);
    expect(r.stderr).toContain(`state file ${state}`);
    expect(r.stderr).not.toContain('internal error');
  });

  it('a full disk names the results file (exit 1), and the run resumes once there is space', async () => {
    const d = place();
    const input = jsonl(d, 'full.jsonl', [chat(1), chat(2)]);
    const out = join(d, 'out.jsonl');
    symlinkSync('/dev/full', out);
    const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--output', out], env);
    expect(r.code).toBe(ExitCode.internal);
    expect(r.stderr).toContain(`results file ${out}: disk full (ENOSPC)`);
    const again = await runInProcess(['run', input, ...base(), '--model', 'm', '--output', join(d, 'real.jsonl')], env);
    expect(again.code).toBe(ExitCode.ok);
    expect(readFileSync(join(d, 'real.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('a metrics port in use exits 2 naming the port, before any state exists', async () => {
    const d = place();
    const input = jsonl(d, 'metrics.jsonl', [chat(1)]);
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--metrics-port', String(port)], env);
      expect(r.code).toBe(ExitCode.badConfig);
      expect(r.stderr).toContain(`metrics port ${port} on 127.0.0.1 is in use (EADDRINUSE)`);
      expect(existsSync(`${input}.sluice.db`)).toBe(false);
    } finally {
      server.close();
    }
  });

  it('`status … | true` (the reader gone before the output) does not crash on EPIPE', async () => {
    const d = place();
    const input = jsonl(d, 'pipe.jsonl', [chat(1)]);
    expect((await runInProcess(['run', input, ...base(), '--model', 'm'], env)).code).toBe(ExitCode.ok);
    const r = spawnSync('bash', ['-c', `"${process.execPath}" --import tsx "${CLI_MAIN}" status "${input}" | true; echo "status=\${PIPESTATUS[0]}"`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.stdout.trim()).toBe('status=0');
  });
});

describe('the run remembers itself', () => {
  it('a resume with only the keys uses the stored URL and model; a changed model is refused unless --force, naming both values', async () => {
    const d = place();
    const input = jsonl(d, 'remember.jsonl', [chat(1), chat(2)]);
    expect((await runInProcess(['run', input, ...base(), '--model', 'model-one'], env)).code).toBe(ExitCode.ok);
    appendFileSync(input, chat(3) + '\n');
    const before = requests();
    // No --base-url, no --model: without stored settings this would go to api.openai.com with no model.
    const resumed = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--force', '--progress', 'off'], env);
    expect(resumed.code).toBe(ExitCode.ok);
    expect(resumed.stderr).toContain('the appended lines are ingested and run');
    expect(requests()).toBe(before + 2); // the probe and the appended line
    const changed = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--model', 'model-two'], env);
    expect(changed.code).toBe(ExitCode.badConfig);
    expect(changed.stderr).toContain('model was "model-one", now "model-two" (flag)');
    const url = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--base-url', 'http://127.0.0.1:9/v1'], env);
    expect(url.code).toBe(ExitCode.badConfig);
    expect(url.stderr).toContain(`baseUrl was "${sim.url}/v1", now "http://127.0.0.1:9/v1"`);
    const forced = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--model', 'model-two', '--force', '--progress', 'off'], env);
    expect(forced.code).toBe(ExitCode.ok);
    expect(forced.stderr).toContain('--force: model was "model-one", now "model-two"');
  });

  it('--force with edited lines lists them; --changed-lines rerun runs them again', async () => {
    const d = place();
    const input = jsonl(d, 'edit.jsonl', [chat(1), chat(2), chat(3)]);
    expect((await runInProcess(['run', input, ...base(), '--model', 'm'], env)).code).toBe(ExitCode.ok);
    writeFileSync(input, [chat(1), chat(2, ' edited'), chat(3)].join('\n') + '\n');
    const listed = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--force'], env);
    expect(listed.code).toBe(ExitCode.badInput);
    expect(listed.stderr).toContain('line 2 changed (id r2)');
    const rerun = await runInProcess(['run', input, '--keys-env', 'TRUST_KEY', '--force', '--changed-lines', 'rerun', '--progress', 'off'], env);
    expect(rerun.code).toBe(ExitCode.ok);
    const lines = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((l) => l.id).sort()).toEqual(['r1', 'r2', 'r3']);
  });
});

describe('run-level stop', () => {
  it('after N identical non-retryable failures in a row the run pauses with one message saying how to resume', async () => {
    const d = place();
    const input = jsonl(d, 'bad.jsonl', Array.from({ length: 60 }, (_, i) => chat(i, ' [[fault:400]]')));
    const before = requests();
    const r = await runInProcess(['run', input, ...base(), '--model', 'm', '--max-consecutive-failures', '5', '--concurrency', '1', '--no-adaptive', '--no-probe'], env);
    expect(r.code).toBe(ExitCode.someFailed);
    expect(r.stderr).toMatch(/run paused after 5 identical failures in a row \(invalid_request 400/);
    expect(r.stderr).toContain(`sluice retry-failed ${input} --kind invalid_request`);
    expect(requests() - before).toBeLessThan(10);
    const status = await runInProcess(['status', input, '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ byState: { failed: 5 } });
  });
});

describe('daily budgets', () => {
  it('--help explains what --requests-per-day and --quota-threshold do together', async () => {
    const r = await runInProcess(['run', '--help'], env);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('--requests-per-day 10 pauses each key after 8 requests (at 0.8) until the quota day ends (00:00 UTC)');
  });

  it('persist per key and day in the state: a second run the same day sends nothing once the budget is spent', async () => {
    const d = place();
    const input = jsonl(d, 'daily.jsonl', Array.from({ length: 30 }, (_, i) => chat(i)));
    const args = ['run', input, ...base(), '--model', 'm', '--requests-per-day', '10', '--no-probe', '--progress', 'json', '--progress-interval', '100ms'];
    const start = requests();
    // Interrupted once the key has paused at 8 (80 % of 10), then run again the same day.
    for (let round = 0; round < 2; round++) {
      let stopping = false;
      const run = await spawnCli(args, {
        env,
        onStderr: (_text, child) => {
          if (stopping || requests() - start < 8) return;
          stopping = true;
          // Long enough for a run that forgot the day's count to send its next 8.
          setTimeout(() => child.kill('SIGINT'), 1500);
        },
      });
      expect(run.code).toBe(ExitCode.interrupted);
    }
    expect(requests() - start).toBe(8);
  }, 120_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
