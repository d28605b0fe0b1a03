import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { HttpClient } from '../../src/provider/http.js';
import type { CallContext } from '../../src/provider/types.js';
import { veoAdapter, veoPollDelays, type VeoOptions } from '../../src/provider/veo.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { eventually, startScriptedServer, type Reply, type ScriptedServer, type SeenRequest } from './helpers/scripted-server.js';

const SECRET = 'AIza-test-SECRET-0123456789';
const OP = 'models/veo-3.0-generate-001/operations/op123';
let reply: (req: SeenRequest) => Reply = () => ({ status: 200, body: {} });
let server: ScriptedServer;
let http: HttpClient | undefined;

beforeAll(async () => {
  server = await startScriptedServer((req) => reply(req));
});
afterEach(async () => {
  await http?.close();
  http = undefined;
  server.requests.length = 0;
});
afterAll(async () => {
  await server.close();
});

function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { key: { name: 'veo-key', secret: SECRET }, signal, attempt: 1 };
}

/**
 * Drives the virtual clock while real loopback I/O happens: waits (real time, bounded) until a timer is
 * pending or the promise settled, then fires the next timer. VirtualClock.run is not used because a
 * loopback round trip on a loaded machine can outlast its I/O grace period.
 */
async function drive<T>(clock: VirtualClock, promise: Promise<T>, maxTimers = 200): Promise<T> {
  let settled = false;
  const tracked = promise.finally(() => {
    settled = true;
  });
  tracked.catch(() => undefined);
  for (let i = 0; i < maxTimers && !settled; i++) {
    await eventually(() => settled || clock.pendingCount > 0, 2000);
    if (!settled) await clock.next();
  }
  return tracked;
}

/** Answers the submit with an operation, then `polls` (one per GET) in order, repeating the last. */
function script(polls: Reply[], submit: Reply = { status: 200, body: { name: OP } }): void {
  let i = 0;
  reply = (req) => {
    if (req.method === 'POST') return submit;
    return polls[Math.min(i++, polls.length - 1)]!;
  };
}

const pending: Reply = { status: 200, body: { name: OP } };
const DONE: Reply = {
  status: 200,
  body: {
    name: OP,
    done: true,
    response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse: { generatedSamples: [{ video: { uri: 'https://example.test/files/v1:download?alt=media' } }] } },
  },
};

function adapter(clock: VirtualClock, extra: Partial<VeoOptions> = {}): ReturnType<typeof veoAdapter> {
  http ??= new HttpClient();
  return veoAdapter({ baseUrl: server.url, model: 'veo-3.0-generate-001', clock, http, poll: { initialDelayMs: 10_000, factor: 2, maxDelayMs: 40_000, maxWaitMs: 300_000 }, ...extra });
}

describe('veoPollDelays', () => {
  it('grows by the factor up to the cap', () => {
    const it = veoPollDelays({ initialDelayMs: 1000, factor: 2, maxDelayMs: 5000 });
    expect(Array.from({ length: 6 }, () => it.next().value)).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  });
});

