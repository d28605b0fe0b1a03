import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { redactSecrets } from '../../src/classify/redact.js';

describe('redactSecrets', () => {
  it.each([
    ['Incorrect API key provided: sk-proj-AbCdEf0123456789XyZ.', 'AbCdEf0123456789'],
    ['key sk-ant-api03-AAAABBBBCCCCDDDD-eeee is bad', 'AAAABBBBCCCC'],
    ['OpenRouter sk-or-v1-0123456789abcdef0123456789', '0123456789abcdef'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig', 'eyJhbGci'],
    ['GET https://generativelanguage.googleapis.com/v1beta/models?key=AIzaSyA1234567890abcdefghijklmnopqrs', 'AIzaSyA1234567890'],
    ['headers: {"x-api-key": "my-secret-value"}', 'my-secret-value'],
    ['x-api-key: plainsecret123', 'plainsecret123'],
    ['api-key=azurekey0123456789abcdef', 'azurekey0123'],
    ['xai-ABCDEFGHIJKLMNOPQRSTUVWX bad', 'ABCDEFGHIJKLMNOP'],
    ['gsk_ABCDEFGHIJKLMNOPQRSTUVWX bad', 'ABCDEFGHIJKLMNOP'],
    ['password=hunter2hunter2', 'hunter2'],
  ])('%s', (text, secret) => {
    const out = redactSecrets(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('***');
  });

  it('leaves ordinary messages alone', () => {
    const text = 'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000. Please pass a valid API key.';
    expect(redactSecrets(text)).toBe(text);
  });

  it('is idempotent and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const once = redactSecrets(text);
        return redactSecrets(once) === once;
      }),
      { numRuns: 1000 },
    );
    expect(redactSecrets(undefined as unknown as string)).toBe('');
  });

  it('removes any embedded generated key', () => {
    const keyChars = fc.stringMatching(/^[A-Za-z0-9]{16,40}$/);
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), keyChars, fc.constantFrom('sk-', 'sk-proj-', 'AIza', 'Bearer ', 'x-api-key: ', 'key='), fc.string({ maxLength: 40 }), (before, key, prefix, after) => {
        const out = redactSecrets(`${before} ${prefix}${key} ${after}`);
        return !out.includes(key);
      }),
      { numRuns: 1000 },
    );
  });

  it('is linear on hostile input', () => {
    // A catastrophic pattern would not finish; this completes (no timing assertion).
    const hostile = 'sk-' + '-'.repeat(50_000) + ' key=' + 'a'.repeat(50_000) + ' Bearer ' + '='.repeat(50_000);
    expect(redactSecrets(hostile)).toContain('***');
  });
});
