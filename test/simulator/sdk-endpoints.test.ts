/**
 * The endpoints the official SDKs call, read by those SDKs: Gemini `:batchEmbedContents` and `:countTokens`,
 * Vertex `:predict` (embeddings) and `:countTokens`, Anthropic `/v1/messages/count_tokens`, Azure
 * `/openai/responses` and `/openai/v1/...`, OpenAI Responses streaming events; and the wire forms of
 * the faults the SDKs see: mid-stream error events, Gemini errors on an SSE endpoint, faulted Veo polls.
 */
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { send } from './helpers.js';

const SECRET = 'sk-endpoints-0123';
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ keys: [{ name: 'e', secret: SECRET }], operations: { durationMs: 0 } });
});
beforeEach(() => sim.resetStats());
afterAll(async () => {
  await sim.close();
});

const endpoints = (): string[] => sim.stats().log.map((e) => e.endpoint);

describe('simulator: endpoints the official SDKs call', () => {
  it('@google/genai embedContent (:batchEmbedContents, one vector per content) and countTokens', async () => {
    const ai = new GoogleGenAI({ apiKey: SECRET, httpOptions: { baseUrl: sim.url } });
    const emb = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['first text', 'second text'] });
    expect(emb.embeddings).toHaveLength(2);
    expect(emb.embeddings?.[0]?.values).toHaveLength(8);
    expect(emb.embeddings?.[0]?.values).not.toEqual(emb.embeddings?.[1]?.values);
    const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'sixteen chars!!!' });
    expect(counted.totalTokens).toBe(4);
    expect(endpoints()).toEqual(['gemini.batchEmbedContents', 'gemini.countTokens']);
  });

  it('@google/genai on Vertex: embedContent (:predict) and countTokens', async () => {
    const ai = new GoogleGenAI({ vertexai: true, project: 'p', location: 'us-central1', httpOptions: { baseUrl: sim.url, headers: { authorization: `Bearer ${SECRET}` } }, googleAuthOptions: { credentials: { client_email: 'x@y', private_key: 'k' } } });
    // The SDK would fetch an OAuth token; give it the bearer header directly instead.
    const apiClient = (ai as unknown as { apiClient: { clientOptions: { auth: { addAuthHeaders: (h: Headers) => Promise<void> } } } }).apiClient;
    apiClient.clientOptions.auth = { addAuthHeaders: async () => undefined };
    const emb = await ai.models.embedContent({ model: 'text-embedding-005', contents: ['one', 'two', 'three'] });
    expect(emb.embeddings).toHaveLength(3);
    expect(emb.embeddings?.[0]?.statistics?.tokenCount).toBe(1);
    const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'eight ch' });
    expect(counted.totalTokens).toBe(2);
    expect(endpoints()).toEqual(['vertex.predict', 'vertex.countTokens']);
  });

  it('@anthropic-ai/sdk messages.countTokens (/v1/messages/count_tokens)', async () => {
    const client = new Anthropic({ apiKey: SECRET, baseURL: sim.url, maxRetries: 0 });
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'twelve chars' }] });
    expect(counted).toEqual({ input_tokens: 3 });
    expect(endpoints()).toEqual(['anthropic.countTokens']);
  });

  it('AzureOpenAI responses (/openai/responses?api-version) and the OpenAI client on /openai/v1/', async () => {
    const azure = new AzureOpenAI({ apiKey: SECRET, endpoint: sim.url, apiVersion: '2025-04-01-preview', maxRetries: 0 });
    expect((await azure.responses.create({ model: 'gpt-4.1', input: 'hello azure responses' })).output_text).toContain('hello azure responses');
    const v1 = new OpenAI({ apiKey: SECRET, baseURL: `${sim.url}/openai/v1/`, maxRetries: 0 });
    expect((await v1.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi v1' }] })).choices[0]?.message.content).toContain('hi v1');
    expect((await v1.responses.create({ model: 'gpt-4.1', input: 'resp v1' })).output_text).toContain('resp v1');
    expect((await v1.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] })).data).toHaveLength(2);
    expect(endpoints()).toEqual(['azure.responses', 'azure.v1.chat', 'azure.v1.responses', 'azure.v1.embeddings']);
    // The deployment routes still need the api-version; the v1 ones do not.
    const noVersion = await send(sim, '/openai/responses', { body: { model: 'm', input: 'x' }, headers: { 'api-key': SECRET } });
    expect(noVersion.status).toBe(404);
  });

  it('OpenAI Responses streaming: real SSE events that responses.create({stream}) and responses.stream() yield', async () => {
    const client = new OpenAI({ apiKey: SECRET, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const types: string[] = [];
    let text = '';
    for await (const ev of await client.responses.create({ model: 'gpt-4.1', input: 'stream this responses answer please', stream: true })) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      expect(ev.sequence_number).toBe(types.length - 1);
    }
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toContain('stream this responses answer please');
    const final = await client.responses.stream({ model: 'gpt-4.1', input: 'helper stream' }).finalResponse();
    expect(final.output_text).toContain('helper stream');
    expect(final.usage?.input_tokens).toBe(4);
    // Cut by max_output_tokens: the stream ends with response.incomplete.
    const cut: string[] = [];
    for await (const ev of await client.responses.create({ model: 'gpt-4.1', input: 'a long prompt to be cut short', max_output_tokens: 2, stream: true })) cut.push(ev.type);
    expect(cut.at(-1)).toBe('response.incomplete');
  });
});