describe('veoAdapter', () => {
  it('submits with predictLongRunning, polls on the clock with backoff until done, and returns the videos', async () => {
    const clock = new VirtualClock();
    const start = clock.now();
    script([pending, pending, DONE]);
    const submitted: string[] = [];
    const res = await drive(clock, adapter(clock, { onSubmitted: (name) => submitted.push(name) }).call({ instances: [{ prompt: 'a cat' }], parameters: { aspectRatio: '16:9' } }, ctx()));
    expect(res.result.videos).toEqual([{ uri: 'https://example.test/files/v1:download?alt=media' }]);
    expect(res.result.operationName).toBe(OP);
    expect(submitted).toEqual([OP]);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1beta/models/veo-3.0-generate-001:predictLongRunning',
      `GET /v1beta/${OP}`,
      `GET /v1beta/${OP}`,
      `GET /v1beta/${OP}`,
    ]);
    expect(server.requests[0]?.headers['x-goog-api-key']).toBe(SECRET);
    expect(clock.now() - start).toBe(10_000 + 20_000 + 40_000);
    expect(clock.pendingCount).toBe(0);
  });

  it('fails with the classified error of a done operation (RESOURCE_EXHAUSTED -> rate_limited, INVALID_ARGUMENT -> invalid_request)', async () => {
    const clock = new VirtualClock();
    script([{ status: 200, body: { name: OP, done: true, error: { code: 8, message: 'Resource has been exhausted (e.g. check quota).' } } }]);
    const err = await drive(clock, adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).kind).toMatch(/rate_limited|quota_exhausted/);
    expect((err as SluiceError).message).toContain(OP);
    script([{ status: 200, body: { name: OP, done: true, error: { code: 3, message: 'The prompt is malformed.' } } }]);
    const bad = await drive(clock, adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx())).catch((e: unknown) => e);
    expect((bad as SluiceError).kind).toBe('invalid_request');
  });

  it('fails an operation whose videos were all removed by the safety filter as content_filtered', async () => {
    const clock = new VirtualClock();
    script([{ status: 200, body: { name: OP, done: true, response: { generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: ["We can't create videos of this person."] } } } }]);
    const err = await drive(clock, adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx())).catch((e: unknown) => e);
    expect((err as SluiceError).kind).toBe('content_filtered');
    expect((err as SluiceError).message).toContain("can't create videos");
  });

  it('classifies a submit 429 without polling', async () => {
    const clock = new VirtualClock();
    script([DONE], { status: 429, body: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } } });
    const err = await drive(clock, adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx())).catch((e: unknown) => e);
    expect((err as SluiceError).kind).toBe('rate_limited');
    expect(server.requests.length).toBe(1);
    expect(clock.pendingCount).toBe(0);
  });

  it('tolerates a few retryable poll failures, then succeeds without resubmitting', async () => {
    const clock = new VirtualClock();
    script([{ status: 503, body: { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } }, { status: 500, body: '<html>oops</html>', headers: { 'content-type': 'text/html' } }, DONE]);
    const res = await drive(clock, adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx()));
    expect(res.result.videos.length).toBe(1);
    expect(server.requests.filter((r) => r.method === 'POST').length).toBe(1);
  });

  it('gives up after maxWaitMs with a non-retryable timeout naming the operation', async () => {
    const clock = new VirtualClock();
    const start = clock.now();
    script([pending]);
    const err = await drive(clock, adapter(clock, { poll: { initialDelayMs: 10_000, factor: 1, maxDelayMs: 10_000, maxWaitMs: 35_000 } }).call({ instances: [] }, ctx())).catch((e: unknown) => e);
    expect((err as SluiceError).kind).toBe('timeout');
    expect((err as SluiceError).classification).toMatchObject({ code: 'operation_timeout', retryable: false });
    expect(clock.now() - start).toBe(30_000);
    expect(clock.pendingCount).toBe(0);
  });

  it('stops polling at once when cancelled, leaving no timer and sending no further request', async () => {
    const clock = new VirtualClock();
    script([pending]);
    const controller = new AbortController();
    const call = adapter(clock).call({ instances: [{ prompt: 'x' }] }, ctx(controller.signal));
    call.catch(() => undefined);
    expect(await eventually(() => clock.pendingCount === 1, 2000)).toBe(true); // first poll wait scheduled
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pendingCount).toBe(0);
    await clock.advance(600_000);
    expect(server.requests.length).toBe(1);
  });

  it('polls Vertex with fetchPredictOperation and resumes a stored operation without submitting', async () => {
    const clock = new VirtualClock();
    reply = () => ({ status: 200, body: { name: 'projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/9', done: true, response: { videos: [{ gcsUri: 'gs://b/v.mp4', mimeType: 'video/mp4' }] } } });
    http = new HttpClient();
    const v = veoAdapter({ backend: 'vertex', baseUrl: server.url, project: 'p', model: 'veo-3.0-generate-001', clock, http, poll: { initialDelayMs: 1000 } });
    const res = await drive(clock, v.call({ operationName: 'projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/9' }, ctx()));
    expect(res.result.videos).toEqual([{ uri: 'gs://b/v.mp4', mimeType: 'video/mp4' }]);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /v1/projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001:fetchPredictOperation']);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ operationName: 'projects/p/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/9' });
  });
});

describe('veoAdapter against the simulator (shared virtual clock)', () => {
  it('a video, an operation error (INTERNAL -> server_error) and a safety filter, each after the operation time', async () => {
    const { startSimulator } = await import('../../src/simulator/index.js');
    const clock = new VirtualClock();
    const sim = await startSimulator({ keys: [{ name: 'v', secret: SECRET }], clock, operations: { durationMs: 45_000 } });
    const client = new HttpClient();
    try {
      const veo = veoAdapter({ baseUrl: sim.url, model: 'veo-3.0-generate-001', clock, http: client, poll: { initialDelayMs: 10_000, factor: 1.5, maxDelayMs: 30_000 } });
      const start = clock.now();
      const ok = await drive(clock, veo.call({ instances: [{ prompt: 'a lighthouse at dawn' }] }, ctx()));
      expect(ok.result.videos[0]?.uri).toMatch(/:download\?alt=media$/);
      expect(clock.now() - start).toBeGreaterThanOrEqual(45_000);
      const failed = await drive(clock, veo.call({ instances: [{ prompt: 'x [[fault:operation-error]]' }] }, ctx())).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(SluiceError);
      expect((failed as SluiceError).kind).toBe('server_error');
      const filtered = await drive(clock, veo.call({ instances: [{ prompt: 'x [[fault:filtered]]' }] }, ctx())).catch((e: unknown) => e);
      expect((filtered as SluiceError).kind).toBe('content_filtered');
      expect(clock.pendingCount).toBe(0);
      const log = sim.stats().log;
      // One submission per job (polls never resubmit), and polls spaced by the backoff: 10 s, 15 s, 22.5 s.
      expect(log.filter((e) => e.endpoint === 'gemini.predictLongRunning').length).toBe(3);
      const firstPolls = log.filter((e) => e.endpoint === 'gemini.operation').slice(0, 3).map((e) => e.at - start);
      expect(firstPolls).toEqual([10_000, 25_000, 47_500]);
    } finally {
      await client.close();
      await sim.close();
    }
  });
});
