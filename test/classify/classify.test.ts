import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classify, classifyResponse } from '../../src/classify/classify.js';
import { ERROR_KINDS, RETRYABLE_BY_DEFAULT, isErrorKind, type Classification } from '../../src/classify/kinds.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { MAX_MESSAGE_LENGTH } from '../../src/classify/message.js';

const NOW = Date.UTC(2026, 0, 1);

function assertValid(c: Classification): void {
  expect(isErrorKind(c.kind)).toBe(true);
  expect(c.retryable).toBe(RETRYABLE_BY_DEFAULT.has(c.kind));
  expect(typeof c.message).toBe('string');
  expect(c.message.length).toBeGreaterThan(0);
  expect(c.message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH + 1);
  for (const [key, value] of Object.entries(c)) expect(value, key).not.toBeUndefined();
  if (c.retryAfterMs !== undefined) expect(Number.isInteger(c.retryAfterMs) && c.retryAfterMs >= 0).toBe(true);
}

describe('classify: inputs', () => {
  it('a SluiceError returns its own classification', () => {
    const classification: Classification = { kind: 'auth', retryable: false, message: 'key revoked' };
    expect(classify(new SluiceError(classification))).toBe(classification);
  });

  it('a SluiceError from another copy of the module is recognised by name and shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'SluiceError', classification: { kind: 'not_found', retryable: false, message: 'clip gone' } });
    expect(classify(foreign)).toMatchObject({ kind: 'not_found', message: 'clip gone' });
    const fake = Object.assign(new Error('x'), { name: 'SluiceError', classification: { kind: 'nonsense' } });
    expect(classify(fake).kind).toBe('unknown');
  });

  it('a wrapper error is unwrapped to the SDK or HTTP error in its cause', () => {
    const inner = Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '3' }, body: '' });
    const wrapped = new Error('job 17 failed', { cause: inner });
    expect(classify(wrapped, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryAfterMs: 3000 });
    expect(classify(new Error('outer', { cause: new Error('inner') })).kind).toBe('unknown');
    expect(classify(new Error('stopped', { cause: new DOMException('aborted', 'AbortError') })).kind).toBe('cancelled');
  });

  it('anything unrecognised is unknown and not retryable', () => {
    for (const failure of [undefined, null, 42, 'weird', Symbol('s'), [], {}, () => 1, { foo: 'bar' }]) {
      const c = classify(failure);
      expect(c.kind).toBe('unknown');
      expect(c.retryable).toBe(false);
      assertValid(c);
    }
  });

  it('a hostile object (throwing getters) does not throw', () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('no'); }, has: () => { throw new Error('no'); }, ownKeys: () => { throw new Error('no'); } });
    assertValid(classify(hostile));
    assertValid(classify({ status: 429, headers: hostile, body: hostile }));
  });

  it('status only', () => {
    expect(classify({ status: 429 })).toMatchObject({ kind: 'rate_limited', status: 429 });
    expect(classify({ status: 503 })).toMatchObject({ kind: 'overloaded' });
    expect(classify({ status: 529 })).toMatchObject({ kind: 'overloaded' });
    expect(classify({ status: 408 })).toMatchObject({ kind: 'timeout' });
    expect(classify({ status: 413 })).toMatchObject({ kind: 'invalid_request' });
    expect(classify({ status: 422 })).toMatchObject({ kind: 'invalid_request' });
    expect(classify({ status: 599 })).toMatchObject({ kind: 'server_error' });
    expect(classify({ status: 302 })).toMatchObject({ kind: 'unknown', retryable: false });
  });

  it('an epoch x-ratelimit-reset is a reset time, not a wait', () => {
    const c = classify({ status: 429, headers: { 'x-ratelimit-reset': '1767225600' }, body: '' }, { now: NOW - 30_000 });
    expect(c.resetAt).toBe(1767225600000);
    expect(c.retryAfterMs).toBeUndefined();
  });

  it('Retry-After as seconds and as HTTP-date; retry-after-ms wins', () => {
    expect(classify({ status: 503, headers: { 'Retry-After': '120' } }, { now: NOW }).retryAfterMs).toBe(120_000);
    expect(classify({ status: 503, headers: { 'Retry-After': 'Thu, 01 Jan 2026 00:01:00 GMT' } }, { now: NOW }).retryAfterMs).toBe(60_000);
    expect(classify({ status: 429, headers: { 'retry-after': '120', 'retry-after-ms': '250' } }, { now: NOW }).retryAfterMs).toBe(250);
    expect(classify({ status: 429, headers: { 'retry-after': 'garbage' } }, { now: NOW }).retryAfterMs).toBeUndefined();
  });

  it('a huge message is truncated and a huge HTML body is summarised', () => {
    const c = classify({ status: 400, body: { error: { message: 'x'.repeat(100_000), type: 'invalid_request_error' } } });
    expect(c.message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH + 1);
    const html = classify({ status: 502, body: `<html>${'<div>oops</div>'.repeat(50_000)}</html>` });
    expect(html.message.startsWith('HTTP 502: <html><div>oops</div>')).toBe(true);
    expect(html.message.length).toBeLessThan(300);
  });

  it('a Response given synchronously is classified by status and headers', () => {
    const res = new Response('{"error":{"message":"x"}}', { status: 429, headers: { 'retry-after': '2' } });
    expect(classify(res, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryAfterMs: 2000 });
  });

  it('a blocked Gemini response object (no status) is content_filtered', () => {
    expect(classify({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } })).toMatchObject({ kind: 'content_filtered', code: 'PROHIBITED_CONTENT' });
  });

  it('axios-style and got-style errors', () => {
    const axiosErr = Object.assign(new Error('Request failed with status code 429'), {
      response: { status: 429, headers: { 'retry-after': '4' }, data: { error: { message: 'slow down', code: 'rate_limit_exceeded' } } },
    });
    expect(classify(axiosErr, { now: NOW })).toMatchObject({ kind: 'rate_limited', retryAfterMs: 4000 });
    const gotErr = Object.assign(new Error('Response code 402'), { response: { statusCode: 402, headers: {}, body: '{"error":{"code":402,"message":"Insufficient credits"}}' } });
    expect(classify(gotErr)).toMatchObject({ kind: 'quota_exhausted', quotaScope: 'billing' });
  });

  it('an error carrying an unread fetch Response (stream body) classifies by status and headers', () => {
    const err = Object.assign(new Error('HTTP 503'), { response: new Response('busy', { status: 503, headers: { 'retry-after': '5' } }) });
    expect(classify(err, { now: NOW })).toMatchObject({ kind: 'overloaded', retryAfterMs: 5000, message: 'HTTP 503 (empty body)' });
  });

  it('provider hint: the declared format is tried first and labels the result', () => {
    const c = classify({ status: 429, body: { error: { message: 'Rate limit', type: 'requests', code: 'rate_limit_exceeded' } } }, { provider: 'openai-compatible' });
    expect(c).toMatchObject({ kind: 'rate_limited', provider: 'openai-compatible' });
  });
});

