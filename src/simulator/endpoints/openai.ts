import { openaiDialect, openaiError } from '../dialects/openai.js';
import type { Dialect } from '../dialects/types.js';
import { replyFor } from '../text.js';
import { embeddingBase64, embeddingFor } from './embedding.js';
import { chatCompletionStream, chatCompletionStreamError, responsesStream, responsesStreamError } from './streams.js';
import type { Endpoint, SuccessContext } from './types.js';

/** A 1x1 transparent PNG, the image every simulated generation returns. */
export const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const contentPolicy = (): ReturnType<Endpoint['filtered']> =>
  openaiError(
    400,
    'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.',
    'invalid_request_error',
    null,
    'content_policy_violation',
  );

/** `POST /v1/chat/completions` body. */
export function chatCompletion(ctx: SuccessContext): unknown {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  return {
    id: `chatcmpl-sim${ctx.id}`,
    object: 'chat.completion',
    created: Math.floor(ctx.now / 1000),
    model: ctx.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: reply.truncated ? 'length' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: ctx.text.inputTokens,
      completion_tokens: reply.tokens,
      total_tokens: ctx.text.inputTokens + reply.tokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_sluicesim',
  };
}

/** `POST /v1/responses` body. */
export function responseObject(ctx: SuccessContext): Record<string, unknown> {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  return {
    id: `resp_sim${ctx.id}`,
    object: 'response',
    created_at: Math.floor(ctx.now / 1000),
    status: reply.truncated ? 'incomplete' : 'completed',
    error: null,
    incomplete_details: reply.truncated ? { reason: 'max_output_tokens' } : null,
    model: ctx.model,
    output: [
      {
        type: 'message',
        id: `msg_sim${ctx.id}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: reply.text, annotations: [] }],
      },
    ],
    usage: {
      input_tokens: ctx.text.inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: reply.tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: ctx.text.inputTokens + reply.tokens,
    },
  };
}

/** `POST /v1/embeddings` body: one vector per input string, base64 when asked (the openai SDK asks by default). */
export function embeddingList(ctx: SuccessContext): unknown {
  const raw = ctx.body['input'];
  const inputs = Array.isArray(raw) ? raw.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [String(raw)];
  const base64 = ctx.body['encoding_format'] === 'base64';
  return {
    object: 'list',
    data: inputs.map((text, index) => {
      const values = embeddingFor(text, ctx.embeddingDimensions, ctx.seed);
      return { object: 'embedding', index, embedding: base64 ? embeddingBase64(values) : values };
    }),
    model: ctx.model,
    usage: { prompt_tokens: ctx.text.inputTokens, total_tokens: ctx.text.inputTokens },
  };
}

/** `POST /v1/images/generations` body: b64_json for gpt-image models or when asked, a URL otherwise. */
export function imageList(ctx: SuccessContext): unknown {
  const n = typeof ctx.body['n'] === 'number' && ctx.body['n'] >= 1 ? Math.min(10, Math.floor(ctx.body['n'])) : 1;
  const b64 = ctx.body['response_format'] === 'b64_json' || ctx.model.startsWith('gpt-image');
  const data = Array.from({ length: n }, (_, i) =>
    b64 ? { b64_json: TINY_PNG_BASE64 } : { url: `${ctx.baseUrl}/_sluice/images/${ctx.id}-${i}.png`, revised_prompt: null },
  );
  const outputTokens = 272 * n;
  return {
    created: Math.floor(ctx.now / 1000),
    data,
    usage: {
      input_tokens: ctx.text.inputTokens,
      input_tokens_details: { text_tokens: ctx.text.inputTokens, image_tokens: 0 },
      output_tokens: outputTokens,
      total_tokens: ctx.text.inputTokens + outputTokens,
    },
  };
}

/** The four OpenAI operations, for a given dialect (OpenAI itself, or Azure which shares the bodies). Chat and Responses stream with `stream: true`. */
export function openaiEndpoints(dialect: Dialect, prefix: string): Record<'chat' | 'responses' | 'embeddings' | 'images', Endpoint> {
  return {
    chat: {
      name: `${prefix}.chat`,
      dialect,
      operation: 'ChatCompletions_Create',
      required: ['model', 'messages'],
      success: chatCompletion,
      stream: chatCompletionStream,
      midStreamError: () => chatCompletionStreamError(dialect.provider),
      filtered: contentPolicy,
    },
    responses: {
      name: `${prefix}.responses`,
      dialect,
      operation: 'Responses_Create',
      required: ['model', 'input'],
      success: responseObject,
      stream: (ctx) => responsesStream(ctx, responseObject(ctx)),
      midStreamError: (ctx, fault, sent) => responsesStreamError(responseObject(ctx), fault, sent),
      filtered: contentPolicy,
    },
    embeddings: { name: `${prefix}.embeddings`, dialect, operation: 'Embeddings_Create', required: ['model', 'input'], success: embeddingList, filtered: contentPolicy },
    images: { name: `${prefix}.images`, dialect, operation: 'ImageGenerations_Create', required: ['prompt'], success: imageList, filtered: contentPolicy },
  };
}

/** OpenAI endpoints keyed by name. */
export const OPENAI = openaiEndpoints(openaiDialect, 'openai');
