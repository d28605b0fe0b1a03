/**
 * The simulator's error bodies are copies of corpus samples (src/simulator/dialects/samples.ts): each copy must
 * still be the sample's body byte for byte (or, for the objects sent inside stream events, the same JSON), so
 * the simulator cannot drift from the ground truth it cites.
 */
import { describe, expect, it } from 'vitest';
import * as S from '../../src/simulator/dialects/samples.js';
import { loadCorpus } from '../fixtures/corpus/index.js';

const corpus = new Map(loadCorpus().map((s) => [s.id, s]));
const body = (id: string): string => {
  const sample = corpus.get(id);
  if (!sample) throw new Error(`no corpus sample ${id}`);
  return sample.body;
};

const VERBATIM: [constant: string, text: string, id: string][] = [
  ['OPENAI_INSUFFICIENT_QUOTA', S.OPENAI_INSUFFICIENT_QUOTA, 'openai-429-insufficient-quota-migpt'],
  ['OPENAI_SERVER_ERROR', S.OPENAI_SERVER_ERROR, 'openai-500-server-error-had-an-error'],
  ['ANTHROPIC_SERVER_ERROR', S.ANTHROPIC_SERVER_ERROR, 'anthropic-500-api-error-cc61368'],
  ['ANTHROPIC_ACCOUNT_RATE_LIMIT', S.ANTHROPIC_ACCOUNT_RATE_LIMIT, 'anthropic-429-account-rate-limit-cc45257'],
  ['ANTHROPIC_OVERLOADED', S.ANTHROPIC_OVERLOADED, 'anthropic-529-overloaded-error'],
  ['ANTHROPIC_CREDIT_BALANCE_TOO_LOW', S.ANTHROPIC_CREDIT_BALANCE_TOO_LOW, 'anthropic-400-credit-balance-too-low-request-id'],
  ['GEMINI_OVERLOADED', S.GEMINI_OVERLOADED, 'gemini-503-model-overloaded-genai-stream'],
  ['GEMINI_STREAM_ERROR_CHUNK', S.GEMINI_STREAM_ERROR_CHUNK, 'gemini-stream-chunk-503-unavailable'],
  ['GEMINI_API_KEY_INVALID', S.GEMINI_API_KEY_INVALID, 'gemini-400-api-key-invalid-genai-stream'],
  ['GEMINI_DAILY_QUOTA', S.GEMINI_DAILY_QUOTA, 'gemini-429-help-only-exceeded-quota-genai-stream'],
  ['VERTEX_DAILY_QUOTA', S.VERTEX_DAILY_QUOTA, 'codeassist-429-gemini-25-pro-requests-per-day'],
  ['ANTHROPIC_STREAM_ERROR', S.ANTHROPIC_STREAM_ERROR, 'anthropic-sse-error-event-overloaded'],
  ['AZURE_CONTENT_FILTER', S.AZURE_CONTENT_FILTER, 'azure-400-content-filter-jailbreak-innererror'],
];

describe('simulator samples: copies of the corpus', () => {
  it.each(VERBATIM)('%s is the body of its sample, byte for byte', (_name, text, id) => {
    expect(text).toBe(body(id));
  });

  it('stream error objects and message templates are those of their samples', () => {
    expect(S.OPENAI_STREAM_ERROR).toEqual((JSON.parse(body('openai-stream-server-error-responses')) as { error: unknown }).error);
    expect(S.AZURE_STREAM_ERROR).toEqual(JSON.parse(body('azure-sse-overloaded-server-error-proxy22')));
    const gemini = JSON.parse(body('gemini-429-minute-input-tokens-retryinfo-26s-genai-stream')) as { error: { message: string } };
    expect(S.GEMINI_QUOTA_MESSAGE).toBe(gemini.error.message);
    expect(S.OPENAI_RESPONSES_ERROR_EVENT_ERROR).toEqual((JSON.parse(body('openai-responses-stream-error-event-overloaded')) as { error: unknown }).error);
    const failed = JSON.parse(body('openai-responses-stream-response-failed-overloaded')) as { response: { error: unknown } };
    expect(S.OPENAI_RESPONSE_FAILED_ERROR).toEqual(failed.response.error);
    const veo = JSON.parse(body('veo-operation-done-rai-audio-filtered')) as { response: { generateVideoResponse: { raiMediaFilteredReasons: string[] } } };
    expect([S.VEO_FILTER_REASON]).toEqual(veo.response.generateVideoResponse.raiMediaFilteredReasons);
    const vertex = JSON.parse(body('vertex-429-quota-exceeded-per-minute-per-base-model-grpc')) as { error: { message: string } };
    expect(S.VERTEX_MINUTE_QUOTA_MESSAGE.replace('{model}', 'gemini-pro')).toBe(vertex.error.message);
  });
});
