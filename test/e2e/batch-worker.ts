/**
 * A stand-in for `sluice run` used by kill-resume.test.ts until the CLI lands: runs a batch against an
 * OpenAI-compatible server with the real executor and the SQLite store, then exits 0.
 * Arguments come from the environment: SLUICE_E2E_INPUT, SLUICE_E2E_STATE, SLUICE_E2E_OUTPUT,
 * SLUICE_E2E_BASE_URL, SLUICE_E2E_KEYS (comma-separated name=secret pairs).
 */
import { runBatch } from '../../src/batch/runner.js';
import { createSluice } from '../../src/scheduler/create-sluice.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`batch-worker: ${name} is not set`);
  return value;
}

const keys = env('SLUICE_E2E_KEYS')
  .split(',')
  .map((pair) => {
    const [name = '', secret = ''] = pair.split('=');
    return { name, secret };
  });
const executor = createSluice({
  provider: openAICompatibleAdapter({ baseUrl: `${env('SLUICE_E2E_BASE_URL')}/v1` }),
  keys,
  concurrency: 8,
  // Attempts survive restarts, so the budget covers the reruns of kills as well as injected faults.
  retry: { default: { attempts: 20, backoff: { type: 'constant', delayMs: 20 } } },
});
const summary = await runBatch({
  input: env('SLUICE_E2E_INPUT'),
  state: env('SLUICE_E2E_STATE'),
  output: env('SLUICE_E2E_OUTPUT'),
  executor,
  window: 16,
});
await executor.close();
process.stdout.write(JSON.stringify({ byState: summary.counts.byState, written: summary.writtenThisRun }) + '\n');
process.exit(summary.counts.byState.succeeded === summary.counts.total ? 0 : 3);
