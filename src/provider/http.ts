import { createRequire } from 'node:module';
import type { Agent, Dispatcher } from 'undici';
import { abortError } from '../clock/abort.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { classify } from '../classify/classify.js';
import type { Classification, ProviderName } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import { parseRateLimitHeaders } from '../classify/rate-limit/parse-headers.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import { bodySnippet, redact } from './redact.js';

// undici is required when the first client is built, not when `sluice` is imported: a program that
// only uses retry(), classify() or its own SDK client never loads it.
const require = createRequire(import.meta.url);
type Undici = typeof import('undici');
let undici: Undici | undefined;
function loadUndici(): Undici {
  undici ??= require('undici') as Undici;
  return undici;
}

/** Options of {@link HttpClient}. */
export interface HttpClientOptions {
  /** Most sockets kept open per origin (the pool bound). Default 64. */
  connections?: number;
  /** How long an idle keep-alive socket stays open, ms. Default 10,000. */
  keepAliveTimeoutMs?: number;
  /** Largest response body read, bytes; a bigger one fails as `server_error` / `body_too_large`. Default 32 MiB. */
  maxBodyBytes?: number;
  /**
   * Time allowed for the response headers / between body chunks, ms (undici's own guards). Default 300,000.
   * The attempt timeout of the executor, carried by the signal, is the timeout that matters.
   */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Use this undici dispatcher instead of creating an `Agent` (then `close()` leaves it open). */
  dispatcher?: Dispatcher;
}

/** One HTTP request of an adapter. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  /** Serialised as JSON when present. */
  json?: unknown;
  /** The attempt's signal: aborting it destroys the socket of the request. */
  signal: AbortSignal;
}

/** A response read to the end, before any interpretation. */
export interface RawResponse {
  status: number;
  headers: Headers;
  /** The body as text (UTF-8). */
  text: string;
}

/** What {@link HttpClient.json} returns for a 2xx answer whose body is JSON. */
export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  rateLimit?: RateLimitSnapshot;
}

/** Context {@link HttpClient.json} needs to classify a failure and keep secrets out of it. */
export interface FailureContext {
  provider: ProviderName;
  /** Adapter name, used as a prefix of messages. */
  adapter: string;
  /** Secrets to remove from any message (the key in use). */
  secrets: readonly string[];
  clock: Clock;
}

const DEFAULTS = {
  connections: 64,
  keepAliveTimeoutMs: 10_000,
  maxBodyBytes: 32 * 1024 * 1024,
  headersTimeoutMs: 300_000,
  bodyTimeoutMs: 300_000,
};

/**
 * Shared HTTP plumbing of the adapters: undici with keep-alive and a bounded pool per origin, every request
 * carrying the attempt's AbortSignal, bodies read with a size cap, and every failure turned into a
 * classified {@link SluiceError} that carries the rate-limit snapshot of the response.
 *
 * One client can (and should) be shared by every adapter of a process; `close()` ends its sockets.
 */
