import { classify } from '../classify/classify.js';
import { classifyVeoOperation } from '../classify/operation.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import type { Classification } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import { count, headerRecord, payloadObject, prop, requiredString, type AdapterBaseOptions } from './common.js';
import { googleEndpoint, type GoogleEndpoint, type GoogleEndpointOptions } from './google-endpoint.js';
import { adapterFailure, defaultHttpClient, unexpectedShape, type FailureContext, type HttpClient } from './http.js';
import type { CallContext, ProviderAdapter, ProviderResponse } from './types.js';

/** How an operation is polled: a bounded exponential schedule on the adapter's clock. */
export interface VeoPollOptions {
  /** Wait before the first poll, ms. Default 10,000 (a clip takes 1 to 6 minutes). */
  initialDelayMs?: number;
  /** Growth of the wait between polls. Default 1.5. */
  factor?: number;
  /** Longest wait between two polls, ms. Default 60,000. */
  maxDelayMs?: number;
  /** Give up (code `operation_timeout`) when the operation is not done after this long, ms. Default 20 minutes. */
  maxWaitMs?: number;
  /** Retryable poll failures (429, 503, network) tolerated in a row before the job fails. Default 5. */
  maxPollFailures?: number;
}

/** A submit body (`instances: [{ prompt }]`, `parameters`). A `model` field picks the model per job; `operationName` resumes polling an operation submitted earlier instead of submitting. */
export type VeoPayload = Record<string, unknown>;

/** A generated video as the API describes it (a URI to download, or inline bytes on Vertex). */
export interface VeoVideo {
  uri?: string;
  mimeType?: string;
  bytesBase64Encoded?: string;
}

/** What a finished operation produced. */
export interface VeoResult {
  operationName: string;
  videos: VeoVideo[];
  /** Videos removed by the safety filter, when some were produced anyway. */
  filteredCount: number;
  /** The operation's raw `response`. */
  response: unknown;
}

/** Options of {@link veoAdapter}. */
export interface VeoOptions extends Omit<AdapterBaseOptions<VeoPayload>, 'baseUrl'>, GoogleEndpointOptions {
  /** Model used when the payload has no `model` field, e.g. `veo-3.0-generate-001`. */
  model?: string;
  poll?: VeoPollOptions;
  /** Called once the operation is accepted, so a caller can store its name and resume polling after a crash. */
  onSubmitted?: (operationName: string, ctx: CallContext) => void;
}

const POLL_DEFAULTS: Required<VeoPollOptions> = {
  initialDelayMs: 10_000,
  factor: 1.5,
  maxDelayMs: 60_000,
  maxWaitMs: 20 * 60_000,
  maxPollFailures: 5,
};

/**
 * The waits between polls: `initialDelayMs`, then times `factor` each poll, capped at `maxDelayMs`.
 * Infinite and pure; the caller bounds it with `maxWaitMs`.
 */
export function* veoPollDelays(options: VeoPollOptions = {}): Generator<number, never> {
  const o = { ...POLL_DEFAULTS, ...options };
  let delay = o.initialDelayMs;
  for (;;) {
    yield Math.min(delay, o.maxDelayMs);
    delay = Math.min(delay * o.factor, o.maxDelayMs);
  }
}

/**
 * Veo video generation as a long-running operation: submit (`models/{model}:predictLongRunning`), then
 * poll the operation (Gemini API: `GET {operation name}`; Vertex: `:fetchPredictOperation`) on the
 * injected clock with a bounded backoff until it is done. A done operation carrying an `error` is
 * classified like the same error in an HTTP answer (RESOURCE_EXHAUSTED -> rate_limited or quota,
 * INVALID_ARGUMENT -> invalid_request...); one whose every video was removed by the safety filter fails
 * as `content_filtered`. Cancelling the attempt's signal stops polling at once and leaves no timer.
 */
