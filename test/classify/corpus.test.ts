/**
 * classify() against the corpus of real provider errors (test/fixtures/corpus): every sample, as the
 * `{ status, headers, body }` the server sent, as the error the official SDK client really throws when
 * the server sends it (the client is given a fetch that answers with the sample), and, where the source
 * shows one, as the SDK error the source shows, must get the right kind, the right retry decision from
 * the default retry policy, the stated server wait, and the right effect on its key in a real KeyPool.
 */
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { classify } from '../../src/classify/classify.js';
import type { Classification } from '../../src/classify/kinds.js';
import { wordingEvidence } from '../../src/classify/evidence.js';
import { defaultRetryPolicy } from '../../src/attempt/policy.js';
import { KeyPool } from '../../src/flow/key-pool.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { loadCorpus, sampleNow, type CorpusSample } from '../fixtures/corpus/index.js';

const corpus = loadCorpus();

/** Targets of issue 11. */
const MIN_SAMPLES = 150;
const MIN_PROVIDERS = 15;
const MIN_WAIT_RATE = 0.95;

interface Outcome {
  kind: boolean;
  retry: boolean;
  /** undefined when the sample states no wait. */
  wait: boolean | undefined;
}
const outcomes = new Map<string, Outcome>();
/** Outcomes through the SDK clients, by sample id. */
const clientOutcomes = new Map<string, Outcome>();

type Client = 'openai' | 'anthropic' | 'genai';

/** The official SDK a user of this provider calls it with (OpenAI-compatible APIs: the openai SDK). */
function clientOf(s: CorpusSample): Client {
  if (['anthropic', 'bedrock', 'antigravity-manager'].includes(s.provider)) return 'anthropic';
  if (['gemini', 'vertex', 'veo', 'anthropic-vertex'].includes(s.provider)) return 'genai';
  return 'openai';
}

/**
 * Whether the openai SDK throws this answer's body away: it keeps only a JSON body's `error` member, so a
 * bare JSON string (xAI), a top-level `message` (Cohere, Mistral's service-tier 429) or a non-JSON body
 * becomes "<status> status code (no body)", and only the status is left to classify. Nothing can read what
 * the SDK discarded; raw HTTP (the built-in adapters) reads these right (the first test of each sample).
 */
function openaiDropsBody(s: CorpusSample): boolean {
  const json = safeJson(s.body);
  return typeof json !== 'object' || json === null || Array.isArray(json) || !('error' in json) || (json as { error: unknown }).error == null;
}
const droppedByOpenaiSdk = new Set<string>();

/** The sample as a fetch Response (the body's framing headers dropped: the text is already decoded). */
function asResponse(s: CorpusSample): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(s.headers)) if (!/^(content-length|content-encoding|transfer-encoding)$/i.test(k)) headers.set(k, v);
  // The sources often show no headers; the providers send JSON bodies as application/json.
  if (!headers.has('content-type') && safeJson(s.body) !== undefined) headers.set('content-type', 'application/json');
  return new Response(s.body, { status: s.status ?? 500, headers });
}