export class HttpClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly maxBodyBytes: number;

  constructor(options: HttpClientOptions = {}) {
    const o = { ...DEFAULTS, ...definedOnly(options) };
    positiveInteger('http.connections', o.connections);
    positiveInteger('http.keepAliveTimeoutMs', o.keepAliveTimeoutMs);
    positiveInteger('http.maxBodyBytes', o.maxBodyBytes);
    nonNegativeInteger('http.headersTimeoutMs', o.headersTimeoutMs);
    nonNegativeInteger('http.bodyTimeoutMs', o.bodyTimeoutMs);
    this.maxBodyBytes = o.maxBodyBytes;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new (loadUndici().Agent)({
        connections: o.connections,
        keepAliveTimeout: o.keepAliveTimeoutMs,
        headersTimeout: o.headersTimeoutMs,
        bodyTimeout: o.bodyTimeoutMs,
      });
  }

  /** Pool statistics per origin (connected / free / running sockets), when the dispatcher is an undici `Agent`. */
  stats(): Record<string, { connected: number; free: number; running: number; pending: number }> {
    const d = this.dispatcher as Partial<Agent>;
    const out: Record<string, { connected: number; free: number; running: number; pending: number }> = {};
    for (const [origin, s] of Object.entries(d.stats ?? {})) {
      const pool = s as { connected?: number; free?: number; running?: number; pending?: number };
      out[origin] = { connected: pool.connected ?? 0, free: pool.free ?? 0, running: pool.running ?? 0, pending: pool.pending ?? 0 };
    }
    return out;
  }

  /**
   * Sends a request and reads the whole body (up to the cap). Network failures and aborts throw as they
   * come (an abort rejects with the signal's `AbortError` / `TimeoutError`); no status is interpreted here.
   */
  async send(req: HttpRequest): Promise<RawResponse> {
    const { signal } = req;
    if (signal.aborted) throw abortReason(signal);
    const headers = { ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    }
    try {
      const res = await loadUndici().request(req.url, { dispatcher: this.dispatcher, method: req.method, headers, body, signal });
      const text = await readCapped(res.body, this.maxBodyBytes, res.headers['content-length']);
      return { status: res.statusCode, headers: toHeaders(res.headers), text };
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      throw err;
    }
  }

  /**
   * Sends a request that expects a JSON answer. A 2xx JSON body is returned with the parsed rate-limit
   * headers; anything else throws a {@link SluiceError}: a non-2xx status classified by `classify()`, a
   * 2xx body that is empty, HTML or truncated as `server_error` with code `invalid_response`, a network
   * failure classified by `classify()`. Aborts reject with the signal's abort error, unclassified.
   */
  async json<T = unknown>(req: HttpRequest, ctx: FailureContext): Promise<JsonResponse<T>> {
    let raw: RawResponse;
    try {
      raw = await this.send(req);
    } catch (err) {
      throw toSluiceError(err, ctx, req.signal);
    }
    const rateLimit = safeParseRateLimit(raw.headers, ctx.clock.now());
    if (raw.status < 200 || raw.status >= 300) throw httpFailure(raw, ctx, rateLimit);
    const parsed = parseJsonBody(raw);
    if (!parsed.ok) throw invalidResponse(raw, ctx, parsed.reason, rateLimit);
    return { status: raw.status, headers: raw.headers, body: parsed.value as T, ...(rateLimit ? { rateLimit } : {}) };
  }

  /** Closes the pool's sockets (only when this client created the dispatcher). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

let sharedClient: HttpClient | undefined;

/** The process-wide default client adapters use when none is given (64 sockets per origin, keep-alive). */
export function defaultHttpClient(): HttpClient {
  sharedClient ??= new HttpClient();
  return sharedClient;
}

/** The default failure context pieces: the system clock unless one is given. */
export function failureContext(provider: ProviderName, adapter: string, secret: string, clock: Clock = systemClock): FailureContext {
  return { provider, adapter, secrets: [secret], clock };
}

/** Classifies a thrown error (network, undici) into a SluiceError; aborts are rethrown as they are. */
export function toSluiceError(err: unknown, ctx: FailureContext, signal?: AbortSignal): Error {
  if (signal?.aborted) return abortReason(signal);
  if (err instanceof SluiceError) return err;
  if (isAbortLike(err)) return err as Error;
  const c = classify(err, { provider: ctx.provider, now: ctx.clock.now() });
  return new SluiceError(cleanClassification(c, ctx), { cause: err });
}

/** A non-2xx response, classified from its status, headers and body. */
export function httpFailure(raw: RawResponse, ctx: FailureContext, rateLimit?: RateLimitSnapshot): SluiceError {
  const parsed = parseJsonBody(raw);
  const c = classify(
    { status: raw.status, headers: raw.headers, body: parsed.ok ? parsed.value : raw.text },
    { provider: ctx.provider, now: ctx.clock.now() },
  );
  const withStatus: Classification = { ...c, status: c.status ?? raw.status };
  // A non-JSON error page (a proxy's HTML 502) says little; its first bytes say which hop answered.
  if (!parsed.ok && raw.text.length > 0 && !withStatus.message.includes(bodySnippet(raw.text, 40))) {
    withStatus.message = `${withStatus.message} (body starts: ${JSON.stringify(bodySnippet(raw.text))})`;
  }
  return new SluiceError(cleanClassification(withStatus, ctx), rateLimit ? { rateLimit } : {});
}