describe('classify: properties', () => {
  const headerValue = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('0', '1', '-1', 'NaN', '1767225600', '6m0s', 'Thu, 01 Jan 2026 00:00:00 GMT', '1e308'));
  const headers = fc.oneof(
    fc.dictionary(fc.constantFrom('retry-after', 'retry-after-ms', 'x-ratelimit-reset', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', 'anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset', 'x-ms-region', 'other'), headerValue),
    fc.array(fc.tuple(fc.string({ maxLength: 10 }), headerValue), { maxLength: 5 }),
    fc.anything(),
  );
  const errorObject = fc.record(
    {
      code: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constantFrom('429', 'insufficient_quota', 'content_filter', 'rate_limit_exceeded')),
      message: fc.oneof(fc.string({ maxLength: 80 }), fc.anything(), fc.constantFrom('Please try again in 6m0s', 'Limit 10, Requested 20', 'retry after 1e999 seconds')),
      type: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('rate_limit_error', 'overloaded_error', 'insufficient_quota')),
      status: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'INVALID_ARGUMENT')),
      details: fc.anything(),
      metadata: fc.anything(),
      innererror: fc.anything(),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    fc.anything(),
    fc.string({ maxLength: 200 }),
    fc.record({ error: errorObject }),
    fc.record({ error: errorObject }).map((b) => JSON.stringify(b)),
    fc.array(fc.record({ error: errorObject }), { maxLength: 2 }),
    fc.uint8Array({ maxLength: 64 }),
  );
  const status = fc.oneof(fc.integer({ min: 100, max: 599 }), fc.integer(), fc.double(), fc.constant(undefined), fc.string({ maxLength: 4 }));

  it('never throws on arbitrary { status, headers, body } and always returns a valid classification', () => {
    fc.assert(
      fc.property(status, headers, body, fc.constantFrom(undefined, ...(['openai', 'azure', 'anthropic', 'gemini', 'vertex', 'openai-compatible', 'http'] as const)), (s, h, b, provider) => {
        const c = classify({ status: s, headers: h, body: b }, { now: NOW, ...(provider ? { provider } : {}) });
        assertValid(c);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        assertValid(classify(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('every 5xx but 501 (Not Implemented) is a retryable server-side kind', () => {
    fc.assert(
      fc.property(fc.integer({ min: 500, max: 599 }).filter((s) => s !== 501), (s) => ['server_error', 'overloaded', 'timeout'].includes(classify({ status: s }).kind)),
    );
    expect(classify({ status: 501 }).kind).toBe('invalid_request');
    expect(ERROR_KINDS.length).toBe(12);
  });
});

describe('classifyResponse over real HTTP', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/gemini') {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3.5s' }] } }));
      } else if (req.url === '/huge') {
        res.writeHead(500, { 'content-type': 'text/html' });
        // 1 MiB body: only the first 64 KiB is read.
        res.end('<html>' + 'x'.repeat(1024 * 1024));
      } else {
        res.writeHead(503, { 'retry-after': '7' });
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads the body of a fetch Response', async () => {
    const c = await classifyResponse(await fetch(`${base}/gemini`), { now: NOW });
    expect(c).toMatchObject({ kind: 'rate_limited', provider: 'gemini', retryAfterMs: 3500, status: 429 });
  });

  it('an empty body', async () => {
    expect(await classifyResponse(await fetch(`${base}/empty`), { now: NOW })).toMatchObject({ kind: 'overloaded', retryAfterMs: 7000, message: 'HTTP 503 (empty body)' });
  });

  it('a huge body is read only in part', async () => {
    const c = await classifyResponse(await fetch(`${base}/huge`));
    expect(c).toMatchObject({ kind: 'server_error', status: 500 });
    expect(c.message.startsWith('HTTP 500: <html>xxx')).toBe(true);
  });

  it('a body already consumed still classifies by status', async () => {
    const res = await fetch(`${base}/gemini`);
    await res.text();
    expect(await classifyResponse(res)).toMatchObject({ kind: 'rate_limited', status: 429 });
  });
});

