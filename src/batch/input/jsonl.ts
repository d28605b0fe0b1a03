/**
 * Streamed JSONL input: one request per line, `{ "id"?, "priority"?, "provider"?, ...payload }` or
 * `{ "id"?, "priority"?, "payload": {...} }`; with a template, the line holds the template variables
 * (at top level or under `vars`). Garbage never throws: it becomes a reject with a reason.
 */
import { readLines } from './lines.js';
import type { NewItem } from '../store.js';
import { DEFAULT_ID_COLUMN, DEFAULT_MAX_LINE_BYTES } from './record.js';
import type { InputRecord, ReaderOptions } from './record.js';
import { renderTemplate } from './template.js';

/** Reads a JSONL file as {@link InputRecord}s (blank lines are skipped silently). */
export async function* readJsonl(path: string, options: ReaderOptions = {}): AsyncGenerator<InputRecord> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const afterLine = options.afterLine ?? 0;
  for await (const raw of readLines(path, maxLineBytes)) {
    if (raw.line <= afterLine) continue;
    if ('tooLong' in raw) {
      yield { line: raw.line, reject: `line too long: ${raw.tooLong} bytes (limit ${maxLineBytes})` };
      continue;
    }
    if (raw.text.trim() === '') continue;
    yield parseJsonlLine(raw.line, raw.text, options);
  }
}

/** Parses one JSONL line into an item or a reject. */
export function parseJsonlLine(line: number, text: string, options: ReaderOptions = {}): InputRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, reject: `malformed JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { line, reject: 'a line must be a JSON object' };
  }
  return toRecord(line, value as Record<string, unknown>, options, 'field');
}

/**
 * Shared by JSONL and CSV: takes the id from the id column (`options.idColumn`, default `id`), validates
 * it, the priority and the provider, and builds the payload. `fields` is the whole record; the payload
 * of a JSONL line without a template leaves out `id`, the id column and `priority`; a template sees every
 * field. A CSV record (`what: 'column'`) keeps its fields as the item's `input`.
 */
export function toRecord(line: number, fields: Record<string, unknown>, options: ReaderOptions, what: 'field' | 'column'): InputRecord {
  const idName = options.idColumn ?? DEFAULT_ID_COLUMN;
  const rawId = fields[idName];
  const rawPriority = fields['priority'];
  let id = `#${line}`;
  if (rawId !== undefined && rawId !== null && rawId !== '') {
    if (typeof rawId === 'number' && Number.isFinite(rawId)) id = String(rawId);
    else if (typeof rawId === 'string') id = rawId;
    else return { line, reject: `${what} ${JSON.stringify(idName)} (the id) must be a string or a number` };
  } else if (options.idColumn !== undefined) {
    return { line, reject: `${rawId === undefined || rawId === null ? 'no' : 'empty'} ${what} ${JSON.stringify(idName)} (the id, --id-column)` };
  }
  let priority = 0;
  if (rawPriority !== undefined && rawPriority !== null && rawPriority !== '') {
    const p = typeof rawPriority === 'string' ? Number(rawPriority) : rawPriority;
    if (typeof p !== 'number' || !Number.isSafeInteger(p)) return { line, reject: `${what} "priority" must be an integer` };
    priority = p;
  }
  const provider = fields['provider'];
  if (provider !== undefined) {
    if (typeof provider !== 'string') return { line, reject: `${what} "provider" must be a string` };
    if (options.providers && !options.providers.includes(provider)) {
      return { line, reject: `unknown provider "${provider}" (known: ${options.providers.join(', ')})` };
    }
  }
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== 'id' && k !== idName && k !== 'priority') rest[k] = v;
  const payload = buildPayload(options.template !== undefined ? fields : rest, options);
  if ('reject' in payload) return { line, reject: payload.reject };
  const item: NewItem = { id, line, priority, payload: payload.payload };
  if (what === 'column') item.input = fields as Record<string, string>;
  return { line, item };
}

function buildPayload(
  fields: Record<string, unknown>,
  options: ReaderOptions,
): { payload: unknown } | { reject: string } {
  if (options.template !== undefined) {
    const vars = isObject(fields['vars']) ? fields['vars'] : fields;
    const rendered = renderTemplate(options.template, vars);
    if ('missing' in rendered) return { reject: `missing field "${rendered.missing}" used by the template` };
    const payload: Record<string, unknown> = { ...options.payloadDefaults, prompt: rendered.text };
    if (typeof fields['provider'] === 'string') payload['provider'] = fields['provider'];
    return { payload };
  }
  if ('payload' in fields) {
    const inner = fields['payload'];
    if (!isObject(inner)) return { reject: 'field "payload" must be a JSON object' };
    const payload = { ...options.payloadDefaults, ...inner };
    if (typeof fields['provider'] === 'string') payload['provider'] = fields['provider'];
    return { payload };
  }
  const meaningful = Object.keys(fields).filter((k) => k !== 'provider');
  if (meaningful.length === 0) return { reject: 'missing field "payload" (the line has no request fields)' };
  return { payload: { ...options.payloadDefaults, ...fields } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
