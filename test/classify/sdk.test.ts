/**
 * Errors as the real SDKs build them: constructed with the SDKs' own classes, and thrown by real SDK
 * clients calling a loopback server that answers with provider error bodies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { classify } from '../../src/classify/classify.js';

const NOW = Date.UTC(2026, 0, 1);
const FAKE_KEY = 'sk-test-SECRETSECRETSECRET0123456789';

describe('constructed SDK errors', () => {
  it('openai RateLimitError: rate_limit_exceeded with retry-after-ms', () => {
    const err = new OpenAI.RateLimitError(
      429,
      { message: 'Rate limit reached for gpt-4o ... Please try again in 20s.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
      undefined,
      new Headers({ 'retry-after-ms': '1500', 'x-request-id': 'req_1' }),
    );
    expect(classify(err, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryable: true, status: 429, code: 'rate_limit_exceeded', retryAfterMs: 1500, provider: 'openai' });
  });

  it('openai RateLimitError: insufficient_quota', () => {
    const err = new OpenAI.RateLimitError(429, { message: 'You exceeded your current quota.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' }, undefined, new Headers());
    expect(classify(err, { now: NOW })).toMatchObject({ kind: 'quota_exhausted', retryable: false, quotaScope: 'billing' });
  });

  it('openai APIError.generate for 500, 503 and 401', () => {
    expect(classify(OpenAI.APIError.generate(500, { error: { message: 'boom', type: 'server_error' } }, undefined, new Headers()), { now: NOW }).kind).toBe('server_error');
    expect(classify(OpenAI.APIError.generate(503, undefined, undefined, new Headers()), { now: NOW }).kind).toBe('overloaded');
    const auth = classify(OpenAI.APIError.generate(401, { error: { message: `Incorrect API key provided: ${FAKE_KEY}`, code: 'invalid_api_key' } }, undefined, new Headers()), { now: NOW });
    expect(auth.kind).toBe('auth');
    expect(auth.message).not.toContain('SECRETSECRET');
  });

  it('openai connection, timeout and abort errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(classify(new OpenAI.APIConnectionError({ cause: refused }))).toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
    expect(classify(new OpenAI.APIConnectionError({ message: 'Connection error.' }))).toMatchObject({ kind: 'network', retryable: true });
    expect(classify(new OpenAI.APIConnectionTimeoutError())).toMatchObject({ kind: 'timeout', retryable: true });
    expect(classify(new OpenAI.APIUserAbortError())).toMatchObject({ kind: 'cancelled', retryable: false });
  });

  it('anthropic errors carry the whole body', () => {
    const body = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    expect(classify(new Anthropic.InternalServerError(529, body, undefined, new Headers()), { now: NOW })).toMatchObject({ kind: 'overloaded', code: 'overloaded_error', provider: 'anthropic' });
    const limited = new Anthropic.RateLimitError(429, { type: 'error', error: { type: 'rate_limit_error', message: 'rate limited' } }, undefined, new Headers({ 'retry-after': '9' }));
    expect(classify(limited, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryAfterMs: 9000 });
    expect(classify(new Anthropic.APIConnectionTimeoutError())).toMatchObject({ kind: 'timeout' });
    expect(classify(new Anthropic.APIUserAbortError())).toMatchObject({ kind: 'cancelled' });
  });

  it('@google/genai ApiError whose message is the JSON body', () => {
    const body = {
      error: {
        code: 429,
        message: 'Quota exceeded',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
        ],
      },
    };
    const err = new ApiError({ message: JSON.stringify(body), status: 429 });
    expect(classify(err, { now: NOW })).toMatchObject({ kind: 'rate_limited', quotaScope: 'minute', retryAfterMs: 37000, provider: 'gemini', status: 429 });
    const streamed = new ApiError({ message: `got status: RESOURCE_EXHAUSTED. ${JSON.stringify(body)}`, status: 429 });
    expect(classify(streamed, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryAfterMs: 37000 });
    const plain = new ApiError({ message: 'upstream connect error', status: 503 });
    expect(classify(plain, { now: NOW })).toMatchObject({ kind: 'overloaded', message: 'HTTP 503: upstream connect error' });
  });
});

/** A loopback server answering each path with a canned status, headers and body. */
const ROUTES: Record<string, { status: number; headers: Record<string, string>; body: string }> = {
  '/openai/chat/completions': {
    status: 429,
    headers: { 'content-type': 'application/json', 'retry-after': '3' },
    body: JSON.stringify({ error: { message: 'Rate limit reached. Please try again in 20s.', type: 'requests', param: null, code: 'rate_limit_exceeded' } }),
  },
  '/anthropic/v1/messages': {
    status: 529,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
  },
};

function gemini(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
      },
    }),
  );
}

describe('errors thrown by real SDK clients against a loopback server', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      const route = ROUTES[(req.url ?? '').split('?')[0] ?? ''];
      if (route) {
        res.writeHead(route.status, route.headers);
        res.end(route.body);
      } else if ((req.url ?? '').startsWith('/gemini/')) {
        gemini(req, res);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('openai', async () => {
    const client = new OpenAI({ apiKey: FAKE_KEY, baseURL: `${base}/openai`, maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    const c = classify(err, { now: NOW });
    expect(c).toMatchObject({ kind: 'rate_limited', status: 429, code: 'rate_limit_exceeded', retryAfterMs: 3000 });
    expect(JSON.stringify(c)).not.toContain('SECRETSECRET');
  });

  it('anthropic', async () => {
    const client = new Anthropic({ apiKey: FAKE_KEY, baseURL: `${base}/anthropic`, maxRetries: 0 });
    const err = await client.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(classify(err, { now: NOW })).toMatchObject({ kind: 'overloaded', status: 529, code: 'overloaded_error' });
  });

  it('@google/genai', async () => {
    const client = new GoogleGenAI({ apiKey: 'AIzaSyFAKEFAKEFAKEFAKEFAKEFAKEFAKE', httpOptions: { baseUrl: `${base}/gemini/` } });
    const err = await client.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' }).catch((e: unknown) => e);
    const c = classify(err, { now: NOW });
    expect(c).toMatchObject({ kind: 'auth', status: 400, code: 'API_KEY_INVALID', retryable: false });
    expect(c.message).not.toContain('FAKEFAKE');
  });

  it('openai against a closed port: network', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new OpenAI({ apiKey: FAKE_KEY, baseURL: `http://127.0.0.1:${port}`, maxRetries: 0 });
    const err = await client.models.list().catch((e: unknown) => e);
    expect(classify(err)).toMatchObject({ kind: 'network', retryable: true, code: 'ECONNREFUSED' });
  });

  it('openai aborted by the caller: cancelled', async () => {
    const client = new OpenAI({ apiKey: FAKE_KEY, baseURL: `${base}/openai`, maxRetries: 0 });
    const controller = new AbortController();
    controller.abort();
    const err = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(classify(err).kind).toBe('cancelled');
  });
});
