import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadConfig, parseDurationText } from '../../src/cli/config.js';
import { CliError, ExitCode } from '../../src/cli/exit-codes.js';
import { loadKeys, readKeyFile } from '../../src/cli/keys.js';
import { RENAMED_OPTIONS } from '../../src/cli/library-options.js';
import { OPTIONS, envOf, flagOf } from '../../src/cli/options.js';
import { retryFor } from '../../src/cli/retry-presets.js';
import { retryPolicy } from '../../src/attempt/policy.js';
import { ERROR_KINDS } from '../../src/classify/kinds.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
function fail(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
}

describe('loadConfig precedence', () => {
  const cfg = file('a.json', JSON.stringify({ requestsPerMinute: 100, tokensPerMinute: 5000, concurrency: 6, gracePeriod: '45s', alertLevels: [0.5, 0.9] }));

  it('uses defaults when nothing is given', () => {
    const { config, sources } = loadConfig({ env: {} });
    expect(config.quotaThreshold).toBe(0.8);
    expect(config.alertLevels).toEqual([0.6, 0.8, 0.95]);
    expect(config.concurrency).toBe(4);
    expect(config.maxConcurrency).toBe(16);
    expect(config.pauseDuration).toBeUndefined(); // until the quota day ends
    expect(config.quotaMonitoring).toBe(true);
    expect(sources.requestsPerMinute).toBe('default');
  });

  it('flags > env > file > defaults', () => {
    const { config, sources } = loadConfig({
      flags: { requestsPerMinute: '300' },
      env: { SLUICE_REQUESTS_PER_MINUTE: '200', SLUICE_TOKENS_PER_MINUTE: '9000' },
      configPath: cfg,
    });
    expect(config.requestsPerMinute).toBe(300);
    expect(sources.requestsPerMinute).toBe('flag');
    expect(config.tokensPerMinute).toBe(9000);
    expect(sources.tokensPerMinute).toBe('env');
    expect(config.concurrency).toBe(6);
    expect(sources.concurrency).toBe('file');
    expect(config.gracePeriod).toBe(45_000);
    expect(config.alertLevels).toEqual([0.5, 0.9]);
    expect(config.minSpacing).toBe(0);
  });

  it('takes the per-profile story settings: no rate learning, a 30 s cooldown, a key selection', () => {
    const { config } = loadConfig({ env: { SLUICE_LEARN_RATE: 'off', SLUICE_COOLDOWN: '30s', SLUICE_SELECTION: 'least-loaded' } });
    expect(config.learnRate).toBe(false);
    expect(config.cooldown).toBe(30_000);
    expect(config.selection).toBe('least-loaded');
    const defaults = loadConfig({ env: {} }).config;
    expect(defaults.learnRate).toBe(true);
    expect(defaults.cooldown).toBeUndefined();
    expect(defaults.selection).toBe('round-robin');
    const err = fail(() => loadConfig({ env: { SLUICE_SELECTION: 'random' } }));
    expect(err.message).toMatch(/selection/);
    expect(err.message).toMatch(/SLUICE_SELECTION/);
    expect(err.exitCode).toBe(ExitCode.badConfig);
  });

  it('reads the config file named by SLUICE_CONFIG, and booleans and lists from env', () => {
    const { config } = loadConfig({
      env: { SLUICE_CONFIG: cfg, SLUICE_QUOTA_MONITORING: 'off', SLUICE_KEYS: 'K_1, K_2', SLUICE_ALERT_LEVELS: '0.7,0.9' },
    });
    expect(config.requestsPerMinute).toBe(100);
    expect(config.quotaMonitoring).toBe(false);
    expect(config.keysEnv).toEqual(['K_1', 'K_2']);
    expect(config.alertLevels).toEqual([0.7, 0.9]);
  });

  it('a command may give its own defaults, still below every source', () => {
    const { config } = loadConfig({ env: { SLUICE_REQUESTS_PER_MINUTE: '50' }, defaults: { requestsPerMinute: 600, tokensPerMinute: 100_000 } });
    expect(config.requestsPerMinute).toBe(50);
    expect(config.tokensPerMinute).toBe(100_000);
  });
});

