import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { parseJsonObject, readBody } from './body.js';
import type { Dialect, ErrorContext, Reply } from './dialects/types.js';
import { azureDialect } from './dialects/azure.js';
import { geminiDialect } from './dialects/gemini.js';
import { openaiError } from './dialects/openai.js';
import type { Endpoint, MidStreamFault, RouteMatch, SuccessContext } from './endpoints/types.js';
import { FaultPlan } from './faults.js';
import { SimulatedKey, type Rejection } from './simulated-key.js';
import { resolveOptions, type FaultType, type ResolvedOptions, type SimulatorOptions } from './options.js';
import { hashString, latencySampler, mulberry32 } from './random.js';
import { matchRoute } from './router.js';
import { OperationStore } from './operations.js';
import { pollFaultReply } from './endpoints/gemini.js';
import { StatsRecorder, type SimulatorStats } from './stats.js';
import { readRequestText } from './text.js';

/** A running simulator. */
export interface Simulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** What reached the server so far. `{ log: false }` leaves out the per-request log. */
  stats(options?: { log?: boolean }): SimulatorStats;
  /** Zeroes the statistics and every key's usage windows (limits start afresh). */
  resetStats(): void;
  /** Stops listening, ends hanging and open connections, and cancels pending delays. */
  close(): Promise<void>;
}

/** Most keys tracked when any key is accepted, so random keys cannot grow memory without bound. */
const MAX_OPEN_KEYS = 10_000;

