import { ANTHROPIC_STREAM_ERROR, AZURE_STREAM_ERROR, OPENAI_RESPONSE_FAILED_ERROR, OPENAI_RESPONSES_ERROR_EVENT_ERROR, OPENAI_STREAM_ERROR } from '../dialects/samples.js';
import type { SimProvider } from '../dialects/types.js';
import { replyFor } from '../text.js';
import type { MidStreamFault, SuccessContext } from './types.js';

/** Splits a reply into a few deltas, as streamed answers arrive. */
function pieces(text: string, size = 16): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** OpenAI `chat.completion.chunk` server-sent events for `stream: true`, ending with `data: [DONE]`. */
export function chatCompletionStream(ctx: SuccessContext): string[] {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const base = { id: `chatcmpl-sim${ctx.id}`, object: 'chat.completion.chunk', created: Math.floor(ctx.now / 1000), model: ctx.model, system_fingerprint: 'fp_sluicesim' };
  const chunk = (delta: unknown, finish: string | null): string =>
    sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const out = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const p of pieces(reply.text)) out.push(chunk({ content: p }, null));
  out.push(chunk({}, reply.truncated ? 'length' : 'stop'));
  const options = ctx.body['stream_options'] as Record<string, unknown> | undefined;
  if (options?.['include_usage'] === true) {
    const usage = { prompt_tokens: ctx.text.inputTokens, completion_tokens: reply.tokens, total_tokens: ctx.text.inputTokens + reply.tokens };
    out.push(sse({ ...base, choices: [], usage }));
  }
  out.push('data: [DONE]\n\n');
  return out;
}

/**
 * A chat completion stream that breaks off: an `{"error": ...}` object on a data line, the form the `openai` SDK
 * throws as an `APIError` without a status. Azure's is corpus azure-sse-overloaded-server-error-proxy22; OpenAI's
 * carries the stream error object of corpus openai-stream-server-error-responses.
 */
export function chatCompletionStreamError(provider: SimProvider): string {
  return sse(provider === 'azure' ? AZURE_STREAM_ERROR : { error: OPENAI_STREAM_ERROR });
}

/**
 * OpenAI Responses API streaming events, as `responses.create({ stream: true })` and `responses.stream()` read
 * them: `response.created`, `response.in_progress`, the output item and content part opened, one
 * `response.output_text.delta` per piece, the closing `.done` events, then `response.completed` (or
 * `response.incomplete` when cut by `max_output_tokens`). Every event carries its `sequence_number`.
 * `final` is the non-streaming answer the events build up to.
 */
export function responsesStream(ctx: SuccessContext, final: Record<string, unknown>): string[] {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const itemId = `msg_sim${ctx.id}`;
  const pending = { ...final, status: 'in_progress', incomplete_details: null, output: [], usage: null };
  const out: string[] = [];
  const emit = (type: string, data: Record<string, unknown>): void => {
    out.push(event(type, { type, sequence_number: out.length, ...data }));
  };
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  emit('response.created', { response: pending });
  emit('response.in_progress', { response: pending });
  emit('response.output_item.added', { output_index: 0, item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
  emit('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
  for (const p of pieces(reply.text)) emit('response.output_text.delta', { ...at, delta: p, logprobs: [] });
  emit('response.output_text.done', { ...at, text: reply.text, logprobs: [] });
  const part = { type: 'output_text', annotations: [], logprobs: [], text: reply.text };
  emit('response.content_part.done', { ...at, part });
  emit('response.output_item.done', { output_index: 0, item: { id: itemId, type: 'message', status: 'completed', content: [part], role: 'assistant' } });
  emit(reply.truncated ? 'response.incomplete' : 'response.completed', { response: final });
  return out;
}

/**
 * How a Responses stream breaks off after `sent` events.
 * - `stream-error`: an `error` event whose fields are nested under `error`, as the API sends it (corpus
 *   openai-responses-stream-error-event-overloaded, with this stream's sequence number); the `openai` SDK throws it
 *   as an `APIError` without a status.
 * - `response-failed`: the terminal `response.failed` event, whose response has `status: "failed"` and the `error`
 *   of corpus openai-responses-stream-response-failed-overloaded (the SDK yields it as an event and throws nothing).
 */
export function responsesStreamError(final: Record<string, unknown>, fault: MidStreamFault, sent: number): string {
  if (fault === 'stream-error') return event('error', { error: OPENAI_RESPONSES_ERROR_EVENT_ERROR, sequence_number: sent, type: 'error' });
  const response = { ...final, status: 'failed', error: OPENAI_RESPONSE_FAILED_ERROR, incomplete_details: null, output: [], usage: null };
  return event('response.failed', { type: 'response.failed', sequence_number: sent, response });
}

/** Anthropic Messages streaming events (`message_start` ... `message_stop`) for `stream: true`. */
export function anthropicMessageStream(ctx: SuccessContext): string[] {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const out = [
    event('message_start', {
      type: 'message_start',
      message: {
        id: `msg_sim${ctx.id}`,
        type: 'message',
        role: 'assistant',
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: ctx.text.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
      },
    }),
    event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  ];
  for (const p of pieces(reply.text)) out.push(event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } }));
  out.push(event('content_block_stop', { type: 'content_block_stop', index: 0 }));
  out.push(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: reply.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: reply.tokens },
    }),
  );
  out.push(event('message_stop', { type: 'message_stop' }));
  return out;
}

/** A streamed refusal: the message opens, then stops with `stop_reason: "refusal"` and no content. */
export function anthropicRefusalStream(ctx: SuccessContext): string[] {
  return anthropicMessageStream(ctx).filter((e) => e.startsWith('event: message_')).map((e) => (e.startsWith('event: message_delta') ? e.replace(/"stop_reason":"[a-z_]+"/, '"stop_reason":"refusal"').replace(/"output_tokens":\d+/, '"output_tokens":0') : e));
}

/**
 * The error event of a broken Anthropic stream, as the streaming docs show it
 * (https://docs.claude.com/en/docs/build-with-claude/streaming, "Error events"): `event: error` with the
 * overloaded_error data of corpus anthropic-sse-error-event-overloaded.
 */
export function anthropicStreamError(): string {
  return `event: error\ndata: ${ANTHROPIC_STREAM_ERROR}\n\n`;
}

/** Gemini `streamGenerateContent?alt=sse`: GenerateContentResponse chunks, usage and finishReason in the last. */
export function generateContentStream(ctx: SuccessContext): string[] {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const parts = pieces(reply.text);
  return parts.map((p, i) => {
    const last = i === parts.length - 1;
    const candidate: Record<string, unknown> = { content: { parts: [{ text: p }], role: 'model' }, index: 0 };
    if (last) candidate['finishReason'] = reply.truncated ? 'MAX_TOKENS' : 'STOP';
    const usage: Record<string, number> = { promptTokenCount: ctx.text.inputTokens, totalTokenCount: ctx.text.inputTokens };
    if (last) {
      usage['candidatesTokenCount'] = reply.tokens;
      usage['totalTokenCount'] = ctx.text.inputTokens + reply.tokens;
    }
    return `data: ${JSON.stringify({ candidates: [candidate], usageMetadata: usage, modelVersion: ctx.model, responseId: `sim${ctx.id}` })}\r\n\r\n`;
  });
}
