import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { functionAdapter, keyedClients } from '../../src/provider/function.js';
import type { ApiKey, CallContext } from '../../src/provider/types.js';
import { eventually, startScriptedServer, type Reply, type ScriptedServer } from './helpers/scripted-server.js';

const KEY: ApiKey = { name: 'k1', secret: 'sk-fn-SECRET-0123456789' };
let reply: () => Reply = () => ({ status: 200, body: {} });
let server: ScriptedServer;

beforeAll(async () => {
  server = await startScriptedServer(() => reply());
});
afterAll(async () => {
  await server.close();
});

function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { key: KEY, signal, attempt: 1 };
}

const clients = keyedClients((key) => new OpenAI({ apiKey: key.secret, baseURL: `${server.url}/v1`, maxRetries: 0 }));
const chat = functionAdapter(
  async (p: OpenAI.ChatCompletionCreateParamsNonStreaming, { key, signal }: CallContext) => {
    const { data, response } = await clients(key).chat.completions.create(p, { signal }).withResponse();
    return { completion: data, headers: response.headers };
  },
  {
    name: 'openai-sdk',
    provider: 'openai',
    extractUsage: (r) => ({ inputTokens: r.completion.usage?.prompt_tokens ?? 0, outputTokens: r.completion.usage?.completion_tokens ?? 0 }),
    extractHeaders: (r) => r.headers,
    estimateTokens: () => 42,
  },
);
const params: OpenAI.ChatCompletionCreateParamsNonStreaming = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe('functionAdapter with the openai SDK', () => {
  it('returns the result, the extracted usage and the rate-limit snapshot of the response headers', async () => {
    reply = () => ({
      status: 200,
      headers: { 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': '99' },
      body: { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'yo' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
    });
    const res = await chat.call(params, ctx());
    expect(res.result.completion.choices[0]?.message.content).toBe('yo');
    expect(res.usage).toEqual({ inputTokens: 3, outputTokens: 2 });
    expect(res.rateLimit?.requests).toMatchObject({ limit: 100, remaining: 99 });
    expect(chat.estimateTokens?.(params)).toBe(42);
  });

  it("classifies the SDK's 429 error (one request: SDK retries are off) and keeps its rate-limit headers", async () => {
    const before = server.requests.length;
    reply = () => ({
      status: 429,
      headers: { 'x-ratelimit-remaining-requests': '0', 'retry-after-ms': '2000' },
      body: { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    const err = await chat.call(params, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).kind).toBe('rate_limited');
    expect((err as SluiceError).classification.retryAfterMs).toBe(2000);
    expect((err as SluiceError).rateLimit?.requests?.remaining).toBe(0);
    expect((err as SluiceError).cause).toBeInstanceOf(OpenAI.RateLimitError);
    expect(server.requests.length - before).toBe(1);
  });

  it('rethrows an abort as AbortError, not as a classified failure', async () => {
    reply = () => ({ action: 'hang' });
    const before = server.requests.length;
    const controller = new AbortController();
    const p = chat.call(params, ctx(controller.signal));
    expect(await eventually(() => server.requests.length > before)).toBe(true);
    controller.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('classifies plain thrown errors and never leaks the key', async () => {
    const fn = functionAdapter(
      async () => {
        const err = new Error(`connect ECONNREFUSED 127.0.0.1:1 while using ${KEY.secret}`) as Error & { code: string };
        err.code = 'ECONNREFUSED';
        throw err;
      },
      { name: 'raw' },
    );
    const err = (await fn.call({}, ctx()).catch((e: unknown) => e)) as SluiceError;
    expect(err.kind).toBe('network');
    expect(err.message).not.toContain(KEY.secret);
  });

  it('validates its options', () => {
    expect(() => functionAdapter(async () => 1, { name: '' })).toThrow(/options\.name/);
  });
});

describe('keyedClients', () => {
  it('builds one client per key name and rebuilds it when the secret changes', () => {
    let built = 0;
    const get = keyedClients((key) => ({ id: ++built, key: key.name }));
    const a = get({ name: 'a', secret: 's1' });
    expect(get({ name: 'a', secret: 's1' })).toBe(a);
    expect(get({ name: 'b', secret: 's2' })).not.toBe(a);
    expect(get({ name: 'a', secret: 's3' })).not.toBe(a);
    expect(built).toBe(3);
  });
});
