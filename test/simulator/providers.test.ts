import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { send } from './helpers.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  sim = await startSimulator({ keys: [{ name: 'k', secret: 'secret-k' }], ...options });
  return sim;
}

const anthropicHeaders = { 'x-api-key': 'secret-k', 'anthropic-version': '2023-06-01' };
const claude = (content: string) => ({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content }] });
const gemini = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

describe('simulator: Anthropic', () => {
  it('answers messages with usage and anthropic-ratelimit headers (RFC 3339 resets)', async () => {
    // The sliding window this test's remainders were written for (the default token bucket bursts one second's worth).
    const s = await start({ limits: { requestsPerMinute: 50, tokensPerMinute: 10_000 }, limiter: { algorithm: 'sliding-window' } });
    const res = await send(s, '/v1/messages', { body: claude('abcd'.repeat(5)), headers: anthropicHeaders });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn', usage: { input_tokens: 5 } });
    expect(res.headers['anthropic-ratelimit-requests-limit']).toBe('50');
    expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('49');
    expect(res.headers['anthropic-ratelimit-tokens-remaining']).toBe(String(10_000 - 5 - 64));
    expect(res.headers['anthropic-ratelimit-requests-reset']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('gives Anthropic error envelopes: 401, missing version, missing field, invalid JSON, 429, 529', async () => {
    const s = await start({ limits: { requestsPerMinute: 1 } });
    const bad = await send(s, '/v1/messages', { body: claude('x'), headers: { 'x-api-key': 'nope', 'anthropic-version': '2023-06-01' } });
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    expect(bad.headers['request-id']).toMatch(/^req_/);
    const noVersion = await send(s, '/v1/messages', { body: claude('x'), headers: { 'x-api-key': 'secret-k' } });
    expect(noVersion.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
    const noMax = await send(s, '/v1/messages', { body: { model: 'm', messages: [] }, headers: anthropicHeaders });
    expect(noMax.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });
    const notJson = await send(s, '/v1/messages', { body: 'nope{', headers: anthropicHeaders });
    expect(notJson.status).toBe(400);
    expect(notJson.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((await send(s, '/v1/messages', { body: claude('ok'), headers: anthropicHeaders })).status).toBe(200);
    const limited = await send(s, '/v1/messages', { body: claude('again'), headers: anthropicHeaders });
    expect(limited.status).toBe(429);
    expect(limited.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    s.resetStats();
    const overloaded = await send(s, '/v1/messages', { body: claude('[[fault:529]]'), headers: anthropicHeaders });
    expect(overloaded.status).toBe(529);
    expect(overloaded.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });
});

describe('simulator: Gemini and Vertex', () => {
  it('answers generateContent and embedContent (key in header or ?key=)', async () => {
    const s = await start();
    const res = await send(s, '/v1beta/models/gemini-2.5-flash:generateContent', { body: gemini('hello gemini'), headers: { 'x-goog-api-key': 'secret-k' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=UTF-8');
    const body = res.json() as { candidates: { content: { parts: { text: string }[] } }[]; usageMetadata: Record<string, number> };
    expect(body.candidates[0]!.content.parts[0]!.text).toContain('hello gemini');
    expect(body.usageMetadata['promptTokenCount']).toBe(3);
    const emb = await send(s, '/v1beta/models/text-embedding-004:embedContent?key=secret-k', { body: { content: { parts: [{ text: 'a' }] } } });
    expect((emb.json() as { embedding: { values: number[] } }).embedding.values).toHaveLength(8);
  });

  it('sends RESOURCE_EXHAUSTED with QuotaFailure per minute and RetryInfo, or per day without waiting a minute', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, limits: { requestsPerMinute: 1, requestsPerDay: 2 } });
    const url = '/v1beta/models/gemini-2.0-flash:generateContent';
    const h = { 'x-goog-api-key': 'secret-k' };
    expect((await send(s, url, { body: gemini('a'), headers: h })).status).toBe(200);
    const minute = await send(s, url, { body: gemini('b'), headers: h });
    const minuteDetails = (minute.json() as { error: { details: Record<string, unknown>[] } }).error.details;
    expect(minuteDetails[0]).toMatchObject({ violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }] });
    expect(minuteDetails[2]).toEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '60s' });
    await clock.advance(60_000);
    expect((await send(s, url, { body: gemini('b'), headers: h })).status).toBe(200);
    const day = await send(s, url, { body: gemini('c'), headers: h });
    expect(day.status).toBe(429);
    const err = (day.json() as { error: { code: number; status: string; details: Record<string, unknown>[] } }).error;
    expect(err.code).toBe(429);
    expect(err.status).toBe('RESOURCE_EXHAUSTED');
    expect(err.details[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }] });
    expect(err.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo')).toMatchObject({ retryDelay: expect.stringMatching(/^\d+(\.\d+)?s$/) as unknown });
  });

  it('gives Gemini auth and 400 shapes, and Vertex 401', async () => {
    const s = await start();
    const url = '/v1beta/models/gemini-2.0-flash:generateContent';
    const none = await send(s, url, { body: gemini('a') });
    expect(none.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    const invalid = await send(s, url, { body: gemini('a'), headers: { 'x-goog-api-key': 'wrong' } });
    expect(invalid.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }, { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage' }] } });
    const noContents = await send(s, url, { body: {}, headers: { 'x-goog-api-key': 'secret-k' } });
    expect(noContents.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    const vertex = '/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent';
    expect((await send(s, vertex, { body: gemini('a'), headers: { authorization: 'Bearer secret-k' } })).status).toBe(200);
    const v401 = await send(s, vertex, { body: gemini('a'), headers: { authorization: 'Bearer bad' } });
    expect(v401.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
  });

  it('runs Veo operations to a video, an error, or a safety filter', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, operations: { durationMs: 30_000 } });
    const h = { 'x-goog-api-key': 'secret-k' };
    const submit = async (prompt: string): Promise<string> => {
      const res = await send(s, '/v1beta/models/veo-3.0-generate-001:predictLongRunning', { body: { instances: [{ prompt }], parameters: {} }, headers: h });
      expect(res.status).toBe(200);
      return (res.json() as { name: string }).name;
    };
    const ok = await submit('a dog');
    const failed = await submit('a cat [[fault:operation-error]]');
    const filtered = await submit('a bird [[fault:filtered]]');
    expect(ok).toMatch(/^models\/veo-3\.0-generate-001\/operations\/sim/);
    expect((await send(s, `/v1beta/${ok}`, { headers: h })).json()).toEqual({ name: ok });
    await clock.advance(30_000);
    const done = (await send(s, `/v1beta/${ok}`, { headers: h })).json() as { done: boolean; response: { generateVideoResponse: { generatedSamples: { video: { uri: string } }[] } } };
    expect(done.done).toBe(true);
    const uri = done.response.generateVideoResponse.generatedSamples[0]!.video.uri;
    expect((await send(s, uri.slice(s.url.length), { headers: h })).status).toBe(200);
    expect((await send(s, `/v1beta/${failed}`, { headers: h })).json()).toMatchObject({ done: true, error: { code: 13 } });
    expect((await send(s, `/v1beta/${filtered}`, { headers: h })).json()).toMatchObject({ done: true, response: { generateVideoResponse: { raiMediaFilteredCount: 1 } } });
    expect((await send(s, '/v1beta/models/veo/operations/none', { headers: h })).json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});

describe('simulator: Vertex Veo', () => {
  it('submits with predictLongRunning and polls with fetchPredictOperation', async () => {
    const clock = new VirtualClock();
    const s = await start({ clock, operations: { durationMs: 1000 } });
    const base = '/v1/projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001';
    const h = { authorization: 'Bearer secret-k' };
    const submitted = await send(s, `${base}:predictLongRunning`, { body: { instances: [{ prompt: 'a fox' }] }, headers: h });
    const name = (submitted.json() as { name: string }).name;
    expect(name).toMatch(/^projects\/p1\/locations\/us-central1\/publishers\/google\/models\/veo-3\.0-generate-001\/operations\/sim/);
    const poll = () => send(s, `${base}:fetchPredictOperation`, { body: { operationName: name }, headers: h });
    expect((await poll()).json()).toEqual({ name });
    await clock.advance(1000);
    const done = (await poll()).json() as { done: boolean; response: { videos: { bytesBase64Encoded: string; mimeType: string }[] } };
    expect(done.done).toBe(true);
    expect(done.response.videos[0]!.mimeType).toBe('video/mp4');
    const unknown = await send(s, `${base}:fetchPredictOperation`, { body: { operationName: `${base.slice(4)}/operations/nope` }, headers: h });
    expect(unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});

describe('simulator: Azure OpenAI', () => {
  it('answers deployments with OpenAI bodies, and Azure 401, 404 and 429 shapes with retry-after-ms', async () => {
    const s = await start({ limits: { requestsPerMinute: 1 } });
    const url = '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21';
    const body = { messages: [{ role: 'user', content: 'hi' }] };
    const ok = await send(s, url, { body, headers: { 'api-key': 'secret-k' } });
    expect(ok.json()).toMatchObject({ object: 'chat.completion', model: 'gpt4o' });
    expect(ok.headers['x-ratelimit-remaining-requests']).toBe('0');
    const limited = await send(s, url, { body, headers: { 'api-key': 'secret-k' } });
    expect(limited.status).toBe(429);
    const err = limited.json() as { error: { code: string; message: string } };
    expect(err.error.code).toBe('429');
    expect(err.error.message).toMatch(/^Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit .* Please retry after \d+ seconds?\./);
    expect(Number(limited.headers['retry-after-ms'])).toBeGreaterThan(0);
    const unauthorized = await send(s, url, { body, headers: { 'api-key': 'bad' } });
    expect(unauthorized.json()).toEqual({ error: { code: '401', message: expect.stringContaining('Access denied due to invalid subscription key') as unknown } });
    const noVersion = await send(s, '/openai/deployments/gpt4o/chat/completions', { body, headers: { 'api-key': 'secret-k' } });
    expect(noVersion.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
  });
});