describe('loadConfig validation errors name the option, its source and the range', () => {
  it('flag', () => {
    const err = fail(() => loadConfig({ flags: { quotaThreshold: '1.5' }, env: {} }));
    expect(err.exitCode).toBe(ExitCode.badConfig);
    expect(err.message).toContain('quotaThreshold');
    expect(err.message).toContain('--quota-threshold');
    expect(err.message).toContain('(0, 1]');
    expect(err.message).toContain('"1.5"');
  });
  it('environment variable', () => {
    const err = fail(() => loadConfig({ env: { SLUICE_REQUESTS_PER_MINUTE: 'fast' } }));
    expect(err.message).toMatch(/requestsPerMinute from environment variable SLUICE_REQUESTS_PER_MINUTE: must be integer >= 1, got "fast"/);
  });
  it('config file key, and unknown keys', () => {
    const bad = file('b.json', JSON.stringify({ maxConcurrency: 0 }));
    expect(fail(() => loadConfig({ env: {}, configPath: bad })).message).toContain('config file key "maxConcurrency"');
    const typo = file('c.json', JSON.stringify({ requestsPerMinutes: 3 }));
    expect(fail(() => loadConfig({ env: {}, configPath: typo })).message).toContain('unknown option "requestsPerMinutes"');
    expect(fail(() => loadConfig({ env: {}, configPath: join(dir, 'missing.json') })).message).toContain('cannot read config file');
    const notJson = file('d.json', '{ requestsPerMinute: ');
    expect(fail(() => loadConfig({ env: {}, configPath: notJson })).exitCode).toBe(ExitCode.badConfig);
  });
  it('cross-field rules', () => {
    expect(fail(() => loadConfig({ env: { SLUICE_MIN_CONCURRENCY: '8', SLUICE_MAX_CONCURRENCY: '4' } })).message).toContain(
      'maxConcurrency',
    );
    expect(fail(() => loadConfig({ env: { SLUICE_CONCURRENCY: '40' } })).message).toContain('between minConcurrency');
    expect(fail(() => loadConfig({ env: { SLUICE_ALERT_LEVELS: '0.9,0.5' } })).message).toContain('ascending');
  });
  it('per-kind retry overrides take the library\'s byKind shape, checked by the library, naming source and path', () => {
    const f = file('r.json', JSON.stringify({ retry: { rate_limited: { attempts: 0 } } }));
    expect(fail(() => loadConfig({ env: {}, configPath: f })).message).toBe(
      'invalid option retry from config file key "retry": retry.rate_limited.attempts must be an integer >= 1, got 0',
    );
    const cap = file('cap.json', JSON.stringify({ retry: { rate_limited: { backoff: { type: 'exponential', initialMs: 2000, maxMs: 1000 } } } }));
    expect(fail(() => loadConfig({ env: {}, configPath: cap })).message).toContain(
      'from config file key "retry": retry.rate_limited.backoff.maxMs must be >= initialMs (2000), got 1000',
    );
    const g = file('g.json', JSON.stringify({ retry: { sometimes: { attempts: 2 } } }));
    expect(fail(() => loadConfig({ env: {}, configPath: g })).message).toContain('retry.sometimes is not an error kind');
    const env = fail(() => loadConfig({ env: { SLUICE_RETRY: '{"overloaded":{"jitter":"some"}}' } })).message;
    expect(env).toContain('from environment variable SLUICE_RETRY: retry.overloaded.jitter must be');
    const ok = loadConfig({
      env: { SLUICE_RETRY: JSON.stringify({ server_error: { attempts: 5, backoff: { type: 'schedule', delaysMs: [500, 1000] }, jitter: 'none' }, rate_limited: { maxRetryAfterMs: 9000, retryAfterAboveCap: 'give-up' } }) },
    });
    const policy = retryFor(ok.config);
    const s = policy.settingsFor('server_error');
    expect(s.attempts).toBe(5);
    expect(s.jitter).toBe('none');
    expect([s.backoff.delayMs(1), s.backoff.delayMs(2), s.backoff.delayMs(3)]).toEqual([500, 1000, 1000]);
    expect(policy.settingsFor('rate_limited')).toMatchObject({ maxRetryAfterMs: 9000, retryAfterAboveCap: 'give-up' });
  });
  it('the old per-kind retry names are refused with the name that replaced them', () => {
    const msg = (retry: unknown): string => fail(() => loadConfig({ env: {}, configPath: file('old.json', JSON.stringify({ retry })) })).message;
    expect(msg({ rate_limited: { maxAttempts: 8 } })).toContain("retry.rate_limited.maxAttempts: renamed to attempts, the library's name");
    expect(msg({ rate_limited: { initialDelayMs: 2000, maxDelayMs: 60000 } })).toContain(
      'retry.rate_limited.initialDelayMs: initialDelayMs/maxDelayMs/factor/schedule are now one backoff, the library\'s: "backoff": {"type":"exponential","initialMs":2000,"factor":2,"maxMs":60000}',
    );
    expect(msg({ server_error: { schedule: [500, 1000] } })).toContain('"backoff": {"type":"schedule","delaysMs":[500,1000]}');
    expect(msg({ server_error: { factor: 3 } })).toContain('retry.server_error.factor:');
    expect(msg({ overloaded: { jitter: 'proportional' } })).toContain('retry.overloaded.jitter: "proportional" is now the library\'s {"type":"proportional","ratio":0.1}');
  });
  it('fuzz: any retry override is accepted exactly when the library accepts it as byKind, else refused with a message naming retry', () => {
    const kind = fc.constantFrom(...ERROR_KINDS, 'sometimes');
    const num = fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.double({ noNaN: false }), fc.constant('5'));
    const backoff = fc.oneof(
      fc.record({ type: fc.constant('exponential'), initialMs: num, factor: num, maxMs: num }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('constant'), delayMs: num }),
      fc.record({ type: fc.constant('schedule'), delaysMs: fc.array(num, { maxLength: 4 }) }),
      fc.record({ type: fc.constantFrom('linear', 'exponential'), initalMs: num }),
    );
    const field = fc.record(
      {
        retry: fc.oneof(fc.boolean(), fc.constant('yes')),
        attempts: num,
        backoff,
        jitter: fc.constantFrom('none', 'full', 'equal', 'decorrelated', 'proportional', 'some', { type: 'proportional', ratio: 0.2 }),
        honourRetryAfter: fc.boolean(),
        maxRetryAfterMs: num,
        retryAfterAboveCap: fc.constantFrom('clamp', 'give-up', 'wait'),
        maxAttempts: num,
        initialDelayMs: num,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.dictionary(kind, field, { maxKeys: 3 }), (generated) => {
        // As read from JSON (a file or SLUICE_RETRY): NaN and Infinity become null.
        const retry = JSON.parse(JSON.stringify(generated)) as Record<string, Record<string, unknown>>;
        let library: unknown;
        try {
          retryPolicy({ byKind: retry as never });
        } catch (err) {
          library = err;
        }
        const old = Object.values(retry).some((o) => 'maxAttempts' in o || 'initialDelayMs' in o || o.jitter === 'proportional');
        const r = OPTIONS.retry.schema.safeParse(retry);
        if (r.success) {
          expect(library).toBeUndefined();
          expect(old).toBe(false);
          expect(r.data).toEqual(retry);
        } else {
          expect(library !== undefined || old).toBe(true);
          expect(() => loadConfig({ env: { SLUICE_RETRY: JSON.stringify(retry) } })).toThrow(/^invalid option retry from environment variable SLUICE_RETRY: retry\./);
        }
      }),
      { numRuns: 300 },
    );
  });
  it('durations', () => {
    expect(parseDurationText('1m30s')).toBe(90_000);
    expect(parseDurationText('250')).toBe(250);
    expect(parseDurationText('24h')).toBe(86_400_000);
    expect(parseDurationText('soon')).toBeUndefined();
    expect(parseDurationText('5s garbage')).toBeUndefined();
    expect(fail(() => loadConfig({ env: { SLUICE_GRACE_PERIOD: 'soon' } })).message).toContain('SLUICE_GRACE_PERIOD');
  });
  it('durations: garbage never throws, and h/m/s components add up (fast-check)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const ms = parseDurationText(text);
        return ms === undefined || (Number.isFinite(ms) && ms >= 0);
      }),
    );
    fc.assert(
      fc.property(fc.nat(23), fc.nat(59), fc.nat(59), (h, m, sec) => parseDurationText(`${h}h${m}m${sec}s`) === ((h * 60 + m) * 60 + sec) * 1000),
    );
  });
});

