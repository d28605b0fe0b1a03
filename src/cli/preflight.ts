/**
 * Checks made before the first request of `sluice run`, so that a mistake costs one clear message
 * instead of a whole batch of identical failures. Nothing here creates the state file:
 *
 * 1. the template's `{{fields}}` against the CSV header or the first JSONL records;
 * 2. a model for every item (`--model`, or a `model` field on each line);
 * 3. at least one line that is not rejected (an input whose every line is rejected exits 5);
 * 4. the base URL's shape, with the known `/v1` mistakes called out;
 * 5. one probe request (the first item, one attempt, first key), which `--no-probe` skips: a refused
 *    connection, a 404 or a 401/403 stops the run with a message naming the URL (never the key).
 */
import { createReadStream } from 'node:fs';
import { readInput } from '../batch/ingest.js';
import { readLines } from '../batch/input/lines.js';
import { loadCsvParse } from '../batch/input/csv.js';
import { DEFAULT_MAX_LINE_BYTES } from '../batch/input/record.js';
import { templateFields } from '../batch/input/template.js';
import type { ProbeAnswer } from './probe-answer.js';
import type { NewItem } from '../batch/store.js';
import { classify } from '../classify/classify.js';
import type { ApiKey, ProviderAdapter } from '../provider/types.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { SluiceConfig } from './options.js';
import { shapePayload } from './payload.js';

type Payload = Record<string, unknown>;

/** Records of a JSONL input read to learn which fields it has. */
const SAMPLE_RECORDS = 50;
/** The probe waits at most this long (or the attempt timeout, if shorter). */
const PROBE_TIMEOUT_MS = 30_000;

/** The public endpoint each provider uses when no `--base-url` is given (named in messages). */
const DEFAULT_BASE_URLS: Record<SluiceConfig['provider'], string> = {
  openai: 'https://api.openai.com/v1',
  'openai-compatible': 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  azure: '(the Azure endpoint)',
};

/** What the checks need. */
export interface PreflightInput {
  config: SluiceConfig;
  input: string;
  keys: readonly ApiKey[];
  /** The adapter the run will use (unshaped: preflight shapes the probe's payload as the run does). */
  adapter: ProviderAdapter<Payload, unknown>;
}

/**
 * Runs every check; throws a {@link CliError} naming the file, line, field or option of the first problem.
 * Returns the probe's answer when the probe succeeded (the run reuses it: probe-answer.ts).
 */
export async function preflight(p: PreflightInput): Promise<ProbeAnswer | undefined> {
  const { config, input } = p;
  checkBaseUrlShape(config.provider, config.baseUrl);
  const csv = input.toLowerCase().endsWith('.csv');
  if (csv) await checkCsvTemplate(input, config.template);
  else if (config.template !== undefined) await checkJsonlTemplate(input, config.template);
  const first = await checkItems(p);
  return first && config.probe ? probe(p, first) : undefined;
}

/** The URL requests go to, for messages: the given base URL (without credentials or query) or the provider default. */
export function shownBaseUrl(config: Pick<SluiceConfig, 'provider' | 'baseUrl'>): string {
  if (config.baseUrl === undefined) return DEFAULT_BASE_URLS[config.provider];
  try {
    const u = new URL(config.baseUrl);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return config.baseUrl;
  }
}

/**
 * The known base-URL mistakes: an endpoint given instead of the API root, the OpenAI `/v1` root left
 * out, or a version path added where the adapter adds its own. Throws a {@link CliError} (exit 2).
 */
