/** Names the docs promise: error names, log field names, the export command's default file. */
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/batch/runner.js';
import { classify } from '../../src/classify/classify.js';
import { createContext } from '../../src/cli/context.js';
import { buildProgram, runCli } from '../../src/cli/program.js';
import { RunLog } from '../../src/cli/run-log.js';
import { RUN_LOG_EVENTS } from '../../src/observe/log-events.js';
import { RetryError } from '../../src/attempt/retry-error.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { jobGiveUpError } from '../../src/scheduler/job.js';
import { fakeExecutor, tempDir, writeJsonl } from '../batch/helpers.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

describe('error names', () => {
  it('a given-up job rejects with the one give-up error, RetryError, named RetryError, classifying as its kind', () => {
    const err = jobGiveUpError({ kind: 'rate_limited', retryable: true, message: 'slow down' }, { jobId: 'j1', attempts: 3, reason: 'exhausted', key: 'k1' });
    expect(err).toBeInstanceOf(RetryError);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.name).toBe('RetryError');
    expect(String(err)).toMatch(/^RetryError: slow down \(job j1, 3 attempts\)/);
    expect(err).toMatchObject({ kind: 'rate_limited', attempts: 3, reason: 'exhausted', jobId: 'j1', key: 'k1' });
    expect(classify(err).kind).toBe('rate_limited');
  });
});

describe('quota_alert log line', () => {
  it('carries alertLevel beside pino level, which stays the log level', () => {
    const out = sink();
    const log = new RunLog(pino({ level: 'debug' }, out.stream), { alertLevels: [0.6, 0.8, 0.95], quotaLogInterval: 0 });
    log.observe({ type: 'quota_alert', at: 0, key: 'k1', alertLevel: 0.8, usage: 0.81 });
    const line = JSON.parse(out.text()) as Record<string, unknown>;
    expect(line).toMatchObject({ event: 'quota_alert', level: 40, alertLevel: 0.8, usage: 0.81, keyName: 'k1' });
    expect(RUN_LOG_EVENTS.quota_alert).toContain('alertLevel');
  });
});

describe('sluice export', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it('writes the default file its help names', async () => {
    const input = t.file('in.jsonl');
    writeJsonl(input, 3);
    await runBatch({ input, executor: fakeExecutor(() => 'ok') });
    const io = { stdout: sink().stream, stderr: sink().stream, env: {}, cwd: t.dir };
    const help = buildProgram(createContext(io)).commands.find((c) => c.name() === 'export')!.helpInformation();
    expect(help.replace(/\s+/g, ' ')).toContain('default `<input>.export.jsonl`');
    const out = sink();
    const code = await runCli(['node', 'sluice', 'export', input], { stdout: out.stream, stderr: out.stream, env: {}, cwd: t.dir });
    expect(code).toBe(0);
    expect(existsSync(`${input}.export.jsonl`)).toBe(true);
    expect(out.text()).toContain(`${input}.export.jsonl`);
  });
});