describe('daily quota reset time', () => {
  it('a Gemini per-day quota resets at the next midnight Pacific time (DST-aware)', () => {
    const body = {
      error: {
        code: 429,
        message: 'quota',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }] }],
      },
    };
    const at = (iso: string): number | undefined => classify({ status: 429, body }, { now: Date.parse(iso) }).resetAt;
    expect(at('2026-01-01T07:59:59Z')).toBe(Date.parse('2026-01-01T08:00:00Z')); // PST
    expect(at('2026-01-01T08:00:00Z')).toBe(Date.parse('2026-01-02T08:00:00Z'));
    expect(at('2026-07-01T12:00:00Z')).toBe(Date.parse('2026-07-02T07:00:00Z')); // PDT
    expect(at('2026-03-08T09:30:00Z')).toBe(Date.parse('2026-03-09T07:00:00Z')); // DST starts that day
    expect(at('2026-11-01T08:30:00Z')).toBe(Date.parse('2026-11-02T08:00:00Z')); // DST ends that day
  });

  it('a completion object whose choices were all filtered is content_filtered; a normal one is unknown', () => {
    expect(classify({ choices: [{ finish_reason: 'content_filter' }] }).kind).toBe('content_filtered');
    expect(classify({ choices: [{ finish_reason: 'stop' }, { finish_reason: 'content_filter' }] }).kind).toBe('unknown');
  });
});
