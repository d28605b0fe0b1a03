/**
 * Story: clip downloads retry transient failures (seeds/clip-download-retry.md).
 * Three downloads on a virtual clock, so the 1 s / 2 s waits and the 10 s timeout take no real time:
 * one succeeds on attempt 2, one hits a 404 (no retry), one keeps failing and returns nothing.
 *
 *   npx tsx examples/clip-download.ts
 */
import { presets, retry, SluiceError, createLogger, retryLogHooks } from 'sluice';
import { VirtualClock } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'clip-service', clock });
const policy = presets.clipDownload();

/** A fake camera client: `plan` lists what each attempt does. */
function fakeDownload(eventId: string, plan: ('reset' | 'hang' | '404' | 'ok')[]) {
  return async ({ attempt, signal }: { attempt: number; signal: AbortSignal }): Promise<string> => {
    const step = plan[Math.min(attempt, plan.length) - 1];
    if (step === 'reset') throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    if (step === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    if (step === '404') throw new SluiceError({ kind: 'not_found', retryable: false, status: 404, message: 'clip not recorded' });
    return `/tmp/clips/${eventId}.mp4`;
  };
}

/** Returns the file path, or undefined when the download failed (the story's `None`). */
async function downloadClip(eventId: string, plan: ('reset' | 'hang' | '404' | 'ok')[]): Promise<string | undefined> {
  const hooks = retryLogHooks(logger.child({ event_id: eventId }), { eventPrefix: 'clip_download_', label: `clip ${eventId}` });
  const r = await retry(fakeDownload(eventId, plan), policy, { clock, hooks, label: `clip ${eventId}`, mode: 'result' });
  return r.ok ? r.value : undefined;
}

const results = await clock.run(
  Promise.all([
    downloadClip('evt-1', ['hang', 'ok']),
    downloadClip('evt-2', ['404']),
    downloadClip('evt-3', ['reset', 'reset', 'reset']),
  ]),
);
console.log('results:', results, `(virtual time used: ${(clock.now() - Date.UTC(2026, 0, 1)) / 1000}s)`);