describe('simulator: fault forms the SDKs see', () => {
  it('mid-stream errors: OpenAI chat data error, Responses error / response.failed events, Anthropic event: error, a Gemini error chunk', async () => {
    const openai = new OpenAI({ apiKey: SECRET, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x [[fault:stream-error]]' }], stream: true });
    let chunks = 0;
    const chatError = await (async () => {
      for await (const _ of chat) chunks++;
    })().catch((e: unknown) => e);
    expect(chunks).toBeGreaterThan(0); // the answer had begun
    expect(chatError).toBeInstanceOf(OpenAI.APIError);
    expect((chatError as InstanceType<typeof OpenAI.APIError>).status).toBeUndefined();
    expect((chatError as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'server_error' });

    const respError = await (async () => {
      for await (const _ of await openai.responses.create({ model: 'm', input: 'x [[fault:stream-error]]', stream: true }));
    })().catch((e: unknown) => e);
    expect((respError as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'service_unavailable_error', code: 'server_is_overloaded' });

    const failed: { type: string; response?: { status?: string; error?: { code?: string } | null } }[] = [];
    for await (const ev of await openai.responses.create({ model: 'm', input: 'x [[fault:response-failed]]', stream: true })) failed.push(ev as (typeof failed)[number]);
    expect(failed.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_is_overloaded' } } });

    const anthropic = new Anthropic({ apiKey: SECRET, baseURL: sim.url, maxRetries: 0 });
    const claudeError = await anthropic.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'x [[fault:stream-error]]' }] })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(claudeError).toBeInstanceOf(Anthropic.APIError);
    expect((claudeError as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: 'error', error: { details: null, type: 'overloaded_error', message: 'Overloaded' } });

    const ai = new GoogleGenAI({ apiKey: SECRET, httpOptions: { baseUrl: sim.url } });
    let geminiChunks = 0;
    const geminiError = await (async () => {
      for await (const _ of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x [[fault:stream-error]] and a longer prompt' })) geminiChunks++;
    })().catch((e: unknown) => e);
    expect(geminiChunks).toBeGreaterThan(0);
    expect((geminiError as Error).message).toMatch(/^got status: UNAVAILABLE\. \{"error":\{"code":503/);
    expect(Object.values(sim.stats().keys)[0]?.statuses).toEqual({ '200': 5 });
  });

  it('a non-streaming request with a mid-stream fault gets the 500 answer', async () => {
    const res = await send(sim, '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: '[[fault:stream-error]]' }] }, headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.status).toBe(500);
  });

  it('Gemini errors on streamGenerateContent?alt=sse come as indented JSON under text/event-stream (what the SDK wraps as text)', async () => {
    const res = await send(sim, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { body: { contents: [{ parts: [{ text: '[[fault:429]]' }] }] }, headers: { 'x-goog-api-key': SECRET } });
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.text.startsWith('{\n  "error": {\n    "code": 429,\n')).toBe(true);
    const plain = await send(sim, '/v1beta/models/gemini-2.5-flash:generateContent', { body: { contents: [{ parts: [{ text: '[[fault:429]]' }] }] }, headers: { 'x-goog-api-key': SECRET } });
    expect(plain.headers['content-type']).toBe('application/json; charset=UTF-8');
    const ai = new GoogleGenAI({ apiKey: SECRET, httpOptions: { baseUrl: sim.url } });
    const err = await (async () => {
      for await (const _ of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: '[[fault:429]]' }));
    })().catch((e: unknown) => e);
    const outer = JSON.parse((err as Error).message) as { error: { message: string; code: number } };
    expect(outer.error.code).toBe(429);
    expect(JSON.parse(outer.error.message)).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
  });

  it('429-bare carries no rate-limit header at all; 429 carries retry-after but no retry-after-ms (Azure only)', async () => {
    // A limit far from binding whatever the algorithm: the 429s are the injected ones.
    const limited = await startSimulator({ keys: [{ secret: 'sk-l', requestsPerMinute: 600_000 }] });
    try {
      const call = (marker: string) => send(limited, '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: marker }] }, headers: { authorization: 'Bearer sk-l' } });
      const hinted = await call('[[fault:429]]');
      expect(hinted.headers['retry-after']).toBe('1');
      expect(hinted.headers['retry-after-ms']).toBeUndefined();
      expect(hinted.headers['x-ratelimit-limit-requests']).toBe('600000');
      const bare = await call('[[fault:429-bare]]');
      expect(bare.status).toBe(429);
      expect(Object.keys(bare.headers).filter((h) => h.startsWith('x-ratelimit') || h.startsWith('retry-after'))).toEqual([]);
      const azure = await send(limited, '/openai/deployments/d/chat/completions?api-version=2024-10-21', { body: { messages: [{ role: 'user', content: '[[fault:429]]' }] }, headers: { 'api-key': 'sk-l' } });
      expect(azure.headers['retry-after-ms']).toBe('1000');
    } finally {
      await limited.close();
    }
  });

  it('Veo: the first poll of an operation answers 429 or 503, the next one the finished operation', async () => {
    const h = { 'x-goog-api-key': SECRET };
    for (const [fault, status] of [['poll-429', 429], ['poll-503', 503]] as const) {
      const submitted = await send(sim, '/v1beta/models/veo-3.0-generate-001:predictLongRunning', { body: { instances: [{ prompt: `a cat [[fault:${fault}]]` }] }, headers: h });
      const name = (submitted.json() as { name: string }).name;
      const first = await send(sim, `/v1beta/${name}`, { headers: h });
      expect(first.status).toBe(status);
      const second = await send(sim, `/v1beta/${name}`, { headers: h });
      expect(second.json()).toMatchObject({ done: true, response: { generateVideoResponse: { generatedSamples: [{ video: {} }] } } });
    }
    expect(Object.values(sim.stats().keys)[0]?.faults).toEqual({ 'poll-429': 1, 'poll-503': 1 });
  });
});
