import { anthropicDialect } from '../dialects/anthropic.js';
import { jsonReply } from '../dialects/types.js';
import { replyFor } from '../text.js';
import { anthropicMessageStream, anthropicRefusalStream, anthropicStreamError } from './streams.js';
import type { Endpoint, SuccessContext } from './types.js';

function message(ctx: SuccessContext, refusal: boolean): unknown {
  const reply = refusal ? { text: '', tokens: 0, truncated: false } : replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  return {
    id: `msg_sim${ctx.id}`,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content: refusal ? [] : [{ type: 'text', text: reply.text }],
    stop_reason: refusal ? 'refusal' : reply.truncated ? 'max_tokens' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: ctx.text.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: reply.tokens,
      service_tier: 'standard',
    },
  };
}

/** `POST /v1/messages`. A filtered answer is a 200 with `stop_reason: "refusal"`, as Claude reports it. */
export const ANTHROPIC_MESSAGES: Endpoint = {
  name: 'anthropic.messages',
  dialect: anthropicDialect,
  operation: 'messages',
  required: ['model', 'max_tokens', 'messages'],
  success: (ctx) => message(ctx, false),
  stream: anthropicMessageStream,
  midStreamError: anthropicStreamError,
  filtered: (ctx) => jsonReply(200, message(ctx, true)),
  filteredStream: anthropicRefusalStream,
};

/** `POST /v1/messages/count_tokens` (`messages.countTokens` of `@anthropic-ai/sdk`): `{"input_tokens": n}`. */
export const ANTHROPIC_COUNT_TOKENS: Endpoint = {
  name: 'anthropic.countTokens',
  dialect: anthropicDialect,
  operation: 'count_tokens',
  required: ['model', 'messages'],
  success: (ctx) => ({ input_tokens: ctx.text.inputTokens }),
  filtered: (ctx) => jsonReply(200, { input_tokens: ctx.text.inputTokens }),
};