/**
 * Starts the provider simulator on 127.0.0.1 (port 0 by default: a free port).
 *
 * ```ts
 * const sim = await startSimulator({ keys: [{ name: 'a', secret: 'sk-a', requestsPerMinute: 60 }], seed: 7 });
 * const openai = new OpenAI({ apiKey: 'sk-a', baseURL: `${sim.url}/v1`, maxRetries: 0 });
 * ...
 * await sim.close();
 * ```
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const resolved = resolveOptions(options);
  const sim = new SimulatorServer(resolved, options.clock ?? systemClock);
  await sim.listen();
  return sim;
}

/** The HTTP server. One instance per `startSimulator` call. */
class SimulatorServer implements Simulator {
  url = '';
  port = 0;
  private readonly server: Server;
  private readonly keysBySecret = new Map<string, SimulatedKey>();
  private readonly openKeys: boolean;
  private readonly statsRecorder: StatsRecorder;
  private readonly faults: FaultPlan;
  private readonly latency: () => number;
  private readonly sockets = new Set<Socket>();
  /** Aborts every pending latency pause on close; one listener per request in flight, so no listener cap. */
  private readonly closing = unlimitedController();
  private arrivals = 0;
  /** Start of the run (or of the last stats reset), for time-based schedules. */
  private startedAt: number;
  private readonly operations: OperationStore;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly clock: Clock,
  ) {
    for (const k of o.keys) this.keysBySecret.set(k.secret, new SimulatedKey(k.name, { ...o.limits, ...definedOnly(k) }, o.windowMs, o.dayMs, o.limiter));
    this.openKeys = o.keys.length === 0;
    this.startedAt = clock.now();
    this.statsRecorder = new StatsRecorder(o.maxLogEntries, this.startedAt);
    // Separate streams, so adding latency does not change which requests get faults.
    this.faults = new FaultPlan(o.probabilities, o.schedule, o.markers, mulberry32(o.seed));
    this.latency = latencySampler(o.latency, mulberry32(o.seed ^ 0x5bd1e995));
    this.operations = new OperationStore(o.operationMs, o.operationErrorProbability, o.operationFilteredProbability, mulberry32(o.seed ^ 0x27d4eb2f));
    this.server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => this.handle(req, res));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // Garbage that is not HTTP: answer 400 if possible, never crash.
    this.server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as AddressInfo;
        this.port = addr.port;
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.url = `http://${host}:${addr.port}`;
        resolve();
      });
    });
  }

  stats(options: { log?: boolean } = {}): SimulatorStats {
    return this.statsRecorder.snapshot(options.log ?? true);
  }

  resetStats(): void {
    this.startedAt = this.clock.now();
    this.statsRecorder.reset(this.startedAt);
    this.arrivals = 0;
    for (const k of this.keysBySecret.values()) k.reset();
  }

  close(): Promise<void> {
    this.closing.abort();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const arrivedAt = this.clock.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? undefined : new URLSearchParams(url.slice(q + 1));
    if (path.startsWith('/_sluice/')) {
      this.control(req, res, path, query);
      return;
    }
    const match = matchRoute(req.method, path);
    if (!match) {
      req.resume();
      this.statsRecorder.record(arrivedAt, '(none)', 'unknown', 'not_found', 404, 0);
      this.send(res, unknownRoute(req.method ?? 'GET', path), {});
      return;
    }
    const work = req.method === 'GET' ? this.handleGet(req, res, match, query, arrivedAt) : this.handleApi(req, res, match, query, arrivedAt);
    void work.catch(() => {
      // A bug must not crash the server: answer 500 if still possible.
      if (!res.headersSent && !res.destroyed) this.send(res, match.endpoint.dialect.serverError(), {});
    });
  }

  private control(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams | undefined): void {
    req.resume();
    if (req.method === 'GET' && path === '/_sluice/stats') {
      this.send(res, { status: 200, headers: {}, body: JSON.stringify(this.stats({ log: query?.get('log') !== '0' })) }, {});
    } else if (req.method === 'POST' && path === '/_sluice/reset') {
      this.resetStats();
      this.send(res, { status: 200, headers: {}, body: '{"ok":true}' }, {});
    } else {
      this.send(res, { status: 404, headers: {}, body: '{"error":"not found"}' }, {});
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, match: RouteMatch, query: URLSearchParams | undefined, arrivedAt: number): Promise<void> {
    const { endpoint } = match;
    const dialect = endpoint.dialect;
    const arrival = ++this.arrivals;
    const body = await readBody(req, this.o.maxBodyBytes);
    const sseErrors = endpoint.sseErrors === true && query?.get('alt') === 'sse';
    const done = (keyName: string, outcome: string, reply: Reply | undefined, status: number, tokens = 0, headers: Record<string, string> = {}): void => {
      this.statsRecorder.record(arrivedAt, keyName, endpoint.name, outcome, status, tokens);
      if (reply) this.send(res, sseErrors ? asStreamError(reply) : reply, headers, !body.ok);
    };
    if (!body.ok) {
      if (body.reason === 'too_large') done('(none)', 'too_large', dialect.tooLarge(), 413);
      else done('(none)', 'aborted', undefined, 0);
      return;
    }
    const secret = dialect.credential(req.headers, query);
    if (secret === undefined) return done('(none)', 'unauthorized', dialect.missingKey(), dialect.missingKey().status);
    const key = this.keyFor(secret);
    if (!key) return done('(unknown)', 'unauthorized', dialect.invalidKey(), dialect.invalidKey().status);
    key.received++;
    if (key.revoked) return done(key.name, 'revoked', dialect.invalidKey(), dialect.invalidKey().status);
    const headerProblem = dialect.checkRequest?.(req.headers, query);
    if (headerProblem) return done(key.name, 'invalid_request', headerProblem, headerProblem.status);
    const json = parseJsonObject(body.body);
    if (!json) return done(key.name, 'invalid_request', dialect.invalidJson(), 400);
    const missing = endpoint.required.find((f) => json[f] === undefined || json[f] === null);
    if (missing !== undefined) return done(key.name, 'invalid_request', dialect.missingField(missing), 400);

    const text = readRequestText(json);
    const tokens = text.inputTokens + (text.maxOutputTokens ?? 0);
    const model = match.pathModel ?? (typeof json['model'] === 'string' ? json['model'] : 'unknown-model');
    const errCtx: ErrorContext = { model, operation: endpoint.operation, apiVersion: query?.get('api-version') ?? undefined };
    const now = this.clock.now();
    const rejection = key.check(now, tokens);
    if (rejection) {
      const reply = dialect.rateLimited({ rejection, hint: this.o.retryAfterHint }, errCtx, now);
      return done(key.name, `limit:${rejection.kind}`, reply, reply.status, 0, this.limitHeaders(dialect, key, now));
    }
    key.admit(now, tokens);
    // Counting in-flight requests costs a listener per request: only when a concurrency limit needs it.
    if (key.limits.maxConcurrent !== undefined) {
      key.inFlight++;
      res.once('close', () => key.inFlight--);
    }

    const decided = this.faults.decide(arrival, key.name, key.received, now - this.startedAt, text.marker);
    const fault = decided !== undefined && endpoint.absorbs?.includes(decided) ? undefined : decided;
    const delay = this.latency();
    if (delay > 0 && !(await this.pause(delay, res))) return done(key.name, 'aborted', undefined, 0, tokens);
    const ctx: SuccessContext = { body: json, text, model, id: String(arrival).padStart(6, '0'), now: this.clock.now(), embeddingDimensions: this.o.embeddingDimensions, seed: this.o.seed, baseUrl: this.url, operations: this.operations, modelPath: match.modelPath ?? `models/${model}`, fault: decided };
    const headers = this.limitHeaders(dialect, key, this.clock.now());
    const streaming = endpoint.stream !== undefined && (endpoint.alwaysStream === true || json['stream'] === true);
    if (fault === undefined) {
      const reply = endpoint.answer
        ? endpoint.answer(ctx)
        : streaming && endpoint.stream
          ? { status: 200, headers: SSE_HEADERS, body: endpoint.stream(ctx).join('') }
          : { status: 200, headers: dialect.successHeaders ?? NO_HEADERS, body: JSON.stringify(endpoint.success(ctx)) };
      return done(key.name, reply.status === 200 ? 'ok' : reply.status === 404 ? 'not_found' : `status:${reply.status}`, reply, reply.status, tokens, headers);
    }
    const status = await this.injectFault(fault, res, endpoint, ctx, errCtx, key, headers, { streaming, sseErrors });
    this.statsRecorder.record(arrivedAt, key.name, endpoint.name, `fault:${fault}`, status, tokens);
  }

  /** Operation polls and file downloads: authenticated and counted, not rate limited. */
  private async handleGet(req: IncomingMessage, res: ServerResponse, match: RouteMatch, query: URLSearchParams | undefined, arrivedAt: number): Promise<void> {
    req.resume();
    const { endpoint } = match;
    const dialect = endpoint.dialect;
    const finish = (keyName: string, outcome: string, reply: Reply, headers: Record<string, string> = {}): void => {
      this.statsRecorder.record(arrivedAt, keyName, endpoint.name, outcome, reply.status, 0);
      this.send(res, reply, headers);
    };
    const secret = dialect.credential(req.headers, query);
    if (secret === undefined) return finish('(none)', 'unauthorized', dialect.missingKey());
    const key = this.keyFor(secret);
    if (!key) return finish('(unknown)', 'unauthorized', dialect.invalidKey());
    key.received++;
    if (key.revoked) return finish(key.name, 'revoked', dialect.invalidKey());
    const delay = this.latency();
    if (delay > 0 && !(await this.pause(delay, res))) return;
    if (endpoint.name === 'gemini.file') {
      // A few bytes standing for the video: enough for download code paths.
      return finish(key.name, 'ok', { status: 200, headers: { 'content-type': 'video/mp4' }, body: 'SIMULATED-MP4' });
    }
    const pollFault = this.operations.takePollFault(match.resource ?? '');
    if (pollFault) {
      const reply = pollFaultReply(dialect, pollFault, modelOf(match.resource ?? ''), this.o.faultRetryAfterMs);
      return finish(key.name, `fault:${pollFault}`, reply);
    }
    const op = this.operations.get(match.resource ?? '', this.clock.now(), this.url);
    if (op === undefined) return finish(key.name, 'not_found', dialect.notFound());
    finish(key.name, 'ok', { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify(op) });
  }

  private async injectFault(
    fault: FaultType,
    res: ServerResponse,
    endpoint: Endpoint,
    ctx: SuccessContext,
    errCtx: ErrorContext,
    key: SimulatedKey,
    headers: Record<string, string>,
    { streaming, sseErrors }: { streaming: boolean; sseErrors: boolean },
  ): Promise<number> {
    const dialect = endpoint.dialect;
    const send = (reply: Reply, extra: Record<string, string> = headers): number => this.send(res, sseErrors ? asStreamError(reply) : reply, extra);
    switch (fault) {
      case '429':
      case '429-no-hint':
      case '429-bare':
      case 'poll-429':
        return send(dialect.rateLimited({ rejection: this.faultRejection(key), hint: fault !== '429-no-hint' && fault !== '429-bare' }, errCtx, ctx.now), fault === '429-bare' ? NO_HEADERS : headers);
      case 'quota':
        return send(dialect.quotaExhausted(errCtx));
      case '503':
      case 'poll-503':
        return send(dialect.overloaded(503));
      case 'stream-error':
      case 'response-failed':
        if (!streaming || !endpoint.stream || !endpoint.midStreamError) return send(dialect.serverError());
        return this.sendBrokenStream(res, endpoint, ctx, fault, headers);
      case '529':
        return send(dialect.overloaded(529));
      case '500':
      case 'operation-error':
        return send(dialect.serverError());
      case '400':
        return send(dialect.badRequest('The request was rejected as invalid (simulated fault).'));
      case '401':
        return send(dialect.invalidKey());
      case 'filtered':
        if (streaming && endpoint.filteredStream) return this.send(res, { status: 200, headers: SSE_HEADERS, body: endpoint.filteredStream(ctx).join('') }, headers);
        return this.send(res, endpoint.filtered(ctx, errCtx), headers);
      case 'reset':
        res.socket?.destroy();
        return 0;
      case 'hang':
        // Nothing is sent: the request ends when the client gives up or the server closes.
        return 0;
      case 'html':
        return this.send(res, { status: 502, headers: { 'content-type': 'text/html' }, body: HTML_502 }, {});
      case 'truncated': {
        const full = JSON.stringify(endpoint.success(ctx));
        return this.send(res, { status: 200, headers: {}, body: full.slice(0, Math.max(1, Math.floor(full.length / 2))) }, headers);
      }
      case 'malformed':
        return this.send(res, { status: 200, headers: {}, body: '{"id":"sim","object":,"choices":[{"message":undefined}' }, headers);
      case 'slow':
        return this.sendSlowly(res, JSON.stringify(endpoint.success(ctx)), headers);
    }
  }

  /** The refusal an injected 429 renders: the key's per-minute request limit (60 when it has none), all used. */
  private faultRejection(key: SimulatedKey): Rejection {
    const limit = key.limits.requestsPerMinute ?? 60;
    return { kind: 'requests', limit, used: limit, requested: 1, retryAfterMs: this.o.faultRetryAfterMs };
  }

  /**
   * A 200 stream that breaks off: the first events of the answer, a pause, then the provider's error event
   * as a write of its own (as it arrives from the real API; `@google/genai` only recognises an error chunk
   * that comes alone), and the end of the body.
   */
  private async sendBrokenStream(res: ServerResponse, endpoint: Endpoint, ctx: SuccessContext, fault: MidStreamFault, headers: Record<string, string>): Promise<number> {
    const events = endpoint.stream?.(ctx) ?? [];
    const sent = Math.min(MID_STREAM_EVENTS, Math.max(0, events.length - 1));
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.write(events.slice(0, sent).join(''));
    if (!(await this.pause(MID_STREAM_PAUSE_MS, res))) return 200;
    res.end(endpoint.midStreamError?.(ctx, fault, sent) ?? '');
    return 200;
  }

  /** Sends a correct body in `slowChunks` chunks with `slowDelayMs` between them (chunked encoding). */
  private async sendSlowly(res: ServerResponse, body: string, headers: Record<string, string>): Promise<number> {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    const n = this.o.slowChunks;
    const size = Math.ceil(body.length / n);
    for (let i = 0; i < n; i++) {
      if (i > 0 && !(await this.pause(this.o.slowDelayMs, res))) return 200;
      res.write(body.slice(i * size, (i + 1) * size));
    }
    res.end();
    return 200;
  }

  /** Waits `ms` on the clock; false if the client went away or the server is closing. */
  private async pause(ms: number, res: ServerResponse): Promise<boolean> {
    if (res.destroyed || this.closing.signal.aborted) return false;
    const local = new AbortController();
    const onClose = (): void => local.abort();
    const onClosing = (): void => local.abort();
    res.once('close', onClose);
    this.closing.signal.addEventListener('abort', onClosing, { once: true });
    try {
      await this.clock.sleep(ms, local.signal);
      return !res.destroyed;
    } catch {
      return false;
    } finally {
      res.off('close', onClose);
      this.closing.signal.removeEventListener('abort', onClosing);
    }
  }

  private keyFor(secret: string): SimulatedKey | undefined {
    const known = this.keysBySecret.get(secret);
    if (known || !this.openKeys) return known;
    if (this.keysBySecret.size >= MAX_OPEN_KEYS) return this.keyFor('\u0000other');
    // Accept any key; name it by a hash so the secret itself never appears in stats.
    const name = secret === '\u0000other' ? '(other)' : `key-${hashString(secret).toString(16).padStart(8, '0')}`;
    const state = new SimulatedKey(name, this.o.limits, this.o.windowMs, this.o.dayMs, this.o.limiter);
    this.keysBySecret.set(secret, state);
    return state;
  }

  private limitHeaders(dialect: Dialect, key: SimulatedKey, now: number): Record<string, string> {
    if (!this.o.rateLimitHeaders || !key.hasWindowLimits) return NO_HEADERS;
    return dialect.limitHeaders(key.status(now), now);
  }

  /** Sends `reply` (unless the client is gone) and returns its status. */
  private send(res: ServerResponse, reply: Reply, headers: Record<string, string>, close = false): number {
    if (res.destroyed || res.headersSent) return reply.status;
    const h: Record<string, string> = { 'content-type': 'application/json' };
    for (const k in headers) h[k] = headers[k]!;
    for (const k in reply.headers) h[k] = reply.headers[k]!;
    h['content-length'] = String(Buffer.byteLength(reply.body));
    if (close) h['connection'] = 'close';
    res.writeHead(reply.status, h);
    res.end(reply.body);
    return reply.status;
  }
}

