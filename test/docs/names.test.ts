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
import { bridgeRunEvents } from '../../src/cli/observe-run.js';
import { TypedEmitter } from '../../src/observe/typed-emitter.js';
import type { ExecutorEvents } from '../../src/scheduler/events.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
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

describe('a key\'s limits in the run log', () => {
  it('a learned rate and a learned cap on calls in flight are logged with their reason, the rate per second whatever the key\'s window', () => {
    const out = sink();
    const log = new RunLog(pino({ level: 'debug' }, out.stream), { alertLevels: [0.6], quotaLogInterval: 0 });
    const executor = new TypedEmitter<ExecutorEvents>();
    const off = bridgeRunEvents({ clock: new VirtualClock(), executor }, [log]);
    executor.emit('rateChange', { key: 'k1', from: undefined, to: 1140, windowMs: 60_000, reason: 'rate limited (429): cut to 0.95 of what got through' });
    executor.emit('rateChange', { key: 'k1', from: 1140, to: undefined, windowMs: 60_000, reason: 'recovered' });
    executor.emit('inFlightCapChange', { key: 'k1', from: undefined, to: 2, reason: '429s come when more than 2 calls are in flight' });
    off();
    const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ event: 'rate_change', keyName: 'k1', perSecond: 19, reason: 'rate limited (429): cut to 0.95 of what got through', msg: 'key k1 rate 19.00/s (rate limited (429): cut to 0.95 of what got through)' });
    expect(lines[1]).toMatchObject({ event: 'rate_change', keyName: 'k1', msg: 'key k1 rate unlimited (recovered)' });
    expect(lines[1]).not.toHaveProperty('perSecond');
    expect(lines[2]).toMatchObject({ event: 'in_flight_cap_change', keyName: 'k1', cap: 2 });
    for (const l of lines) for (const field of Object.keys(l)) if (!['level', 'time', 'pid', 'hostname', 'msg', 'event'].includes(field)) expect(RUN_LOG_EVENTS[l.event as 'rate_change']).toContain(field);
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
