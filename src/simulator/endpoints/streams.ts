import { replyFor } from '../text.js';
import type { SuccessContext } from './types.js';

/** Splits a reply into a few deltas, as streamed answers arrive. */
function pieces(text: string, size = 16): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** OpenAI `chat.completion.chunk` server-sent events for `stream: true`, ending with `data: [DONE]`. */
export function chatCompletionStream(ctx: SuccessContext): string {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const base = { id: `chatcmpl-sim${ctx.id}`, object: 'chat.completion.chunk', created: Math.floor(ctx.now / 1000), model: ctx.model, system_fingerprint: 'fp_sluicesim' };
  const chunk = (delta: unknown, finish: string | null): string =>
    sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  let out = chunk({ role: 'assistant', content: '', refusal: null }, null);
  for (const p of pieces(reply.text)) out += chunk({ content: p }, null);
  out += chunk({}, reply.truncated ? 'length' : 'stop');
  const options = ctx.body['stream_options'] as Record<string, unknown> | undefined;
  if (options?.['include_usage'] === true) {
    const usage = { prompt_tokens: ctx.text.inputTokens, completion_tokens: reply.tokens, total_tokens: ctx.text.inputTokens + reply.tokens };
    out += sse({ ...base, choices: [], usage });
  }
  return `${out}data: [DONE]\n\n`;
}

/** Anthropic Messages streaming events (`message_start` ... `message_stop`) for `stream: true`. */
export function anthropicMessageStream(ctx: SuccessContext): string {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  let out = event('message_start', {
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
  });
  out += event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  for (const p of pieces(reply.text)) out += event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } });
  out += event('content_block_stop', { type: 'content_block_stop', index: 0 });
  out += event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: reply.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: reply.tokens },
  });
  return out + event('message_stop', { type: 'message_stop' });
}

/** Gemini `streamGenerateContent?alt=sse`: GenerateContentResponse chunks, usage and finishReason in the last. */
export function generateContentStream(ctx: SuccessContext): string {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  const parts = pieces(reply.text);
  let out = '';
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const candidate: Record<string, unknown> = { content: { parts: [{ text: p }], role: 'model' }, index: 0 };
    if (last) candidate['finishReason'] = reply.truncated ? 'MAX_TOKENS' : 'STOP';
    const usage: Record<string, number> = { promptTokenCount: ctx.text.inputTokens, totalTokenCount: ctx.text.inputTokens };
    if (last) {
      usage['candidatesTokenCount'] = reply.tokens;
      usage['totalTokenCount'] = ctx.text.inputTokens + reply.tokens;
    }
    out += `data: ${JSON.stringify({ candidates: [candidate], usageMetadata: usage, modelVersion: ctx.model, responseId: `sim${ctx.id}` })}\r\n\r\n`;
  });
  return out;
}