/** A 2xx answer that is not what the adapter expects: `server_error` / `invalid_response`, retryable. */
export function invalidResponse(raw: RawResponse, ctx: FailureContext, reason: string, rateLimit?: RateLimitSnapshot): SluiceError {
  const start = raw.text.length === 0 ? 'empty body' : `body starts: ${JSON.stringify(bodySnippet(raw.text))}`;
  const contentType = raw.headers.get('content-type') ?? 'no content-type';
  return new SluiceError(
    cleanClassification(
      {
        kind: 'server_error',
        retryable: true,
        status: raw.status,
        code: 'invalid_response',
        message: `${ctx.adapter}: invalid response (${raw.status}, ${contentType}): ${reason}; ${start}`,
        provider: ctx.provider,
      },
      ctx,
    ),
    rateLimit ? { rateLimit } : {},
  );
}

/** A 2xx body that was JSON but had not the shape the adapter needs (no `candidates`, no `name`, ...). */
export function unexpectedShape(status: number, body: unknown, ctx: FailureContext, what: string, rateLimit?: RateLimitSnapshot): SluiceError {
  const text = safeStringify(body);
  return invalidResponse({ status, headers: new Headers({ 'content-type': 'application/json' }), text }, ctx, what, rateLimit);
}

/** A failure the adapter itself decides (content filter in a 2xx answer, a failed operation). */
export function adapterFailure(classification: Classification, ctx: FailureContext, rateLimit?: RateLimitSnapshot): SluiceError {
  return new SluiceError(cleanClassification(classification, ctx), rateLimit ? { rateLimit } : {});
}

type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

/** Parses a body as JSON, saying why not instead of throwing. */
export function parseJsonBody(raw: RawResponse): Parsed {
  const contentType = raw.headers.get('content-type');
  if (raw.text.trim().length === 0) return { ok: false, reason: 'empty body' };
  if (contentType && !/json/i.test(contentType)) return { ok: false, reason: `expected JSON, got ${contentType}` };
  try {
    return { ok: true, value: JSON.parse(raw.text) as unknown };
  } catch (err) {
    return { ok: false, reason: `body is not valid JSON (${(err as Error).message})` };
  }
}

function cleanClassification(c: Classification, ctx: FailureContext): Classification {
  return { ...c, message: redact(c.message, ctx.secrets), provider: c.provider ?? ctx.provider };
}

function safeParseRateLimit(headers: Headers, now: number): RateLimitSnapshot | undefined {
  try {
    return parseRateLimitHeaders(headers, now);
  } catch {
    return undefined; // a header parser bug must not turn a success into a failure
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, max: number, declared: unknown): Promise<string> {
  const declaredLength = typeof declared === 'string' ? Number(declared) : NaN;
  if (declaredLength > max) {
    body.destroy();
    throw bodyTooLarge(max, declaredLength);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw bodyTooLarge(max, size);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function bodyTooLarge(max: number, size: number): SluiceError {
  return new SluiceError({
    kind: 'server_error',
    retryable: true,
    code: 'body_too_large',
    message: `response body larger than the ${max}-byte cap (at least ${size} bytes)`,
  });
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const h = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) h.append(name, v);
    else h.append(name, value);
  }
  return h;
}

/** The error an aborted request rejects with: the signal's TimeoutError as is, otherwise an AbortError. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return reason;
  return abortError(signal);
}

function isAbortLike(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInteger(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${field} must be an integer >= 1, got ${String(value)}`);
}

function nonNegativeInteger(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${field} must be an integer >= 0, got ${String(value)}`);
}