describe('loadKeys', () => {
  it('reads named variables; a missing one is one clear message with the missing-key code and no secret', () => {
    const keys = loadKeys({ keysEnv: ['K_A', 'K_B'] }, { K_A: 'sk-aaa', K_B: 'sk-bbb' });
    expect(keys).toEqual([
      { name: 'K_A', secret: 'sk-aaa' },
      { name: 'K_B', secret: 'sk-bbb' },
    ]);
    const err = fail(() => loadKeys({ keysEnv: ['K_A', 'K_C'] }, { K_A: 'sk-aaa' }));
    expect(err.exitCode).toBe(ExitCode.missingKey);
    expect(err.message).toContain('K_C');
    expect(err.message).not.toContain('sk-aaa');
    expect(fail(() => loadKeys({}, {})).exitCode).toBe(ExitCode.missingKey);
  });
  it('reads key files as lines or JSON, and bad lines are reported by number only', () => {
    expect(readKeyFile(file('k.txt', '# keys\nalpha=sk-1\n\nbeta = sk-2\n'))).toEqual([
      { name: 'alpha', secret: 'sk-1' },
      { name: 'beta', secret: 'sk-2' },
    ]);
    expect(readKeyFile(file('k.json', '{"x":"sk-x"}'))).toEqual([{ name: 'x', secret: 'sk-x' }]);
    const err = fail(() => readKeyFile(file('bad.txt', 'sk-leaked-secret\n')));
    expect(err.message).toContain('line 1');
    expect(err.message).not.toContain('sk-leaked-secret');
  });
});

