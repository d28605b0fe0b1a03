/**
 * Story: AI processing services stuck in infinite retry loops on an invalid API key
 * (seeds/infinite-retry-loops.md). With the preset, every loop ends after at most 3 attempts
 * (1 s, 2 s waits); an invalid key is never retried and opens a shared circuit breaker, so the
 * other services fail fast instead of calling with the same bad key. Runs on a virtual clock.
 *
 *   npx tsx examples/genai-processing.ts
 */
import { presets, retry, SluiceError, createLogger, logBreakerEvents, retryLogHooks } from 'sluice';
import { VirtualClock } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'rag-processor', clock });
const { policy, breaker } = presets.genaiProcessing({ clock });
logBreakerEvents(breaker.events, logger);

let calls = 0;
/** A fake Gemini call: the first service's context generation hits a flaky network, then the key is revoked. */
async function generateContext(service: string, { attempt }: { attempt: number }): Promise<string> {
  calls++;
  if (service === 'video' && attempt === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  if (service !== 'video') {
    throw new SluiceError({ kind: 'auth', retryable: false, status: 400, code: 'API_KEY_INVALID', message: 'API key not valid. Please pass a valid API key.' });
  }
  return `context for ${service}`;
}

for (const service of ['video', 'audio', 'image', 'document']) {
  const hooks = retryLogHooks(logger, { eventPrefix: 'context_generation_' });
  const r = await clock.run(retry((ctx) => generateContext(service, ctx), policy, { clock, breaker, hooks, label: `${service} context`, mode: 'result' }));
  console.log(`${service}: ${r.ok ? r.value : `failed (${r.reason}) after ${r.attempts} attempt(s)`}`);
}
console.log(`API calls made: ${calls}; timers left: ${clock.pendingCount}; breaker: ${breaker.state}`);
