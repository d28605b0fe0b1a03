import { describe, expect, it } from 'vitest';
import { countTextTokens, encodingForModel, estimateTokens, maxOutputTokens } from '../../src/flow/token-estimate.js';

describe('estimateTokens', () => {
  it('uses the real tokenizer for OpenAI models (o200k for gpt-4o and o-series, cl100k for gpt-4 and embeddings)', () => {
    expect(encodingForModel('gpt-4o-mini')).toBe('o200k_base');
    expect(encodingForModel('o3-mini')).toBe('o200k_base');
    expect(encodingForModel('gpt-4-turbo')).toBe('cl100k_base');
    expect(encodingForModel('text-embedding-3-small')).toBe('cl100k_base');
    expect(encodingForModel('claude-sonnet-4')).toBeUndefined();
    // (Only o200k is loaded here: building a rank table takes seconds on a slow machine.)
    expect(countTextTokens('hello world', 'o200k_base')).toBe(2);
  });

  it('chat: message text + framing + max output tokens', () => {
    const payload = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'hello world' }] },
      ],
      max_completion_tokens: 100,
    };
    const text = countTextTokens('You are terse.', 'o200k_base') + countTextTokens('hello world', 'o200k_base');
    expect(estimateTokens(payload)).toBe(text + 2 * 3 + 3 + 100);
  });

  it('responses payloads and input arrays', () => {
    expect(estimateTokens({ model: 'gpt-4.1', input: 'hello world', instructions: 'be brief', max_output_tokens: 50 })).toBe(
      countTextTokens('hello world', 'o200k_base') + countTextTokens('be brief', 'o200k_base') + 50,
    );
    expect(estimateTokens({ model: 'gpt-4o', input: ['hello world', 'hello world'] })).toBe(4);
  });

  it('other providers: ceil(chars / 4) plus their output cap', () => {
    expect(estimateTokens({ model: 'claude-sonnet-4', system: 'abcd', messages: [{ role: 'user', content: 'abcdefghi' }], max_tokens: 10 })).toBe(1 + 3 + 3 + 3 + 10);
    expect(estimateTokens({ contents: [{ role: 'user', parts: [{ text: 'x'.repeat(40) }] }], generationConfig: { maxOutputTokens: 20 } }, 'gemini-2.5-flash')).toBe(10 + 3 + 3 + 20);
    expect(maxOutputTokens({ max_tokens: -5 })).toBe(0);
  });

  it('never throws on odd payloads', () => {
    const cyclic: Record<string, unknown> = { content: 'abcd' };
    cyclic.self = { content: cyclic };
    expect(estimateTokens(cyclic)).toBeGreaterThan(0);
    expect(estimateTokens(null)).toBe(0);
    expect(estimateTokens(42)).toBe(0);
    expect(estimateTokens('abcdefgh')).toBe(2);
  });
});
