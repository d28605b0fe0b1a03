/** The run's remembered settings: what a resume takes from the state, and which changes it refuses. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { CliError, ExitCode } from '../../src/cli/exit-codes.js';
import { RENAMED_OPTIONS } from '../../src/cli/library-options.js';
import { resumeConfig, settingsToStore, storedSettings } from '../../src/cli/run-settings.js';

const first = loadConfig({ env: {}, flags: { baseUrl: 'http://127.0.0.1:8080/v1', model: 'm1', keysEnv: 'K1,K2', requestsPerMinute: '500', template: 'Hi {{name}}' } }).config;
const stored = settingsToStore(first);

describe('remembered settings', () => {
  it('stores the resolved settings by option name, never a secret nor the run-only options', () => {
    expect(stored).toMatchObject({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'm1', keysEnv: ['K1', 'K2'], requestsPerMinute: 500, template: 'Hi {{name}}', provider: 'openai' });
    for (const runOnly of ['force', 'state', 'output', 'logFile', 'metricsPort', 'progress']) expect(stored).not.toHaveProperty(runOnly);
  });

  it('a resume with fewer options takes the others from the state; options given now win', () => {
    const { config, changes } = resumeConfig(loadConfig({ env: {}, flags: { requestsPerMinute: '50' } }), stored);
    expect(config).toMatchObject({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'm1', keysEnv: ['K1', 'K2'], template: 'Hi {{name}}', requestsPerMinute: 50 });
    expect(changes).toEqual([]);
  });

  it('refuses another destination or request without --force, naming the old and new values; --force takes them', () => {
    const attempt = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): unknown => {
      try {
        return resumeConfig(loadConfig({ env, flags }), stored);
      } catch (e) {
        return e;
      }
    };
    const model = attempt({ model: 'm2' }) as CliError;
    expect(model).toBeInstanceOf(CliError);
    expect(model.exitCode).toBe(ExitCode.badConfig);
    expect(model.message).toContain('model was "m1", now "m2" (flag)');
    const url = attempt({}, { SLUICE_BASE_URL: 'https://api.openai.com/v1' }) as CliError;
    expect(url.message).toContain('baseUrl was "http://127.0.0.1:8080/v1", now "https://api.openai.com/v1" (environment)');
    const forced = attempt({ model: 'm2', force: true }) as ReturnType<typeof resumeConfig>;
    expect(forced.config.model).toBe('m2');
    expect(forced.changes.map((c) => c.option)).toEqual(['model']);
    // The same value again is no change.
    expect((attempt({ model: 'm1' }) as ReturnType<typeof resumeConfig>).changes).toEqual([]);
  });

  it('a state made before settings were stored falls back to its display settings', () => {
    const legacy = storedSettings({ options: { provider: 'openai', baseUrl: 'http://127.0.0.1:9999/v1', model: 'old', concurrency: '4 (adaptive 1..16)' } });
    const { config } = resumeConfig(loadConfig({ env: {} }), legacy);
    expect(config.baseUrl).toBe('http://127.0.0.1:9999/v1');
    expect(config.model).toBe('old');
    expect(config.concurrency).toBe(4);
  });
  it('a state stored with the old retry and keyLimits names resumes with the same settings, in the library\'s names', () => {
    const old = storedSettings({
      settings: {
        model: 'm1',
        keyLimits: { K1: { rpm: 60, tpm: 4000, rpd: 100, maxInFlight: 2 } },
        retry: { rate_limited: { maxAttempts: 8, initialDelayMs: 2000, jitter: 'proportional' }, server_error: { schedule: [500, 1000] } },
      },
    });
    const { config } = resumeConfig(loadConfig({ env: {} }), old);
    expect(config.keyLimits).toEqual({ K1: { requestsPerMinute: 60, tokensPerMinute: 4000, requestsPerDay: 100, maxInFlight: 2 } });
    expect(config.retry).toEqual({
      rate_limited: { attempts: 8, backoff: { type: 'exponential', initialMs: 2000, factor: 2, maxMs: 60_000 }, jitter: { type: 'proportional', ratio: 0.1 } },
      server_error: { backoff: { type: 'schedule', delaysMs: [500, 1000] } },
    });
  });

  it('a state stored with the old top-level names (rpm, tpm, rpd, maxAttempts, dailyLimit) resumes with the same limits and attempts', async () => {
    const { keyLimitsFor } = await import('../../src/cli/key-limits.js');
    const { retryFor } = await import('../../src/cli/retry-presets.js');
    const keys = [{ name: 'K1', secret: 'a' }, { name: 'K2', secret: 'b' }];
    // As a run of the version before wrote them: its settings, and (older still) its display settings.
    const oldSettings = { baseUrl: 'http://127.0.0.1:8080/v1', keysEnv: ['K1', 'K2'], rpm: 500, tpm: 200_000, rpd: 9000, maxAttempts: 6 };
    const today = loadConfig({ env: {}, flags: { baseUrl: 'http://127.0.0.1:8080/v1', keysEnv: 'K1,K2', requestsPerMinute: '500', tokensPerMinute: '200000', requestsPerDay: '9000', attempts: '6' } }).config;
    const old = storedSettings({ settings: oldSettings });
    expect(Object.keys(old!).filter((k) => k in RENAMED_OPTIONS)).toEqual([]);
    const { config } = resumeConfig(loadConfig({ env: {} }), old);
    expect(config).toMatchObject({ requestsPerMinute: 500, tokensPerMinute: 200_000, requestsPerDay: 9000, attempts: 6 });
    expect(keyLimitsFor(config, keys)).toEqual(keyLimitsFor(today, keys));
    expect(keyLimitsFor(config, keys).K1).toEqual({ requestsPerMinute: 500, tokensPerMinute: 200_000, requestsPerDay: 9000 });
    expect(retryFor(config).settingsFor('rate_limited').attempts).toBe(6);
    // A run of the version with two names for the daily budget stored dailyLimit, which won over requestsPerDay:
    // resumed, the budget is the same, under the one name.
    const daily = storedSettings({ settings: { baseUrl: 'http://127.0.0.1:8080/v1', keysEnv: ['K1', 'K2'], dailyLimit: 40 } });
    expect(daily).not.toHaveProperty('dailyLimit');
    const resumed = resumeConfig(loadConfig({ env: {} }), daily).config;
    expect(resumed.requestsPerDay).toBe(40);
    expect(keyLimitsFor(resumed, keys)).toEqual({ K1: { requestsPerDay: 40 }, K2: { requestsPerDay: 40 } });
    for (const both of [{ requestsPerDay: 9000, dailyLimit: 40 }, { dailyLimit: 40, requestsPerDay: 9000 }]) {
      expect(resumeConfig(loadConfig({ env: {} }), storedSettings({ settings: both })).config.requestsPerDay).toBe(40);
    }
    // Given again now, the option wins over the stored budget, as every remembered option does.
    expect(resumeConfig(loadConfig({ env: {}, flags: { requestsPerDay: '70' } }), daily).config.requestsPerDay).toBe(70);
    // Older still: only display settings (their rpd also counted the old --daily-limit, so it is not read back).
    const display = resumeConfig(loadConfig({ env: {} }), storedSettings({ options: { ...oldSettings, concurrency: '4 (adaptive 1..16)' } })).config;
    expect(display).toMatchObject({ requestsPerMinute: 500, tokensPerMinute: 200_000, attempts: 6 });
    expect(display.requestsPerDay).toBeUndefined();
    // What this version stores is read back as it is.
    expect(storedSettings({ settings: settingsToStore(today) })).toEqual(settingsToStore(today));
  });

  it('the report of a state written by an older version shows its settings in the new names', async () => {
    const { readFileSync } = await import('node:fs');
    const { runBatch } = await import('../../src/batch/runner.js');
    const { BUILTIN_PRICES } = await import('../../src/observe/report/prices.js');
    const { writeReportFromState } = await import('../../src/cli/commands/report.js');
    const { fakeExecutor, tempDir, writeJsonl } = await import('../batch/helpers.js');
    const t = tempDir();
    try {
      const input = t.file('old.jsonl');
      writeJsonl(input, 2);
      // The display settings as the version before wrote them.
      await runBatch({ input, executor: fakeExecutor(() => 'ok'), runOptions: { keys: ['K1'], rpm: 600, tpm: 100_000, maxAttempts: 4, keyLimits: { K1: { rpm: 60 } } } });
      const report = await writeReportFromState({ state: `${input}.sluice.db`, report: t.file('old.report.html'), prices: BUILTIN_PRICES, now: Date.now() });
      const html = readFileSync(report, 'utf8');
      for (const now of ['requestsPerMinute', 'tokensPerMinute', 'attempts']) expect(html).toContain(`<tr><th>${now}</th>`);
      expect(html).toContain('{&#34;K1&#34;:{&#34;requestsPerMinute&#34;:60}}');
      for (const old of ['rpm', 'tpm', 'maxAttempts']) expect(html).not.toContain(`<tr><th>${old}</th>`);
    } finally {
      t.cleanup();
    }
  });
});