export function checkBaseUrlShape(provider: SluiceConfig['provider'], baseUrl: string | undefined): void {
  if (baseUrl === undefined) return;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw badUrl(baseUrl, 'is not an absolute http(s) URL');
  }
  const path = url.pathname.replace(/\/+$/, '');
  const root = (p: string): string => `${url.origin}${p}`;
  switch (provider) {
    case 'openai':
    case 'openai-compatible': {
      const endpoint = /\/(chat\/completions|completions|responses|embeddings|images\/generations)$/.exec(path);
      if (endpoint) {
        throw badUrl(baseUrl, `ends with the endpoint /${endpoint[1]}: give the API root, e.g. ${root(path.slice(0, endpoint.index))}`);
      }
      if (/\/v1\/v1$/.test(path)) throw badUrl(baseUrl, `has /v1 twice: use ${root(path.slice(0, -3))}`);
      if (path === '') {
        throw badUrl(baseUrl, `has no /v1: OpenAI-compatible servers serve the API under /v1 (Sluice adds /chat/completions to the root): use ${root('/v1')}`);
      }
      return;
    }
    case 'anthropic':
      if (/\/v1(\/messages)?$/.test(path)) {
        throw badUrl(baseUrl, `ends with ${path.slice(path.lastIndexOf('/v1'))}: Sluice adds /v1/messages itself: use ${root(path.slice(0, path.lastIndexOf('/v1')))}`);
      }
      return;
    case 'gemini':
      if (/\/(v1|v1beta|v1alpha)(\/models.*)?$/.test(path) || path.includes('/models/')) {
        const cut = path.search(/\/(v1|v1beta|v1alpha)(\/|$)/);
        throw badUrl(baseUrl, `includes the API version or model path: Sluice adds /v1beta/models/{model}:generateContent itself: use ${root(cut >= 0 ? path.slice(0, cut) : '')}`);
      }
      return;
    case 'azure':
      if (path.includes('/openai')) {
        throw badUrl(baseUrl, `includes ${path.slice(path.indexOf('/openai'))}: give the resource endpoint (https://<resource>.openai.azure.com); Sluice adds /openai/deployments/… itself`);
      }
      return;
  }
}

function badUrl(baseUrl: string, problem: string): CliError {
  return new CliError(`invalid option baseUrl: ${JSON.stringify(baseUrl)} ${problem}`, ExitCode.badConfig);
}

function missingFields(template: string, available: ReadonlySet<string>): string[] {
  return templateFields(template).filter((f) => !available.has(f));
}

/** CSV needs a template, and every `{{field}}` must be a column of the header (line 1). */
async function checkCsvTemplate(input: string, template: string | undefined): Promise<void> {
  const header = await csvHeader(input);
  if (template === undefined) {
    throw new CliError(
      `input ${input} is CSV: give --template with {{column}} placeholders (columns: ${header.join(', ') || 'none'})`,
      ExitCode.badConfig,
    );
  }
  const missing = missingFields(template, new Set(header));
  if (missing.length > 0) {
    throw new CliError(
      `template ${JSON.stringify(template)} uses ${missing.map((f) => `{{${f}}}`).join(', ')}, but ${input} has no such column ` +
        `(line 1 header: ${header.join(', ') || 'empty'})`,
      ExitCode.badConfig,
    );
  }
}

/** The header row of a CSV file (BOM removed). */
async function csvHeader(input: string): Promise<string[]> {
  const { parse } = await loadCsvParse();
  const parser = createReadStream(input).pipe(parse({ bom: true, to_line: 1, relax_column_count: true, skip_empty_lines: true }));
  for await (const row of parser) return (row as string[]).map((c) => c.trim());
  return [];
}

/**
 * JSONL with a template: every `{{field}}` must appear in at least one of the first records (a field
 * missing from some lines only rejects those lines; one missing from all of them is a typo).
 */
async function checkJsonlTemplate(input: string, template: string): Promise<void> {
  const seen = new Set<string>();
  let sampled = 0;
  let firstLine = 0;
  for await (const raw of readLines(input, DEFAULT_MAX_LINE_BYTES)) {
    if (!('text' in raw) || raw.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw.text);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const record = value as Record<string, unknown>;
    const vars = typeof record.vars === 'object' && record.vars !== null && !Array.isArray(record.vars) ? (record.vars as Record<string, unknown>) : record;
    for (const k of Object.keys(vars)) seen.add(k);
    firstLine ||= raw.line;
    if (++sampled >= SAMPLE_RECORDS) break;
  }
  if (sampled === 0) return;
  const missing = missingFields(template, seen);
  if (missing.length > 0) {
    throw new CliError(
      `template ${JSON.stringify(template)} uses ${missing.map((f) => `{{${f}}}`).join(', ')}, but no record of ${input} ` +
        `(lines ${firstLine}.. , first ${sampled} records) has such a field; fields found: ${[...seen].join(', ') || 'none'}`,
      ExitCode.badConfig,
    );
  }
}