export function veoAdapter(options: VeoOptions = {}): ProviderAdapter<VeoPayload, VeoResult> {
  const family = options.backend === 'vertex' ? 'vertex' : 'gemini';
  const endpoint = googleEndpoint('veo', options);
  if (options.model !== undefined) requiredString('veo.model', options.model);
  const poll = validatePoll(options.poll ?? {});
  const name = options.name ?? 'veo';
  const clock = options.clock ?? systemClock;
  const extra = headerRecord('veo.headers', options.headers);
  return {
    name,
    async call(payload: VeoPayload, ctx: CallContext): Promise<ProviderResponse<VeoResult>> {
      const { model: payloadModel, operationName: resume, ...body } = payloadObject(name, payload);
      const model = typeof payloadModel === 'string' && payloadModel !== '' ? payloadModel : options.model;
      if (!model) throw new TypeError(`${name}: no model (set veo.model or a \`model\` field in the payload)`);
      const fail: FailureContext = { provider: family, adapter: name, secrets: [ctx.key.secret], clock };
      const run: OperationRun = { http: options.http ?? defaultHttpClient(), endpoint, model, headers: { ...extra, ...endpoint.authHeaders(ctx.key.secret) }, fail, ctx, clock };
      let operationName: string;
      let rateLimit: RateLimitSnapshot | undefined;
      if (typeof resume === 'string' && resume !== '') {
        operationName = resume;
      } else {
        const submitted = await submit(run, body);
        operationName = submitted.name;
        rateLimit = submitted.rateLimit;
        options.onSubmitted?.(operationName, ctx);
      }
      const done = await pollUntilDone(run, operationName, poll);
      return { result: finishedResult(done, operationName, fail), status: 200, ...(rateLimit ? { rateLimit } : {}) };
    },
    estimateTokens: options.estimateTokens ?? (() => 0),
  };
}

interface OperationRun {
  http: HttpClient;
  endpoint: GoogleEndpoint;
  model: string;
  headers: Record<string, string>;
  fail: FailureContext;
  ctx: CallContext;
  clock: Clock;
}

async function submit(run: OperationRun, body: Record<string, unknown>): Promise<{ name: string; rateLimit?: RateLimitSnapshot }> {
  const res = await run.http.json(
    { method: 'POST', url: run.endpoint.modelUrl(run.model, 'predictLongRunning'), headers: run.headers, json: body, signal: run.ctx.signal },
    run.fail,
  );
  const name = prop(res.body, 'name');
  if (typeof name !== 'string' || name === '') throw unexpectedShape(res.status, res.body, run.fail, 'the submit answer has no operation `name`', res.rateLimit);
  return { name, ...(res.rateLimit ? { rateLimit: res.rateLimit } : {}) };
}

async function pollUntilDone(run: OperationRun, operationName: string, poll: Required<VeoPollOptions>): Promise<unknown> {
  const started = run.clock.now();
  let failuresInARow = 0;
  for (const delay of veoPollDelays(poll)) {
    if (run.clock.now() - started + delay > poll.maxWaitMs) throw operationTimeout(run, operationName, poll.maxWaitMs);
    await run.clock.sleep(delay, run.ctx.signal);
    let operation: unknown;
    try {
      operation = await fetchOperation(run, operationName);
    } catch (err) {
      // A busy poll endpoint must not fail (and resubmit, and pay for) a video that is being made.
      if (err instanceof SluiceError && err.classification.retryable && ++failuresInARow <= poll.maxPollFailures) continue;
      throw err;
    }
    failuresInARow = 0;
    if (prop(operation, 'done') === true) return operation;
  }
  throw new Error('unreachable: veoPollDelays is infinite');
}

async function fetchOperation(run: OperationRun, operationName: string): Promise<unknown> {
  const req =
    run.endpoint.backend === 'vertex'
      ? { method: 'POST' as const, url: run.endpoint.modelUrl(run.model, 'fetchPredictOperation'), json: { operationName } }
      : { method: 'GET' as const, url: run.endpoint.resourceUrl(operationName) };
  const res = await run.http.json({ ...req, headers: run.headers, signal: run.ctx.signal }, run.fail);
  return res.body;
}

/** Turns a done operation into a result, or throws its classified error / safety block. */
function finishedResult(operation: unknown, operationName: string, fail: FailureContext): VeoResult {
  const error = prop(operation, 'error');
  if (error !== undefined && error !== null) throw operationError(error, operationName, fail);
  const response = prop(operation, 'response');
  // Gemini API nests the samples in generateVideoResponse; Vertex puts `videos` at the top of the response.
  const inner = prop(response, 'generateVideoResponse') ?? response;
  const samples = prop(inner, 'generatedSamples') ?? prop(inner, 'videos');
  const videos = Array.isArray(samples) ? samples.map(toVideo) : [];
  const filteredCount = count(prop(inner, 'raiMediaFilteredCount'));
  if (videos.length === 0) {
    // Done, no video, raiMediaFilteredCount / reasons: the classifier's rule for a filtered operation.
    const filtered = classifyVeoOperation(operation);
    if (filtered) throw adapterFailure({ ...filtered, message: `${fail.adapter}: operation ${operationName}: ${filtered.message}` }, fail);
    throw unexpectedShape(200, operation, fail, `operation ${operationName} is done but has no video`);
  }
  return { operationName, videos, filteredCount, response };
}

