/**
 * The HTTP adapters against the simulator over loopback: successes with usage and rate-limit snapshots,
 * and every injected fault classified (or, for broken bodies, reported with their first bytes).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorKind } from '../../src/classify/kinds.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { anthropicAdapter } from '../../src/provider/anthropic.js';
import { azureOpenAIAdapter } from '../../src/provider/azure-openai.js';
import { geminiAdapter } from '../../src/provider/gemini.js';
import { HttpClient } from '../../src/provider/http.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';
import type { CallContext, ProviderAdapter } from '../../src/provider/types.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from './helpers/scripted-server.js';

const SECRET = 'sk-simadapt-0123456789';
let sim: Simulator;
let http: HttpClient;

beforeAll(async () => {
  sim = await startSimulator({ keys: [{ name: 'k', secret: SECRET, requestsPerMinute: 100_000, tokensPerMinute: 100_000_000 }], seed: 11 });
  http = new HttpClient({ connections: 8 });
});
beforeEach(() => sim.resetStats());
afterAll(async () => {
  await http.close();
  await sim.close();
});

function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { key: { name: 'k', secret: SECRET }, signal, attempt: 1 };
}

interface Family {
  name: string;
  adapter: () => ProviderAdapter<Record<string, unknown>, unknown>;
  payload: (text: string) => Record<string, unknown>;
  /** Kinds of the simulator's answers for the faults whose kind differs between families. */
  kinds?: Partial<Record<string, ErrorKind>>;
  /** Whether the family's rate-limit headers are parsed into a snapshot with a request window. */
  requestWindow: boolean;
}

const FAMILIES: Family[] = [
  {
    name: 'openai',
    adapter: () => openAICompatibleAdapter({ baseUrl: `${sim.url}/v1`, http }),
    payload: (text) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], max_tokens: 16 }),
    requestWindow: true,
  },
  {
    name: 'anthropic',
    adapter: () => anthropicAdapter({ baseUrl: sim.url, http }),
    payload: (text) => ({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: text }] }),
    // Anthropic documents no 503; a 503 is "service unavailable", overloaded like everywhere else (DESIGN.md).
    requestWindow: true,
  },
  {
    name: 'azure',
    adapter: () => azureOpenAIAdapter({ endpoint: sim.url, deployment: 'gpt-4o', apiVersion: '2024-10-21', http }),
    payload: (text) => ({ messages: [{ role: 'user', content: text }], max_tokens: 16 }),
    // Azure answers quota exhaustion with code "429" too; its message ("exceeded the quota of your
    // subscription") tells it apart from a rate limit ("exceeded call rate limit").
    requestWindow: false,
  },
  {
    name: 'gemini',
    adapter: () => geminiAdapter({ baseUrl: sim.url, model: 'gemini-2.5-flash', http }),
    payload: (text) => ({ contents: [{ role: 'user', parts: [{ text }] }], generationConfig: { maxOutputTokens: 16 } }),
    requestWindow: false,
  },
];

const FAULTS: [fault: string, kind: ErrorKind, code?: string][] = [
  ['429', 'rate_limited'],
  ['quota', 'quota_exhausted'],
  ['503', 'overloaded'],
  ['500', 'server_error'],
  ['529', 'overloaded'],
  ['400', 'invalid_request'],
  ['401', 'auth'],
  ['filtered', 'content_filtered'],
  ['reset', 'network'],
  ['html', 'server_error'],
  ['truncated', 'server_error', 'invalid_response'],
  ['malformed', 'server_error', 'invalid_response'],
];

describe.each(FAMILIES)('$name adapter against the simulator', (family) => {
  it('returns the result with usage and a rate-limit snapshot', async () => {
    const res = await family.adapter().call(family.payload('hello simulator'), ctx());
    expect(res.status).toBe(200);
    expect(res.usage?.inputTokens).toBeGreaterThan(0);
    expect(res.usage?.outputTokens).toBeGreaterThan(0);
    if (family.requestWindow) expect(res.rateLimit?.requests?.remaining).toBeTypeOf('number');
    expect(sim.stats().keys.k?.successes).toBe(1);
  });

  it.each(FAULTS)('classifies the %s fault', async (fault, expected, code) => {
    const err = await family
      .adapter()
      .call(family.payload(`hi [[fault:${fault}]]`), ctx())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    const c = (err as SluiceError).classification;
    expect(c.kind, c.message).toBe(family.kinds?.[fault] ?? expected);
    if (code) expect(c.code).toBe(code);
    expect(c.message).not.toContain(SECRET);
    expect(sim.stats().requests).toBe(1);
  });

  it('a 429 carries the wait hint and the snapshot of the failed response', async () => {
    const err = (await family
      .adapter()
      .call(family.payload('[[fault:429]]'), ctx())
      .catch((e: unknown) => e)) as SluiceError;
    expect(err.classification.retryAfterMs).toBeGreaterThan(0);
  });

  it('aborting a hanging request rejects with AbortError and frees the socket', async () => {
    const controller = new AbortController();
    const call = family.adapter().call(family.payload('[[fault:hang]]'), ctx(controller.signal));
    call.catch(() => undefined);
    expect(await eventually(() => sim.stats().requests === 1)).toBe(true);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    const origin = new URL(sim.url).origin;
    expect(await eventually(() => (http.stats()[origin]?.running ?? 0) === 0)).toBe(true);
  });
});