/**
 * Reads the input as the run will. Without `--model` every item must name its model (the whole input
 * is read, streamed). Throws when every line is rejected (exit 5). Returns the first item (for the probe).
 */
async function checkItems(p: PreflightInput): Promise<NewItem | undefined> {
  const { config, input } = p;
  const needModel = config.model === undefined && config.provider !== 'azure';
  let first: NewItem | undefined;
  let rejected = 0;
  let firstReject: { line: number; reason: string } | undefined;
  const records = readInput({
    input,
    ...(config.template !== undefined ? { template: config.template } : {}),
    ...(config.idColumn !== undefined ? { idColumn: config.idColumn } : {}),
  });
  for await (const record of records) {
    if ('reject' in record) {
      rejected++;
      firstReject ??= { line: record.line, reason: record.reject };
      continue;
    }
    first ??= record.item;
    const payload = record.item.payload as Payload | null;
    if (needModel && (typeof payload?.model !== 'string' || payload.model === '')) {
      throw new CliError(
        `line ${record.line} of ${input} names no model, and no --model is given: give --model <name> (or SLUICE_MODEL, config "model"), ` +
          'or a "model" field on every line',
        ExitCode.badConfig,
      );
    }
    if (!needModel) break;
  }
  if (!first && rejected > 0) {
    throw new CliError(
      `every line of ${input} is rejected (${rejected} line(s); first: line ${firstReject!.line}: ${firstReject!.reason}); nothing to run`,
      ExitCode.badInput,
    );
  }
  return first;
}

/** One request with the first item: stops on a refused connection, a 404 or a rejected key. */
async function probe(p: PreflightInput, item: NewItem): Promise<ProbeAnswer | undefined> {
  const { config, keys, adapter } = p;
  const key = keys[0];
  if (!key) return undefined;
  const url = shownBaseUrl(config);
  const payload = shapePayload(config.provider, (item.payload ?? {}) as Payload, config);
  const timeout = AbortSignal.timeout(Math.min(config.attemptTimeout, PROBE_TIMEOUT_MS));
  try {
    const response = await adapter.call(payload, { key, signal: timeout, attempt: 1 });
    return { payloadJson: JSON.stringify(item.payload ?? {}), key: key.name, response };
  } catch (error) {
    const c = classify(error);
    const skip = ' (or --no-probe to skip this check)';
    if (c.kind === 'network') {
      throw new CliError(
        `probe request to ${url} failed: ${c.code ?? 'network error'} (${c.message}): is the server running, and is --base-url right?${skip}`,
        ExitCode.badConfig,
      );
    }
    if (c.kind === 'not_found') {
      const hint =
        config.provider === 'openai' || config.provider === 'openai-compatible'
          ? ' (OpenAI-compatible servers need the /v1 root as --base-url, e.g. http://host:port/v1)'
          : '';
      throw new CliError(
        `probe request to ${url} returned 404 not found for model ${JSON.stringify(payload.model ?? '')}: check --base-url${hint} and --model${skip}`,
        ExitCode.badConfig,
      );
    }
    if (c.kind === 'auth') {
      throw new CliError(
        `probe request to ${url} was refused with ${c.status ?? 'an auth error'} for key ${key.name}: ${c.message}; check the key in ${key.name}${skip}`,
        ExitCode.missingKey,
      );
    }
    // Anything else (a rate limit, an overload, a bad single item) is the run's business: it retries or fails that item.
    return undefined;
  }
}
