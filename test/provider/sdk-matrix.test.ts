/**
 * The official SDKs (`openai`, `@anthropic-ai/sdk`, `@google/genai`) × operation × fault, against one simulator
 * over loopback HTTP and through `functionAdapter` (with its `provider` named), with the SDK settings the docs
 * recommend (docs/PROVIDERS.md: `maxRetries: 0`; genai's `httpOptions.retryOptions` left unset). Each cell asserts
 * what Sluice makes of the failure: its kind, whether the default retry policy retries it, the wait the server
 * stated, and how many requests reached the server (one per call: no SDK retry multiplies it).
 */
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultRetryPolicy } from '../../src/attempt/policy.js';
import type { ErrorKind, ProviderName } from '../../src/classify/kinds.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { functionAdapter, keyedClients, sdkStreamFailure } from '../../src/provider/function.js';
import type { CallContext, ProviderAdapter } from '../../src/provider/types.js';
import { startSimulator, type FaultType, type Simulator } from '../../src/simulator/index.js';

const SECRET = 'sk-matrix-0123456789abcdef';
const KEY = { name: 'matrix', secret: SECRET };
/** The wait injected 429s state (Retry-After, "try again in", RetryInfo). */
const WAIT_MS = 2000;

let sim: Simulator;
beforeAll(async () => {
  // A per-minute limit far from binding: the key sends rate-limit headers, and every 429 is an injected one.
  sim = await startSimulator({ keys: [{ ...KEY, requestsPerMinute: 1_000_000 }], faultRetryAfterMs: WAIT_MS, operations: { durationMs: 0 } });
});
beforeEach(() => sim.resetStats());
afterAll(async () => {
  await sim.close();
});

const ctx = (): CallContext => ({ key: KEY, signal: new AbortController().signal, attempt: 1 });

// Clients as the docs recommend them: the SDK's own retries off.
const openai = keyedClients((key) => new OpenAI({ apiKey: key.secret, baseURL: `${sim.url}/v1`, maxRetries: 0 }));
const azure = keyedClients((key) => new AzureOpenAI({ apiKey: key.secret, endpoint: sim.url, apiVersion: '2024-10-21', maxRetries: 0 }));
const anthropic = keyedClients((key) => new Anthropic({ apiKey: key.secret, baseURL: sim.url, maxRetries: 0 }));
const genai = keyedClients((key) => new GoogleGenAI({ apiKey: key.secret, httpOptions: { baseUrl: sim.url } }));

type Op = {
  sdk: 'openai' | '@anthropic-ai/sdk' | '@google/genai';
  op: string;
  provider: ProviderName;
  adapter: ProviderAdapter<string, unknown>;
  /** Requests a successful call makes (a Veo job: submit and one poll). */
  requests: number;
  streams?: boolean;
};

const fn = (name: string, provider: ProviderName, call: (prompt: string, c: CallContext) => Promise<unknown>): ProviderAdapter<string, unknown> =>
  functionAdapter(call, { name, provider });

