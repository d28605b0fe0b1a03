import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { HttpClient } from '../../src/provider/http.js';
import {
  anthropicAdapter,
  azureOpenAIAdapter,
  createProvider,
  geminiAdapter,
  openAICompatibleAdapter,
  type ProviderConfig,
} from '../../src/provider/index.js';
import type { CallContext } from '../../src/provider/types.js';
import { eventually, startScriptedServer, type Reply, type ScriptedServer, type SeenRequest } from './helpers/scripted-server.js';

const SECRET = 'sk-test-SECRET-0123456789';
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
  return { key: { name: 'k1', secret: SECRET }, signal, attempt: 1 };
}

async function failure(p: Promise<unknown>): Promise<SluiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  expect((err as Error).message).not.toContain(SECRET);
  return err as SluiceError;
}

const CHAT_OK = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
};
const OPENAI_LIMIT_HEADERS = {
  'x-ratelimit-limit-requests': '500',
  'x-ratelimit-remaining-requests': '499',
  'x-ratelimit-reset-requests': '120ms',
  'x-ratelimit-limit-tokens': '30000',
  'x-ratelimit-remaining-tokens': '29983',
  'x-ratelimit-reset-tokens': '34ms',
};

describe('openAICompatibleAdapter over HTTP', () => {
  const adapter = (): ReturnType<typeof openAICompatibleAdapter> => {
    http ??= new HttpClient({ connections: 4 });
    return openAICompatibleAdapter({ baseUrl: `${server.url}/v1`, headers: { 'x-title': 'sluice-test' }, http });
  };

  it('posts the body to /chat/completions with the key and extra headers, and returns result, usage and rate-limit snapshot', async () => {
    reply = () => ({ status: 200, headers: OPENAI_LIMIT_HEADERS, body: CHAT_OK });
    const res = await adapter().call({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }, ctx());
    expect(res.status).toBe(200);
    expect(res.result).toEqual(CHAT_OK);
    expect(res.usage).toEqual({ inputTokens: 12, outputTokens: 5 });
    expect(res.rateLimit?.requests?.remaining).toBe(499);
    expect(res.rateLimit?.tokens?.limit).toBe(30000);
    const seen = server.requests[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(seen.headers['x-title']).toBe('sluice-test');
    expect(JSON.parse(seen.body)).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('reuses keep-alive sockets for sequential requests', async () => {
    reply = () => ({ status: 200, body: CHAT_OK });
    const a = adapter();
    const before = server.connectionsAccepted();
    for (let i = 0; i < 10; i++) await a.call({ model: 'm', messages: [] }, ctx());
    expect(server.requests.length).toBe(10);
    // undici may open a second socket while the first is being released; never one per request.
    expect(server.connectionsAccepted() - before).toBeLessThanOrEqual(2);
  });

  it('classifies a 429 with its wait and keeps the rate-limit snapshot of the failed response', async () => {
    reply = () => ({
      status: 429,
      headers: { ...OPENAI_LIMIT_HEADERS, 'x-ratelimit-remaining-requests': '0', 'retry-after-ms': '1500' },
      body: { error: { message: 'Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 1.5s.', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    const err = await failure(adapter().call({ model: 'm', messages: [] }, ctx()));
    expect(err.kind).toBe('rate_limited');
    expect(err.classification.status).toBe(429);
    expect(err.classification.retryAfterMs).toBe(1500);
    expect(err.rateLimit?.requests?.remaining).toBe(0);
  });

  it('classifies insufficient_quota as quota_exhausted and 401 as auth, never echoing the key', async () => {
    reply = () => ({ status: 429, body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } });
    expect((await failure(adapter().call({ model: 'm' }, ctx()))).kind).toBe('quota_exhausted');
    reply = () => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${SECRET}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    const auth = await failure(adapter().call({ model: 'm' }, ctx()));
    expect(auth.kind).toBe('auth');
    expect(auth.classification.retryable).toBe(false);
  });

  it('classifies an HTML 502 page as server_error with the first bytes of the page in the message', async () => {
    reply = () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>' });
    const err = await failure(adapter().call({ model: 'm' }, ctx()));
    expect(err.kind).toBe('server_error');
    expect(err.message).toContain('502 Bad Gateway');
  });

  it.each([
    ['an HTML page', { 'content-type': 'text/html' }, '<!DOCTYPE html><html><body>Maintenance</body></html>', 'Maintenance'],
    ['an empty body', {}, '', 'empty body'],
    ['truncated JSON', {}, '{"id":"chatcmpl-1","choices":[{"index":0,"mess', '{\\"id\\":\\"chatcmpl-1'],
    ['a wrong content type', { 'content-type': 'text/plain' }, 'OK', 'text/plain'],
  ])('turns a 200 with %s into server_error / invalid_response with the body start', async (_label, headers, body, expected) => {
    reply = () => ({ status: 200, headers, body });
    const err = await failure(adapter().call({ model: 'm' }, ctx()));
    expect(err.kind).toBe('server_error');
    expect(err.classification.code).toBe('invalid_response');
    expect(err.classification.retryable).toBe(true);
    expect(err.message).toContain(expected);
  });

  it('classifies a connection reset and a body cut mid-way as network failures', async () => {
    reply = () => ({ action: 'reset' });
    expect((await failure(adapter().call({ model: 'm' }, ctx()))).kind).toBe('network');
    reply = () => ({ action: 'truncate' });
    expect((await failure(adapter().call({ model: 'm' }, ctx()))).kind).toBe('network');
  });

  it('fails a body above the cap as server_error / body_too_large', async () => {
    reply = () => ({ status: 200, body: { data: 'x'.repeat(5000) } });
    http = new HttpClient({ maxBodyBytes: 1000 });
    const a = openAICompatibleAdapter({ baseUrl: `${server.url}/v1`, http });
    const err = await failure(a.call({ model: 'm' }, ctx()));
    expect(err.classification.code).toBe('body_too_large');
  });

  it('aborting mid-request rejects with AbortError and closes the socket on both sides', async () => {
    reply = () => ({ action: 'hang' });
    const a = adapter();
    const controller = new AbortController();
    const pending = a.call({ model: 'm' }, ctx(controller.signal));
    expect(await eventually(() => server.requests.length === 1)).toBe(true);
    controller.abort();
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('AbortError');
    expect(await eventually(() => server.openSockets() === 0)).toBe(true);
    const stats = Object.values(http!.stats());
    expect(stats.every((s) => s.connected === 0 && s.running === 0)).toBe(true);
  });

  it('an already-aborted signal sends nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(adapter().call({ model: 'm' }, ctx(controller.signal))).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.requests.length).toBe(0);
  });

  it('fails a chat completion whose every choice was content-filtered as content_filtered', async () => {
    reply = () => ({ status: 200, body: { ...CHAT_OK, choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' }] } });
    const err = await failure(adapter().call({ model: 'm' }, ctx()));
    expect(err.kind).toBe('content_filtered');
  });

  it('reads embeddings and responses usage', async () => {
    http = new HttpClient();
    reply = () => ({ status: 200, body: { object: 'list', data: [{ embedding: [0.1] }], usage: { prompt_tokens: 8, total_tokens: 8 } } });
    const emb = openAICompatibleAdapter({ baseUrl: server.url, operation: 'embeddings', http });
    expect((await emb.call({ model: 'e', input: 'x' }, ctx())).usage).toEqual({ inputTokens: 8, outputTokens: 0 });
    expect(server.requests.at(-1)?.url).toBe('/embeddings');
    reply = () => ({ status: 200, body: { id: 'resp_1', output: [], usage: { input_tokens: 9, output_tokens: 3 } } });
    const resp = openAICompatibleAdapter({ baseUrl: server.url, operation: 'responses', http });
    expect((await resp.call({ model: 'm', input: 'x' }, ctx())).usage).toEqual({ inputTokens: 9, outputTokens: 3 });
    expect(server.requests.at(-1)?.url).toBe('/responses');
  });

  it('estimates tokens from the text and max output tokens', () => {
    const a = openAICompatibleAdapter({ baseUrl: server.url });
    expect(a.estimateTokens?.({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(400) }], max_tokens: 50 })).toBe(152); // ceil((1 + 4 + 400) / 4) + 50
  });
});

describe('azureOpenAIAdapter', () => {
  it('targets the deployment with api-version and the api-key header; the payload may pick the deployment', async () => {
    http = new HttpClient();
    reply = () => ({ status: 200, body: CHAT_OK });
    const a = azureOpenAIAdapter({ endpoint: server.url, deployment: 'gpt4o', apiVersion: '2024-10-21', http });
    await a.call({ messages: [] }, ctx());
    await a.call({ messages: [], deployment: 'other' }, ctx());
    expect(server.requests[0]?.url).toBe('/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21');
    expect(server.requests[0]?.headers['api-key']).toBe(SECRET);
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
    expect(server.requests[1]?.url).toBe('/openai/deployments/other/chat/completions?api-version=2024-10-21');
    expect(JSON.parse(server.requests[1]!.body)).not.toHaveProperty('deployment');
  });

  it('classifies Azure content filter 400 as content_filtered', async () => {
    http = new HttpClient();
    reply = () => ({
      status: 400,
      body: { error: { message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", type: null, param: 'prompt', code: 'content_filter', status: 400, innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { hate: { filtered: true, severity: 'high' } } } } },
    });
    const a = azureOpenAIAdapter({ endpoint: server.url, deployment: 'd', apiVersion: '2024-10-21', http });
    expect((await failure(a.call({ messages: [] }, ctx()))).kind).toBe('content_filtered');
  });

  it('names the field on bad options', () => {
    expect(() => azureOpenAIAdapter({ endpoint: 'nope', apiVersion: 'v' })).toThrow(/azure\.endpoint/);
    expect(() => azureOpenAIAdapter({ endpoint: server.url, apiVersion: '' })).toThrow(/azure\.apiVersion/);
  });
});

describe('anthropicAdapter', () => {
  it('posts to /v1/messages with x-api-key and anthropic-version, reads usage and anthropic-ratelimit headers', async () => {
    http = new HttpClient();
    reply = () => ({
      status: 200,
      headers: {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '49',
        'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:30Z',
        'anthropic-ratelimit-input-tokens-limit': '30000',
        'anthropic-ratelimit-input-tokens-remaining': '29000',
      },
      body: { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', usage: { input_tokens: 20, cache_creation_input_tokens: 4, output_tokens: 7 } },
    });
    const a = anthropicAdapter({ baseUrl: server.url, http });
    const res = await a.call({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }, ctx());
    expect(res.usage).toEqual({ inputTokens: 24, outputTokens: 7 });
    expect(res.rateLimit?.requests?.remaining).toBe(49);
    expect(server.requests[0]?.url).toBe('/v1/messages');
    expect(server.requests[0]?.headers['x-api-key']).toBe(SECRET);
    expect(server.requests[0]?.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('classifies 529 overloaded_error as overloaded and 429 rate_limit_error with retry-after as rate_limited', async () => {
    http = new HttpClient();
    const a = anthropicAdapter({ baseUrl: server.url, http });
    reply = () => ({ status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    expect((await failure(a.call({ model: 'c', max_tokens: 1, messages: [] }, ctx()))).kind).toBe('overloaded');
    reply = () => ({ status: 429, headers: { 'retry-after': '7' }, body: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } } });
    const err = await failure(a.call({ model: 'c', max_tokens: 1, messages: [] }, ctx()));
    expect(err.kind).toBe('rate_limited');
    expect(err.classification.retryAfterMs).toBe(7000);
  });
});

describe('geminiAdapter', () => {
  const OK = {
    candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 2, totalTokenCount: 16 },
  };

  it('calls models/{model}:generateContent with x-goog-api-key and counts thoughts as output', async () => {
    http = new HttpClient();
    reply = () => ({ status: 200, body: OK });
    const a = geminiAdapter({ baseUrl: server.url, model: 'gemini-2.5-flash', http });
    const res = await a.call({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, ctx());
    expect(res.usage).toEqual({ inputTokens: 10, outputTokens: 6 });
    expect(server.requests[0]?.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(server.requests[0]?.headers['x-goog-api-key']).toBe(SECRET);
  });

  it('calls Vertex with the project path and a bearer token; embedContent on the Gemini API', async () => {
    http = new HttpClient();
    reply = () => ({ status: 200, body: OK });
    const v = createProvider({ type: 'vertex', baseUrl: server.url, project: 'p1', location: 'europe-west4', model: 'gemini-2.5-pro', http });
    await v.call({ contents: [] }, ctx());
    expect(server.requests[0]?.url).toBe('/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent');
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
    reply = () => ({ status: 200, body: { embedding: { values: [0.1, 0.2] } } });
    const e = geminiAdapter({ baseUrl: server.url, operation: 'embedContent', http });
    await e.call({ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'x' }] } }, ctx());
    expect(server.requests[1]?.url).toBe('/v1beta/models/gemini-embedding-001:embedContent');
    expect(JSON.parse(server.requests[1]!.body)).not.toHaveProperty('model');
  });

  it.each([
    ['a blocked prompt', { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] }, usageMetadata: { promptTokenCount: 3 } }, 'SAFETY'],
    ['a candidate stopped for safety with no content', { candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true }] }] }, 'SAFETY'],
    ['a prohibited-content stop', { candidates: [{ content: { parts: [] }, finishReason: 'PROHIBITED_CONTENT' }] }, 'PROHIBITED_CONTENT'],
  ])('fails %s as content_filtered', async (_label, body, code) => {
    http = new HttpClient();
    reply = () => ({ status: 200, body });
    const a = geminiAdapter({ baseUrl: server.url, model: 'g', http });
    const err = await failure(a.call({ contents: [] }, ctx()));
    expect(err.kind).toBe('content_filtered');
    expect(err.classification.code).toBe(code);
  });

  it('classifies RESOURCE_EXHAUSTED with RetryInfo as rate_limited with the wait, and INVALID_ARGUMENT as invalid_request', async () => {
    http = new HttpClient();
    const a = geminiAdapter({ baseUrl: server.url, model: 'g', http });
    reply = () => ({
      status: 429,
      body: {
        error: {
          code: 429,
          message: 'You exceeded your current quota, please check your plan and billing details.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaDimensions: { location: 'global', model: 'gemini-2.0-flash' }, quotaValue: '15' }] },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '43s' },
          ],
        },
      },
    });
    const rl = await failure(a.call({ contents: [] }, ctx()));
    expect(rl.kind).toBe('rate_limited');
    expect(rl.classification.retryAfterMs).toBe(43_000);
    reply = () => ({ status: 400, body: { error: { code: 400, message: '* GenerateContentRequest.contents: contents is not specified', status: 'INVALID_ARGUMENT' } } });
    expect((await failure(a.call({ contents: [] }, ctx()))).kind).toBe('invalid_request');
  });
});

describe('createProvider', () => {
  it('builds each family and rejects bad configs naming the field', () => {
    for (const type of ['openai', 'anthropic', 'gemini', 'veo'] as const) {
      expect(createProvider({ type } as ProviderConfig).name).toBe(type);
    }
    expect(() => createProvider({ type: 'openai-compatible' })).toThrow(/provider\.baseUrl/);
    expect(() => createProvider({ type: 'nope' } as unknown as ProviderConfig)).toThrow(/provider\.type/);
    expect(() => createProvider({ type: 'openai', baseUrl: 'ftp://x' })).toThrow(/openai\.baseUrl/);
    expect(() => createProvider({ type: 'vertex', baseUrl: server.url })).toThrow(/vertex\.project/);
    expect(() => createProvider({ type: 'veo', poll: { factor: 0.5 } })).toThrow(/veo\.poll\.factor/);
  });
});