describe('per-key limits', () => {
  it('override the shared per-key limits by key name, and refuse unknown keys', async () => {
    const { keyLimitsFor } = await import('../../src/cli/key-limits.js');
    const f = file('kl.json', JSON.stringify({ requestsPerMinute: 600, tokensPerMinute: 100_000, keyLimits: { K_B: { requestsPerMinute: 60, requestsPerDay: 500, maxInFlight: 2 } } }));
    const { config } = loadConfig({ env: {}, configPath: f });
    const keys = [
      { name: 'K_A', secret: 'a' },
      { name: 'K_B', secret: 'b' },
    ];
    expect(keyLimitsFor(config, keys)).toEqual({
      K_A: { requestsPerMinute: 600, tokensPerMinute: 100_000 },
      K_B: { requestsPerMinute: 60, tokensPerMinute: 100_000, maxInFlight: 2, requestsPerDay: 500 },
    });
    expect(fail(() => keyLimitsFor(config, [{ name: 'K_A', secret: 'a' }])).message).toContain('key "K_B" is not one of the configured keys');
    const msg = (keyLimits: unknown): string => fail(() => loadConfig({ env: {}, configPath: file('kl2.json', JSON.stringify({ keyLimits })) })).message;
    // The library's validateLimits decides, and the message names the source and the key's field.
    expect(msg({ K_A: { requestsPerMinute: -1 } })).toBe(
      'invalid option keyLimits from config file key "keyLimits": keyLimits.K_A: requestsPerMinute must be a finite number > 0, got -1',
    );
    expect(msg({ K_A: { maxInFlight: 1.5 } })).toContain('keyLimits.K_A: maxInFlight must be an integer >= 1, got 1.5');
    // The old short names are refused with the library's name; other unknown fields by name.
    expect(msg({ K_A: { rpm: 60 } })).toContain("keyLimits.K_A.rpm: renamed to requestsPerMinute, the library's name");
    expect(msg({ K_A: { tpm: 60 } })).toContain("keyLimits.K_A.tpm: renamed to tokensPerMinute, the library's name");
    expect(msg({ K_A: { rpd: 60 } })).toContain("keyLimits.K_A.rpd: renamed to requestsPerDay, the library's name");
    expect(msg({ K_A: { burst: 2 } })).toContain('keyLimits.K_A.burst is not a known option (known: requestsPerMinute,');
    // The top-level duration's name is refused with the library's field in ms, converted when it can be.
    expect(msg({ K_A: { minSpacing: '5s' } })).toContain(
      'keyLimits.K_A.minSpacing: a per-key limit takes the library\'s name and unit: use "minSpacingMs": 5000 (a number of ms; the top-level option is a duration)',
    );
    expect(msg({ K_A: { minSpacing: 250 } })).toContain('use "minSpacingMs": 250 (a number of ms');
    expect(msg({ K_A: { minSpacing: 'soon' } })).toContain('keyLimits.K_A.minSpacing: a per-key limit takes the library\'s name and unit: use "minSpacingMs" (a number of ms');
    const env = fail(() => loadConfig({ env: { SLUICE_KEY_LIMITS: '{"K_A":{"minSpacingMs":-5}}' } })).message;
    expect(env).toContain('from environment variable SLUICE_KEY_LIMITS: keyLimits.K_A: minSpacingMs must be a finite number >= 0, got -5');
  });
});