/** What the official SDK client throws when the server answers with this sample (no retries). */
async function clientError(s: CorpusSample, client: Client): Promise<unknown> {
  const fetch = async (): Promise<Response> => asResponse(s);
  const messages = [{ role: 'user' as const, content: 'x' }];
  try {
    if (client === 'openai') {
      await new OpenAI({ apiKey: 'k', baseURL: 'http://stub.invalid/v1', fetch, maxRetries: 0 }).chat.completions.create({ model: 'm', messages });
    } else if (client === 'anthropic') {
      await new Anthropic({ apiKey: 'k', baseURL: 'http://stub.invalid', fetch, maxRetries: 0 }).messages.create({ model: 'm', max_tokens: 1, messages });
    } else {
      // @google/genai takes no fetch option: it calls the global one.
      vi.stubGlobal('fetch', fetch);
      try {
        await new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: 'http://stub.invalid' } }).models.generateContent({ model: 'm', contents: 'x' });
      } finally {
        vi.unstubAllGlobals();
      }
    }
  } catch (error) {
    return error;
  }
  throw new Error(`${s.id}: the ${client} client did not throw`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The error the official SDK throws for this answer, built the way the SDK builds it (status, parsed body, text, headers). */
function sdkError(s: CorpusSample): unknown {
  const status = s.status ?? undefined;
  const json = safeJson(s.body);
  const text = json === undefined ? s.body : undefined;
  switch (s.sdk) {
    case 'openai':
      return OpenAI.APIError.generate(status, json as object | undefined, text, new Headers(s.headers));
    case 'anthropic':
      return Anthropic.APIError.generate(status, json as object | undefined, text, new Headers(s.headers));
    case 'genai': {
      // A stream's error chunk carries its code in the chunk; an HTTP error, the status.
      const code = status ?? (json as { error?: { code?: number } } | undefined)?.error?.code;
      return new ApiError({ message: s.sdkMessage ?? '', status: code ?? 0 });
    }
    default:
      // Other SDKs (the .NET SDK, mistral, aws-sdk-js) are not installed: their message is kept as data.
      return undefined;
  }
}

/** What the key pool does with the key after this classification. */
function keyEffect(c: Classification, now: number): { key: string; until?: number } {
  const clock = new VirtualClock({ start: now });
  const pool = new KeyPool({ keys: [{ name: 'k', secret: 's' }], clock, rejoinTimers: false });
  const effect = pool.reportFailure('k', c, {}, now);
  const key = { cooling: 'cool', parked: 'park', disabled: 'disable', active: 'keep' }[effect.state as string] ?? effect.state;
  return effect.until === undefined ? { key } : { key, until: effect.until };
}

function check(s: CorpusSample, c: Classification, now: number): Outcome {
  const decision = defaultRetryPolicy.decide({ classification: c, attempt: 1, now, random: () => 0.5 });
  const outcome: Outcome = {
    kind: c.kind === s.expected.kind,
    retry: decision.retry === s.expected.retry,
    wait: s.expected.waitMs === undefined ? undefined : c.retryAfterMs === s.expected.waitMs,
  };
  expect({ kind: c.kind, retry: decision.retry }, `${s.id}: ${c.message}`).toEqual({ kind: s.expected.kind, retry: s.expected.retry });
  if (s.expected.waitMs !== undefined) expect(c.retryAfterMs, `${s.id}: the stated wait`).toBe(s.expected.waitMs);
  const effect = keyEffect(c, now);
  expect(effect.key, `${s.id}: key effect`).toBe(s.expected.key);
  if (s.expected.parkUntil !== undefined) expect(new Date(effect.until ?? NaN).toISOString(), `${s.id}: parked until`).toBe(s.expected.parkUntil);
  if (s.expected.parkForMs !== undefined) expect((effect.until ?? NaN) - now, `${s.id}: parked for`).toBe(s.expected.parkForMs);
  // Hygiene holds for real bodies too.
  expect(c.message.length).toBeGreaterThan(0);
  expect(c.message.length).toBeLessThanOrEqual(501);
  return outcome;
}

describe.each(corpus.map((s) => [s.id, s] as const))('%s', (_id, s) => {
  const now = sampleNow(s);

  it('as the answer the server sent', () => {
    const c = classify({ status: s.status ?? undefined, headers: s.headers, body: s.body }, { now });
    outcomes.set(s.id, check(s, c, now));
  });

  if (s.status !== null && (s.transport ?? 'http') === 'http') {
    const client = clientOf(s);
    it(`as the ${client} SDK client throws it`, async () => {
      const error = await clientError(s, client);
      if (client === 'openai' && openaiDropsBody(s)) {
        expect((error as Error).message).toBe(`${s.status} status code (no body)`);
        droppedByOpenaiSdk.add(s.id);
        return;
      }
      clientOutcomes.set(s.id, check(s, classify(error, { now }), now));
    });
  }

  if (s.sdkMessage !== undefined && ['openai', 'anthropic', 'genai'].includes(s.sdk ?? '')) {
    it('as the SDK error the source shows', () => {
      const error = sdkError(s);
      if (s.sdk === 'openai' || s.sdk === 'anthropic') {
        // The corpus's SDK message is what the SDK itself makes of that body.
        expect((error as Error).message).toBe(s.sdkMessage);
      }
      check(s, classify(error, { now }), now);
    });
  }
});

it(`has at least ${MIN_SAMPLES} samples from at least ${MIN_PROVIDERS} providers and gateways`, () => {
  expect(corpus.length).toBeGreaterThanOrEqual(MIN_SAMPLES);
  expect(new Set(corpus.map((s) => s.provider)).size).toBeGreaterThanOrEqual(MIN_PROVIDERS);
});

describe('every wording rule of the classifier cites a corpus sample that has it', () => {
  const byId = new Map(corpus.map((s) => [s.id, s]));
  it.each(wordingEvidence().map((e) => [`${e.rule}: ${e.pattern.source} (${e.sample})`, e] as const))('%s', (_name, e) => {
    const sample = byId.get(e.sample);
    expect(sample, `no corpus sample ${e.sample}`).toBeDefined();
    const text = `${sample?.body ?? ''}\n${sample?.sdkMessage ?? ''}`;
    expect(e.pattern.test(text), `${e.sample} does not contain ${e.pattern}`).toBe(true);
  });
});

afterAll(() => {
  const all = [...outcomes.values()];
  if (all.length < corpus.length) return; // a filtered run measures nothing
  const rate = (xs: boolean[]): number => (xs.length === 0 ? 1 : xs.filter(Boolean).length / xs.length);
  const waits = all.map((o) => o.wait).filter((w): w is boolean => w !== undefined);
  const verbatim = corpus.filter((s) => s.verbatim).map((s) => outcomes.get(s.id)).filter((o): o is Outcome => o !== undefined);
  const line = [
    `corpus: ${corpus.length} samples (${verbatim.length} verbatim) from ${new Set(corpus.map((s) => s.provider)).size} providers`,
    `right kind ${(100 * rate(all.map((o) => o.kind))).toFixed(1)}% (verbatim ${(100 * rate(verbatim.map((o) => o.kind))).toFixed(1)}%)`,
    `right retry decision ${(100 * rate(all.map((o) => o.retry))).toFixed(1)}%`,
    `stated waits read ${waits.filter(Boolean).length}/${waits.length}`,
    `through the SDK clients: ${clientOutcomes.size} read right, ${droppedByOpenaiSdk.size} bodies the openai SDK drops`,
  ].join('; ');
  console.log(line);
  expect(rate(waits)).toBeGreaterThanOrEqual(MIN_WAIT_RATE);
});
