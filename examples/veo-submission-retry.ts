/**
 * Story: Veo job submission with 429/503 backoff of 30 s, 60 s, 120 s (seeds/veo3-sequential-submission.md).
 * Three jobs on a virtual clock: one gets 429 twice then succeeds, one is rejected with 400 (no
 * retry), one stays rate limited and fails with error_message "rate_limited". Each job has its own
 * attempt count.
 *
 *   npx tsx examples/veo-submission-retry.ts
 */
import { presets, retry, SluiceError, createLogger, retryLogHooks } from 'sluice';
import { VirtualClock } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'veo3-orchestrator', clock });
const policy = presets.veoSubmission();

const resourceExhausted = () =>
  new SluiceError({ kind: 'rate_limited', retryable: true, status: 429, code: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' });
const invalidArgument = () =>
  new SluiceError({ kind: 'invalid_request', retryable: false, status: 400, code: 'INVALID_ARGUMENT', message: 'The prompt could not be submitted.' });

/** A fake Veo client failing with `failures` in turn, then returning an operation name. */
function fakeSubmit(variant: string, failures: (() => SluiceError)[]) {
  return async (): Promise<string> => {
    const next = failures.shift();
    if (next) throw next();
    return `operations/${variant}-${clock.now()}`;
  };
}

async function submit(variant: string, failures: (() => SluiceError)[]) {
  const hooks = retryLogHooks(logger, { eventPrefix: 'veo3_submit_' });
  const r = await retry(fakeSubmit(variant, failures), policy, { clock, hooks, label: variant, mode: 'result' });
  return r.ok ? { variant, status: 'submitted', operation: r.value } : { variant, status: 'failed', error_message: r.error.message };
}

const jobs = await clock.run(
  Promise.all([
    submit('variant-a', [resourceExhausted, resourceExhausted]),
    submit('variant-b', [invalidArgument]),
    submit('variant-c', [resourceExhausted, resourceExhausted, resourceExhausted, resourceExhausted]),
  ]),
);
console.table(jobs);
