/**
 * Proof of fidelity: the official clients (`openai`, `@anthropic-ai/sdk`, `@google/genai`), pointed at the
 * simulator over loopback with their retries off, parse its successes; the errors they raise for its
 * 429, 529, 503, 400 and 401 answers are classified by `classify()` to the kinds the real answers get.
 */
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classify } from '../../src/classify/classify.js';
import type { ErrorKind, ProviderName } from '../../src/classify/kinds.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const SECRET = 'sk-fidelity-0123456789';
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ keys: [{ name: 'fid', secret: SECRET }], seed: 4 });
});
beforeEach(() => sim.resetStats());
afterAll(async () => {
  await sim.close();
});

/** The kinds the documented real answers get (DESIGN.md, "Error kinds"). 529 is Anthropic's; the others answer it with 503. */
const EXPECTED: [fault: string, kind: ErrorKind][] = [
  ['429', 'rate_limited'],
  ['529', 'overloaded'],
  ['503', 'overloaded'],
  ['400', 'invalid_request'],
  ['401', 'auth'],
];

async function thrown(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the SDK call to fail');
    },
    (e: unknown) => e,
  );
}

function expectClassified(err: unknown, provider: ProviderName, kind: ErrorKind): void {
  const c = classify(err, { provider });
  expect(c.kind, `${String((err as Error).message).slice(0, 200)}`).toBe(kind);
  expect(c.message).not.toContain(SECRET);
  // SDK retries are off: exactly one request reached the server.
  expect(sim.stats().requests).toBe(1);
}

describe('openai SDK against the simulator', () => {
  const client = (): OpenAI => new OpenAI({ apiKey: SECRET, baseURL: `${sim.url}/v1`, maxRetries: 0 });

  it('parses a chat completion and its usage, and an embedding list', async () => {
    const r = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20 });
    expect(typeof r.choices[0]?.message.content).toBe('string');
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    const e = await client().embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(e.data.length).toBe(2);
    expect(Array.isArray(e.data[0]?.embedding)).toBe(true);
  });

  it.each(EXPECTED)('classifies the SDK error of a %s answer as %s', async (fault, kind) => {
    const err = await thrown(client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi [[fault:${fault}]]` }] }));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expectClassified(err, 'openai', kind);
  });

  it('classifies insufficient_quota as quota_exhausted and keeps the 429 wait hint', async () => {
    const quota = await thrown(client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[[fault:quota]]' }] }));
    expect(classify(quota, { provider: 'openai' }).kind).toBe('quota_exhausted');
    sim.resetStats();
    const limited = await thrown(client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[[fault:429]]' }] }));
    expect(classify(limited, { provider: 'openai' }).retryAfterMs).toBeGreaterThan(0);
  });
});

describe('@anthropic-ai/sdk against the simulator', () => {
  const client = (): Anthropic => new Anthropic({ apiKey: SECRET, baseURL: sim.url, maxRetries: 0 });

  it('parses a message and its usage', async () => {
    const r = await client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hello there' }] });
    expect(r.content[0]?.type).toBe('text');
    expect(r.usage.input_tokens).toBeGreaterThan(0);
  });

  // Anthropic documents 529 overloaded_error and 500 api_error, but no 503. A 503 means "service
  // unavailable", read as overloaded as for every provider (DESIGN.md).
  const ANTHROPIC_EXPECTED = EXPECTED;

  it.each(ANTHROPIC_EXPECTED)('classifies the SDK error of a %s answer as %s', async (fault, kind) => {
    const err = await thrown(client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: `hi [[fault:${fault}]]` }] }));
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expectClassified(err, 'anthropic', kind);
  });
});

describe('@google/genai against the simulator', () => {
  // models.* calls do not retry unless httpOptions.retryOptions is set (genai 1.x): leave it unset.
  const client = (): GoogleGenAI => new GoogleGenAI({ apiKey: SECRET, httpOptions: { baseUrl: sim.url } });

  it('parses generateContent with usage', async () => {
    const r = await client().models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello there' });
    expect(typeof r.text).toBe('string');
    expect(r.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
    // models.embedContent calls `:batchEmbedContents`: one vector per content.
    const e = await client().models.embedContent({ model: 'gemini-embedding-001', contents: ['a', 'b'] });
    expect(e.embeddings).toHaveLength(2);
  });

  it.each(EXPECTED)('classifies the SDK error of a %s answer as %s', async (fault, kind) => {
    const err = await thrown(client().models.generateContent({ model: 'gemini-2.5-flash', contents: `hi [[fault:${fault}]]` }));
    expect((err as Error).name).toBe('ApiError');
    expectClassified(err, 'gemini', kind);
  });

  it('with httpOptions.retryOptions set, the SDK loses the status (why the docs say: leave it unset)', async () => {
    const wrapped = new GoogleGenAI({ apiKey: SECRET, httpOptions: { baseUrl: sim.url, retryOptions: { attempts: 1 } } });
    const err = await thrown(wrapped.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi [[fault:429]]' }));
    expect((err as Error).message).toMatch(/Retryable HTTP Error/);
    expect(classify(err, { provider: 'gemini' }).kind).not.toBe('rate_limited');
  });

  it('classifies a safety-blocked answer as content_filtered when read through the Sluice adapter rules', async () => {
    const r = await client().models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi [[fault:filtered]]' });
    // The SDK returns blocked answers as successes; the Gemini adapter turns them into content_filtered.
    const { geminiBlockReason } = await import('../../src/provider/gemini.js');
    expect(geminiBlockReason(r)).toBeTruthy();
  });
});