const OPS: Op[] = [
  {
    sdk: 'openai',
    op: 'chat',
    provider: 'openai',
    requests: 1,
    adapter: fn('openai-chat', 'openai', (prompt, { key, signal }) =>
      openai(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }, { signal }).withResponse(),
    ),
  },
  {
    sdk: 'openai',
    op: 'chat stream',
    provider: 'openai',
    requests: 1,
    streams: true,
    adapter: fn('openai-chat-stream', 'openai', async (prompt, { key, signal }) => {
      let text = '';
      for await (const chunk of await openai(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], stream: true }, { signal })) {
        text += chunk.choices[0]?.delta.content ?? '';
      }
      return text;
    }),
  },
  {
    sdk: 'openai',
    op: 'embeddings',
    provider: 'openai',
    requests: 1,
    adapter: fn('openai-embeddings', 'openai', (prompt, { key, signal }) => openai(key).embeddings.create({ model: 'text-embedding-3-small', input: prompt }, { signal }).withResponse()),
  },
  {
    sdk: 'openai',
    op: 'responses',
    provider: 'openai',
    requests: 1,
    adapter: fn('openai-responses', 'openai', (prompt, { key, signal }) => openai(key).responses.create({ model: 'gpt-4.1', input: prompt }, { signal }).withResponse()),
  },
  {
    sdk: 'openai',
    op: 'responses stream',
    provider: 'openai',
    requests: 1,
    streams: true,
    adapter: fn('openai-responses-stream', 'openai', async (prompt, { key, signal }) => {
      let text = '';
      for await (const event of await openai(key).responses.create({ model: 'gpt-4.1', input: prompt, stream: true }, { signal })) {
        // The SDK yields response.failed as an event: the docs' loop turns it into a failure.
        const failure = sdkStreamFailure('openai', event);
        if (failure) throw failure;
        if (event.type === 'response.output_text.delta') text += event.delta;
      }
      return text;
    }),
  },
  {
    sdk: 'openai',
    op: 'AzureOpenAI chat',
    provider: 'azure',
    requests: 1,
    adapter: fn('azure-chat', 'azure', (prompt, { key, signal }) =>
      azure(key).chat.completions.create({ model: 'gpt-4o-deployment', messages: [{ role: 'user', content: prompt }] }, { signal }).withResponse(),
    ),
  },
  {
    sdk: 'openai',
    op: 'AzureOpenAI responses',
    provider: 'azure',
    requests: 1,
    adapter: fn('azure-responses', 'azure', (prompt, { key, signal }) => azure(key).responses.create({ model: 'gpt-4.1', input: prompt }, { signal }).withResponse()),
  },
  {
    sdk: '@anthropic-ai/sdk',
    op: 'messages',
    provider: 'anthropic',
    requests: 1,
    adapter: fn('anthropic-messages', 'anthropic', (prompt, { key, signal }) =>
      anthropic(key).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: prompt }] }, { signal }).withResponse(),
    ),
  },
  {
    sdk: '@anthropic-ai/sdk',
    op: 'messages stream',
    provider: 'anthropic',
    requests: 1,
    streams: true,
    adapter: fn('anthropic-stream', 'anthropic', (prompt, { key, signal }) =>
      anthropic(key).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: prompt }] }, { signal }).finalMessage(),
    ),
  },
  {
    sdk: '@google/genai',
    op: 'generateContent',
    provider: 'gemini',
    requests: 1,
    adapter: fn('gemini-generate', 'gemini', (prompt, { key, signal }) => genai(key).models.generateContent({ model: 'gemini-2.5-flash', contents: prompt, config: { abortSignal: signal } })),
  },
  {
    sdk: '@google/genai',
    op: 'generateContentStream',
    provider: 'gemini',
    requests: 1,
    streams: true,
    adapter: fn('gemini-stream', 'gemini', async (prompt, { key, signal }) => {
      let text = '';
      for await (const chunk of await genai(key).models.generateContentStream({ model: 'gemini-2.5-flash', contents: prompt, config: { abortSignal: signal } })) {
        // A blocked prompt arrives as a chunk with promptFeedback.blockReason: the docs' loop turns it into a failure.
        const failure = sdkStreamFailure('gemini', chunk);
        if (failure) throw failure;
        text += chunk.text ?? '';
      }
      return text;
    }),
  },
  {
    sdk: '@google/genai',
    op: 'embedContent',
    provider: 'gemini',
    requests: 1,
    adapter: fn('gemini-embed', 'gemini', (prompt, { key, signal }) => genai(key).models.embedContent({ model: 'gemini-embedding-001', contents: [prompt], config: { abortSignal: signal } })),
  },
  {
    sdk: '@google/genai',
    op: 'Veo generateVideos',
    provider: 'gemini',
    requests: 2,
    adapter: fn('veo', 'gemini', async (prompt, { key, signal }) => {
      const ai = genai(key);
      let operation = await ai.models.generateVideos({ model: 'veo-3.0-generate-001', prompt, config: { abortSignal: signal } });
      for (let polls = 0; !operation.done && polls < 5; polls++) operation = await ai.operations.getVideosOperation({ operation, config: { abortSignal: signal } });
      return operation;
    }),
  },
];

/** What each fault must come to, whatever the SDK (overridden per SDK below where the providers differ). */
interface Expect {
  kind: ErrorKind;
  retry: boolean;
  /** The server's stated wait, or undefined when it stated none. */
  waitMs?: number;
}
const EXPECTED: Partial<Record<FaultType, Expect>> = {
  '429': { kind: 'rate_limited', retry: true, waitMs: WAIT_MS },
  '429-no-hint': { kind: 'rate_limited', retry: true },
  '429-bare': { kind: 'rate_limited', retry: true },
  '503': { kind: 'overloaded', retry: true },
  '529': { kind: 'overloaded', retry: true },
  '500': { kind: 'server_error', retry: true },
  '400': { kind: 'invalid_request', retry: false },
  '401': { kind: 'auth', retry: false },
  quota: { kind: 'quota_exhausted', retry: false },
  filtered: { kind: 'content_filtered', retry: false },
  // Mid-stream: the corpus samples the simulator sends are overload errors (Responses, Anthropic, Gemini) or
  // OpenAI's server_error object (chat completions).
  'stream-error': { kind: 'overloaded', retry: true },
  'response-failed': { kind: 'overloaded', retry: true },
};