const SSE_HEADERS: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** Events of the answer sent before a mid-stream error, and the pause before the error event. */
const MID_STREAM_EVENTS = 3;
const MID_STREAM_PAUSE_MS = 20;

/** An error answer of an SSE endpoint: the same body under the stream's content type. */
function asStreamError(reply: Reply): Reply {
  return reply.status < 400 ? reply : { ...reply, headers: { ...reply.headers, 'content-type': 'text/event-stream' } };
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n';

/** A 404 in the shape of the provider the path looks like. */
function unknownRoute(method: string, path: string): Reply {
  if (path.startsWith('/v1beta/') || path.startsWith('/v1/projects/') || path.startsWith('/v1beta1/')) return geminiDialect.notFound();
  if (path.startsWith('/openai/')) return azureDialect.notFound();
  // OpenAI echoes the method and path; keep it short so garbage paths cannot make huge answers.
  return openaiError(404, `Invalid URL (${method.slice(0, 16)} ${path.slice(0, 200)})`, 'invalid_request_error', null, null);
}

/** The model of an operation name `models/{model}/operations/{id}`. */
function modelOf(operationName: string): string {
  return /models\/([^/]+)\//.exec(operationName)?.[1] ?? 'unknown-model';
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && k !== 'name' && k !== 'secret') (out as Record<string, unknown>)[k] = v;
  return out;
}

/** An AbortController whose signal may have any number of listeners (one per request in flight, each removed after). */
function unlimitedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