describe('top-level options in the library\'s names', () => {
  it('limits and attempts are named as createSluice names them: requestsPerMinute, tokensPerMinute, requestsPerDay, attempts', () => {
    const { config } = loadConfig({
      flags: { attempts: '6' },
      env: { SLUICE_REQUESTS_PER_MINUTE: '500', SLUICE_TOKENS_PER_MINUTE: '200000', SLUICE_REQUESTS_PER_DAY: '9000' },
    });
    expect(config).toMatchObject({ requestsPerMinute: 500, tokensPerMinute: 200_000, requestsPerDay: 9000, attempts: 6 });
    expect(retryFor(config).settingsFor('server_error').attempts).toBe(6);
    expect(OPTIONS.requestsPerMinute.flag).toBe('--requests-per-minute <n>');
    expect(OPTIONS.attempts.flag).toBe('--attempts <n>');
  });

  it('every flag and variable follows the table\'s convention, so an old name\'s flag and variable are known from its name', () => {
    const off = Object.entries(OPTIONS).filter(([name, spec]) => (spec.flag !== undefined && spec.flag.split(' ')[0] !== flagOf(name)) || spec.env !== envOf(name));
    expect(off.map(([name]) => name)).toEqual(['keysEnv']); // SLUICE_KEYS
    expect([flagOf('rpm'), envOf('rpm'), flagOf('maxAttempts'), envOf('maxAttempts')]).toEqual(['--rpm', 'SLUICE_RPM', '--max-attempts', 'SLUICE_MAX_ATTEMPTS']);
    for (const now of Object.values(RENAMED_OPTIONS)) expect(OPTIONS).toHaveProperty(now);
  });

  it('the old names are refused from every source, naming the old name, its source and the new name there', () => {
    const refused = (input: Parameters<typeof loadConfig>[0]): string => {
      const err = fail(() => loadConfig(input));
      expect(err.exitCode).toBe(ExitCode.badConfig);
      return err.message;
    };
    expect(refused({ env: {}, flags: { rpm: '500' } })).toBe(
      "invalid option rpm from flag --rpm: renamed to requestsPerMinute, the library's name; use flag --requests-per-minute",
    );
    expect(refused({ env: {}, flags: { maxAttempts: '6' } })).toBe(
      "invalid option maxAttempts from flag --max-attempts: renamed to attempts, the library's name; use flag --attempts",
    );
    expect(refused({ env: { SLUICE_TPM: '9000' } })).toBe(
      "invalid option tpm from environment variable SLUICE_TPM: renamed to tokensPerMinute, the library's name; use environment variable SLUICE_TOKENS_PER_MINUTE",
    );
    expect(refused({ env: { SLUICE_MAX_ATTEMPTS: '3' } })).toContain('use environment variable SLUICE_ATTEMPTS');
    expect(refused({ env: {}, configPath: file('old-top.json', JSON.stringify({ rpd: 100 })) })).toBe(
      'invalid option rpd from config file key "rpd": renamed to requestsPerDay, the library\'s name; use config file key "requestsPerDay"',
    );
    expect(refused({ env: {}, configPath: file('old-att.json', JSON.stringify({ maxAttempts: 4 })) })).toContain('use config file key "attempts"');
    // dailyLimit was a second name of the per-key daily budget: refused, naming the one that stays.
    expect(refused({ env: {}, flags: { dailyLimit: '10' } })).toBe(
      "invalid option dailyLimit from flag --daily-limit: renamed to requestsPerDay, the library's name; use flag --requests-per-day",
    );
    expect(refused({ env: { SLUICE_DAILY_LIMIT: '10' } })).toBe(
      "invalid option dailyLimit from environment variable SLUICE_DAILY_LIMIT: renamed to requestsPerDay, the library's name; use environment variable SLUICE_REQUESTS_PER_DAY",
    );
    expect(refused({ env: {}, configPath: file('old-daily.json', JSON.stringify({ dailyLimit: 40_000 })) })).toBe(
      'invalid option dailyLimit from config file key "dailyLimit": renamed to requestsPerDay, the library\'s name; use config file key "requestsPerDay"',
    );
    // Also when the new name is given beside it: one value, never a choice between two.
    expect(refused({ env: { SLUICE_DAILY_LIMIT: '10' }, flags: { requestsPerDay: '20' } })).toContain('use environment variable SLUICE_REQUESTS_PER_DAY');
    expect(OPTIONS).not.toHaveProperty('dailyLimit');
    // An empty variable is no value, as for every option.
    expect(loadConfig({ env: { SLUICE_RPM: '' } }).config.requestsPerMinute).toBeUndefined();
  });

  it('on the command line, the old flags of run, demo, worker and simulate end with exit 2 and the new flag (not commander\'s "unknown option")', async () => {
    const { runCli } = await import('../../src/cli/program.js');
    const { Writable } = await import('node:stream');
    const input = file('in.jsonl', '{"id":"a","prompt":"hi"}\n');
    const cli = async (args: string[]): Promise<{ code: number; err: string }> => {
      let err = '';
      const sink = new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) });
      const code = await runCli(['node', 'sluice', ...args], { stdout: sink, stderr: sink, env: {}, cwd: dir });
      return { code, err };
    };
    const cases: [string[], string][] = [
      [['run', input, '--dry-run', '--rpm', '500'], 'invalid option rpm from flag --rpm: renamed to requestsPerMinute, the library\'s name; use flag --requests-per-minute'],
      [['run', input, '--dry-run', '--max-attempts', '3'], 'use flag --attempts'],
      [['run', input, '--dry-run', '--rpd'], 'invalid option rpd from flag --rpd: renamed to requestsPerDay'],
      [['demo', '--tpm', '1000'], 'invalid option tpm from flag --tpm: renamed to tokensPerMinute, the library\'s name; use flag --tokens-per-minute'],
      [['simulate', '--rpm', '100'], 'use flag --requests-per-minute'],
      [['run', input, '--dry-run', '--daily-limit', '10'], "invalid option dailyLimit from flag --daily-limit: renamed to requestsPerDay, the library's name; use flag --requests-per-day"],
      [['demo', '--daily-limit', '10'], 'use flag --requests-per-day'],
      [['worker', '--backend', 'redis://127.0.0.1:1', '--daily-limit', '10'], 'use flag --requests-per-day'],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await cli(args);
      expect(code, args.join(' ')).toBe(ExitCode.badConfig);
      expect(err).toContain(message);
      expect(err).not.toContain('unknown option');
    }
    // The new flags are taken, and the old ones stay out of --help.
    const ok = await cli(['run', input, '--dry-run', '--requests-per-minute', '60', '--attempts', '3', '--requests-per-day', '10']);
    expect(ok.code).toBe(ExitCode.ok);
    const help = await cli(['run', '--help']);
    expect(help.err).toContain('--requests-per-minute');
    expect(help.err).toContain('--requests-per-day');
    expect(help.err).not.toMatch(/--rpm\b|--max-attempts|--daily-limit/);
  });
});

describe('shared breaker option', () => {
  it('accepts off, provider or key and names the option when the value is wrong', () => {
    expect(loadConfig({ env: {} }).config.sharedBreaker).toBe('off');
    expect(loadConfig({ env: { SLUICE_SHARED_BREAKER: 'key' } }).config.sharedBreaker).toBe('key');
    const err = fail(() => loadConfig({ env: { SLUICE_SHARED_BREAKER: 'global' } }));
    expect(err.message).toMatch(/sharedBreaker/);
    expect(err.exitCode).toBe(ExitCode.badConfig);
  });
});

describe('docs/CONFIGURATION.md', () => {
  it('documents every option of the table with its flag and environment variable', async () => {
    const { readFileSync } = await import('node:fs');
    const { OPTIONS } = await import('../../src/cli/options.js');
    const doc = readFileSync(new URL('../../docs/CONFIGURATION.md', import.meta.url), 'utf8');
    const missing = Object.entries(OPTIONS)
      .filter(([name, spec]) => {
        const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
        if (!row) return true;
        const flag = spec.flag?.split(' ')[0];
        return !row.includes(spec.env) || (flag !== undefined && !row.includes(flag));
      })
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });
});