const COMMON: FaultType[] = ['429', '429-no-hint', '429-bare', '503', '500', '400', '401', 'quota'];

function faultsOf(op: Op): FaultType[] {
  const faults = [...COMMON];
  if (op.sdk === '@anthropic-ai/sdk') faults.push('529');
  if (op.op !== 'embeddings' && op.op !== 'embedContent') faults.push('filtered');
  if (op.streams) faults.push('stream-error');
  if (op.op === 'responses stream') faults.push('response-failed');
  return faults;
}

function expectedFor(op: Op, fault: FaultType): Expect {
  if (fault === 'stream-error' && op.op === 'chat stream') return { kind: 'server_error', retry: true };
  // Azure's spent quota states a whole day's wait ("Please retry after 86400 seconds").
  if (fault === 'quota' && op.provider === 'azure') return { kind: 'quota_exhausted', retry: false, waitMs: 86_400_000 };
  return EXPECTED[fault]!;
}

/** Requests the server sees for a fault: the first one fails, except a Veo submit that succeeds and its poll fails. */
const requestsFor = (op: Op, fault: FaultType): number => (op.op === 'Veo generateVideos' && fault === 'filtered' ? 2 : 1);

const CELLS = OPS.flatMap((op) => faultsOf(op).map((fault) => ({ label: `${op.sdk} ${op.op} × ${fault}`, op, fault })));

describe('SDK × operation × fault matrix through functionAdapter', () => {
  it.each(OPS.map((op) => [`${op.sdk} ${op.op}`, op] as const))('%s: succeeds with one call to the server', async (_label, op) => {
    const res = await op.adapter.call('hello matrix', ctx());
    expect(res.result).toBeDefined();
    expect(sim.stats().requests).toBe(op.requests);
    // .withResponse() results: the rate-limit headers of the success reach Sluice.
    if (['chat', 'responses', 'embeddings', 'messages', 'AzureOpenAI chat', 'AzureOpenAI responses'].includes(op.op)) expect(res.rateLimit).toBeDefined();
  });

  it.each(CELLS.map((c) => [c.label, c] as const))('%s', async (_label, { op, fault }) => {
    const err = await op.adapter.call(`a prompt [[fault:${fault}]] for the matrix`, ctx()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the call must fail').toBeInstanceOf(SluiceError);
    const c = (err as SluiceError).classification;
    const want = expectedFor(op, fault);
    const decision = defaultRetryPolicy.decide({ classification: c, attempt: 1, random: () => 0.5 });
    expect({ kind: c.kind, retry: decision.retry, waitMs: c.retryAfterMs }, c.message.slice(0, 300)).toEqual({ kind: want.kind, retry: want.retry, waitMs: want.waitMs });
    if (want.retry && want.waitMs !== undefined) expect(decision.delayMs).toBeGreaterThanOrEqual(want.waitMs);
    expect(c.message).not.toContain(SECRET);
    expect(sim.stats().requests).toBe(requestsFor(op, fault));
  });
});

describe('Veo polls through @google/genai', () => {
  const veo = OPS.find((o) => o.op === 'Veo generateVideos')!;

  it.each([
    ['poll-429', 'rate_limited', WAIT_MS],
    ['poll-503', 'overloaded', undefined],
  ] as const)('a %s on the poll fails the job as %s after the submit and one poll', async (fault, kind, waitMs) => {
    const err = (await veo.adapter.call(`a cat [[fault:${fault}]]`, ctx()).catch((e: unknown) => e)) as SluiceError;
    expect(err).toBeInstanceOf(SluiceError);
    expect({ kind: err.classification.kind, waitMs: err.classification.retryAfterMs }).toEqual({ kind, waitMs });
    expect(sim.stats().log.map((e) => e.status)).toEqual([200, fault === 'poll-429' ? 429 : 503]);
  });
});
