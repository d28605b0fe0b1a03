import { FAULT_TYPES, type FaultType } from './options.js';

/** Field names whose string values (directly or in arrays/parts below them) are prompt text. */
const TEXT_KEYS = new Set(['content', 'text', 'input', 'prompt', 'system', 'instructions']);
const MAX_DEPTH = 12;
const MARKER = /\[\[fault:([a-z0-9-]+)\]\]/;
const FAULT_SET: ReadonlySet<string> = new Set(FAULT_TYPES);

/** What the simulator reads from a request body, whatever the provider. */
export interface RequestText {
  /** All prompt text joined with newlines. */
  text: string;
  /** Tokens counted for limits: ceil(chars / 4) of the text. */
  inputTokens: number;
  /** The request's max output tokens, if it set one. */
  maxOutputTokens: number | undefined;
  /** A `[[fault:<type>]]` marker found in the text. */
  marker: FaultType | undefined;
}

/** Reads prompt text, token counts and a fault marker from a parsed JSON body of any provider. Never throws. */
export function readRequestText(body: unknown): RequestText {
  const parts: string[] = [];
  collect(body, false, 0, parts);
  const text = parts.join('\n');
  const found = MARKER.exec(text)?.[1];
  return {
    text,
    inputTokens: Math.ceil(text.length / 4),
    maxOutputTokens: maxOutputTokens(body),
    marker: found !== undefined && FAULT_SET.has(found) ? (found as FaultType) : undefined,
  };
}

function collect(value: unknown, textual: boolean, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (textual) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, textual, depth + 1, out);
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const k in record) collect(record[k], TEXT_KEYS.has(k), depth + 1, out);
  }
}

function maxOutputTokens(body: unknown): number | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const config = b['generationConfig'] as Record<string, unknown> | undefined;
  const candidates = [b['max_tokens'], b['max_completion_tokens'], b['max_output_tokens'], config?.['maxOutputTokens']];
  for (const c of candidates) if (typeof c === 'number' && Number.isFinite(c) && c >= 0) return Math.floor(c);
  return undefined;
}

/** The deterministic reply to a prompt: an echo of its start, cut to `maxTokens` (4 chars per token) if given. */
export function replyFor(text: string, maxTokens: number | undefined): { text: string; tokens: number; truncated: boolean } {
  const clean = text.replace(/\[\[fault:[a-z0-9-]+\]\]/g, '').trim();
  let reply = `Simulated reply: ${clean.slice(0, 120)}`;
  let truncated = false;
  if (maxTokens !== undefined && reply.length > maxTokens * 4) {
    reply = reply.slice(0, maxTokens * 4);
    truncated = true;
  }
  return { text: reply, tokens: Math.ceil(reply.length / 4), truncated };
}
