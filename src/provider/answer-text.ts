/**
 * The answer's text, read from a provider's response body: the one place that knows where each API puts
 * the generated text. Used for the `text` field of a batch's results (beside the raw response).
 *
 * Shapes read (REST bodies, and the official SDKs' results, which carry the same field names):
 * - OpenAI chat completions: `choices[0].message.content` (a string, or parts with `text`); legacy
 *   completions `choices[0].text`;
 * - OpenAI Responses: `output_text` when present (the SDKs add it), else every `output_text` part of the
 *   `message` items of `output`;
 * - Anthropic messages: every `text` block of `content`;
 * - Gemini / Vertex generateContent: the `text` parts of `candidates[0].content.parts` (thought parts left out);
 * - a `.withResponse()` result `{ data, response }`: its `data`; a plain string: itself.
 *
 * Anything else (embeddings, images, Veo operations, unknown shapes) has no text: `undefined`. Never throws.
 */
import { prop } from './common.js';

/** Parts of one answer are joined with this (an answer split into blocks reads as one text). */
const JOIN = '';

export function answerText(body: unknown): string | undefined {
  try {
    return read(body, 0);
  } catch {
    return undefined;
  }
}

function read(body: unknown, depth: number): string | undefined {
  if (typeof body === 'string') return body;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || depth > 2) return undefined;
  // `.withResponse()`: { data, response }.
  if ('data' in body && 'response' in body) return read(prop(body, 'data'), depth + 1);
  const choices = prop(body, 'choices');
  if (Array.isArray(choices)) return chatText(choices[0]);
  const candidates = prop(body, 'candidates');
  if (Array.isArray(candidates)) return geminiText(candidates[0]);
  if (prop(body, 'object') === 'response' || Array.isArray(prop(body, 'output'))) return responsesText(body);
  if (prop(body, 'type') === 'message' && Array.isArray(prop(body, 'content'))) return blocksText(prop(body, 'content'), 'text');
  return undefined;
}

function chatText(choice: unknown): string | undefined {
  const message = prop(choice, 'message') ?? prop(choice, 'delta');
  const content = prop(message, 'content');
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return blocksText(content, undefined);
  const legacy = prop(choice, 'text');
  return typeof legacy === 'string' ? legacy : undefined;
}

function geminiText(candidate: unknown): string | undefined {
  const parts = prop(prop(candidate, 'content'), 'parts');
  if (!Array.isArray(parts)) return undefined;
  const texts = parts.filter((p) => prop(p, 'thought') !== true).map((p) => prop(p, 'text')).filter((t): t is string => typeof t === 'string');
  return texts.length > 0 ? texts.join(JOIN) : undefined;
}

function responsesText(body: unknown): string | undefined {
  const direct = prop(body, 'output_text');
  if (typeof direct === 'string') return direct;
  const output = prop(body, 'output');
  if (!Array.isArray(output)) return undefined;
  const texts: string[] = [];
  for (const item of output) {
    if (prop(item, 'type') !== 'message') continue;
    const t = blocksText(prop(item, 'content'), 'output_text');
    if (t !== undefined) texts.push(t);
  }
  return texts.length > 0 ? texts.join(JOIN) : undefined;
}

/** The `text` of the blocks of `type` (any type when undefined) of a content array. */
function blocksText(blocks: unknown, type: string | undefined): string | undefined {
  if (!Array.isArray(blocks)) return undefined;
  const texts: string[] = [];
  for (const b of blocks) {
    if (type !== undefined && prop(b, 'type') !== type) continue;
    const t = prop(b, 'text');
    if (typeof t === 'string') texts.push(t);
  }
  return texts.length > 0 ? texts.join(JOIN) : undefined;
}