function toVideo(sample: unknown): VeoVideo {
  const v = prop(sample, 'video') ?? sample;
  const out: VeoVideo = {};
  const uri = prop(v, 'uri') ?? prop(v, 'gcsUri');
  if (typeof uri === 'string') out.uri = uri;
  const mime = prop(v, 'mimeType');
  if (typeof mime === 'string') out.mimeType = mime;
  const bytes = prop(v, 'bytesBase64Encoded') ?? prop(v, 'videoBytes');
  if (typeof bytes === 'string') out.bytesBase64Encoded = bytes;
  return out;
}

/** gRPC code -> [HTTP status, status name], as Google's HTTP mapping documents it. */
const GRPC: Record<number, [number, string]> = {
  1: [499, 'CANCELLED'],
  2: [500, 'UNKNOWN'],
  3: [400, 'INVALID_ARGUMENT'],
  4: [504, 'DEADLINE_EXCEEDED'],
  5: [404, 'NOT_FOUND'],
  7: [403, 'PERMISSION_DENIED'],
  8: [429, 'RESOURCE_EXHAUSTED'],
  9: [400, 'FAILED_PRECONDITION'],
  13: [500, 'INTERNAL'],
  14: [503, 'UNAVAILABLE'],
  16: [401, 'UNAUTHENTICATED'],
};

/** A done operation's google.rpc.Status, classified as the same status in an HTTP error answer would be. */
function operationError(error: unknown, operationName: string, fail: FailureContext): SluiceError {
  const code = prop(error, 'code');
  const [status, statusName] = (typeof code === 'number' ? GRPC[code] : undefined) ?? [500, 'UNKNOWN'];
  const message = typeof prop(error, 'message') === 'string' ? (prop(error, 'message') as string) : 'operation failed';
  const details = prop(error, 'details');
  const c: Classification = classify(
    { status, headers: {}, body: { error: { code: status, message, status: statusName, ...(Array.isArray(details) ? { details } : {}) } } },
    { provider: fail.provider, now: fail.clock.now() },
  );
  // A safety rejection of the prompt comes back as INVALID_ARGUMENT with a policy message.
  const safety = status === 400 && /safety|policy|responsible ai|prohibited|blocked/i.test(message);
  const classification: Classification = safety
    ? { ...c, kind: 'content_filtered', retryable: false, code: c.code ?? statusName }
    : { ...c, code: c.code ?? statusName };
  return adapterFailure({ ...classification, message: `${fail.adapter}: operation ${operationName} failed: ${c.message}` }, fail);
}

function operationTimeout(run: OperationRun, operationName: string, maxWaitMs: number): SluiceError {
  // Not retryable: a new attempt would submit (and pay for) another video; the name lets a caller resume.
  return adapterFailure(
    { kind: 'timeout', retryable: false, code: 'operation_timeout', message: `${run.fail.adapter}: operation ${operationName} not done after ${maxWaitMs} ms` },
    run.fail,
  );
}

function validatePoll(p: VeoPollOptions): Required<VeoPollOptions> {
  const o = { ...POLL_DEFAULTS, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) } as Required<VeoPollOptions>;
  const check = (field: keyof VeoPollOptions, ok: boolean, rule: string): void => {
    if (!ok) throw new RangeError(`veo.poll.${field} must be ${rule}, got ${String(o[field])}`);
  };
  check('initialDelayMs', Number.isFinite(o.initialDelayMs) && o.initialDelayMs > 0, 'a number > 0');
  check('factor', Number.isFinite(o.factor) && o.factor >= 1, 'a number >= 1');
  check('maxDelayMs', Number.isFinite(o.maxDelayMs) && o.maxDelayMs >= o.initialDelayMs, 'a number >= initialDelayMs');
  check('maxWaitMs', Number.isFinite(o.maxWaitMs) && o.maxWaitMs > 0, 'a number > 0');
  check('maxPollFailures', Number.isInteger(o.maxPollFailures) && o.maxPollFailures >= 0, 'an integer >= 0');
  return o;
}
