import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/classify/classify.js';
import { abortError } from '../../src/clock/abort.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('thrown network errors', () => {
  it.each([
    ['ECONNRESET', 'network'],
    ['ECONNREFUSED', 'network'],
    ['EPIPE', 'network'],
    ['ENOTFOUND', 'network'],
    ['EAI_AGAIN', 'network'],
    ['UND_ERR_SOCKET', 'network'],
    ['UND_ERR_CLOSED', 'network'],
    ['ETIMEDOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ])('%s -> %s', (code, kind) => {
    const c = classify(withCode(`boom ${code}`, code));
    expect(c).toMatchObject({ kind, code, retryable: true });
    expect(c.status).toBeUndefined();
  });

  it('fetch failed: the code is found in the cause chain', () => {
    const err = new TypeError('fetch failed', { cause: withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED') });
    expect(classify(err)).toMatchObject({ kind: 'network', code: 'ECONNREFUSED', message: 'fetch failed: connect ECONNREFUSED 127.0.0.1:1' });
  });

  it('fetch failed with an AggregateError cause (happy eyeballs)', () => {
    const agg = new AggregateError([withCode('connect ETIMEDOUT ::1:443', 'ETIMEDOUT'), withCode('connect ETIMEDOUT 1.2.3.4:443', 'ETIMEDOUT')], 'all failed');
    expect(classify(new TypeError('fetch failed', { cause: agg }))).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
  });

  it('fetch failed without any code is still network', () => {
    expect(classify(new TypeError('fetch failed'))).toMatchObject({ kind: 'network', retryable: true });
  });

  it('socket hang up', () => {
    expect(classify(new Error('socket hang up'))).toMatchObject({ kind: 'network' });
    expect(classify(withCode('socket hang up', 'ECONNRESET'))).toMatchObject({ kind: 'network', code: 'ECONNRESET' });
  });

  it('AbortError is cancelled, not retryable', () => {
    expect(classify(new DOMException('This operation was aborted', 'AbortError'))).toMatchObject({ kind: 'cancelled', retryable: false });
    expect(classify(abortError())).toMatchObject({ kind: 'cancelled' });
  });

  it('TimeoutError from AbortSignal.timeout is timeout, also when wrapped in an AbortError', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classify(timeout)).toMatchObject({ kind: 'timeout', retryable: true });
    const controller = new AbortController();
    controller.abort(timeout);
    expect(classify(abortError(controller.signal))).toMatchObject({ kind: 'timeout' });
  });

  it('a cause cycle terminates', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classify(a)).toMatchObject({ kind: 'unknown', retryable: false });
  });

  it('an unknown error is unknown and keeps its (redacted) message', () => {
    const c = classify(new Error('something odd with Authorization: Bearer abc.def.ghi'));
    expect(c).toMatchObject({ kind: 'unknown', retryable: false });
    expect(c.message).not.toContain('abc.def');
  });

  describe('real sockets on loopback', () => {
    let server: Server;
    let url = '';
    beforeAll(async () => {
      server = createServer((req) => {
        // Destroy the socket without answering: the client sees a reset / closed connection.
        req.socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('fetch against a server that drops the connection: network', async () => {
      const err = await fetch(url).catch((e: unknown) => e);
      expect(classify(err)).toMatchObject({ kind: 'network', retryable: true });
    });

    it('fetch cancelled by the caller: cancelled', async () => {
      const controller = new AbortController();
      controller.abort();
      const err = await fetch(url, { signal: controller.signal }).catch((e: unknown) => e);
      expect(classify(err).kind).toBe('cancelled');
    });

    it('fetch with an already-expired AbortSignal.timeout: timeout', async () => {
      const signal = AbortSignal.abort(new DOMException('timed out', 'TimeoutError'));
      const err = await fetch(url, { signal }).catch((e: unknown) => e);
      expect(classify(err).kind).toBe('timeout');
    });
  });
});
