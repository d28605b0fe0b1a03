import { DEFAULT_LIMIT_ALGORITHM, LIMIT_ALGORITHMS, type LimitAlgorithm } from './limit-algorithms.js';
import { z } from 'zod';
import type { Clock } from '../clock/clock.js';

/**
 * Faults the simulator can inject. Each can be requested by probability, by schedule, or by a
 * marker `[[fault:<type>]]` anywhere in the prompt text.
 *
 * - `429`: rate-limit answer with a wait hint; `429-no-hint`: the same without any wait hint;
 *   `429-bare`: the same without any rate-limit header at all (real OpenAI 429s often carry none)
 * - `quota`: quota exhausted (OpenAI `insufficient_quota`, Gemini per-day quota, Anthropic/Azure 429)
 * - `503`, `500`, `529` (Anthropic `overloaded_error`; other providers answer 503)
 * - `reset`: the socket is destroyed without an answer; `hang`: no answer until the client aborts or the server closes
 * - `slow`: a correct body sent in chunks with delays; `truncated`: half of a correct JSON body;
 *   `malformed`: a body that is not JSON; `html`: a 502 HTML error page
 * - `400`: the provider's invalid-request answer; `401`: the provider's invalid-key answer
 * - `filtered`: a safety/content-filter result in the provider's shape
 * - `operation-error`: a Veo operation that finishes with an error (other endpoints: 500)
 * - `poll-429`, `poll-503`: a Veo operation whose first poll answers 429 / 503, later polls as usual (other endpoints: 429 / 503)
 * - `stream-error`: a streamed answer that breaks off with the provider's mid-stream error event (OpenAI chat
 *   `data: {"error":...}`, Responses `event: error`, Anthropic `event: error` overloaded_error, a Gemini error chunk);
 *   `response-failed`: a Responses stream that ends with `response.failed` (other streams: as `stream-error`).
 *   A request that does not stream gets the provider's 500.
 */
export const FAULT_TYPES = [
  '429',
  '429-no-hint',
  'quota',
  '503',
  '500',
  '529',
  'reset',
  'hang',
  'slow',
  'truncated',
  'malformed',
  'html',
  '400',
  '401',
  'filtered',
  'operation-error',
  '429-bare',
  'poll-429',
  'poll-503',
  'stream-error',
  'response-failed',
] as const;

/** One of {@link FAULT_TYPES}. */
export type FaultType = (typeof FAULT_TYPES)[number];

const nonNegInt = z.number().int().min(0);
const positiveInt = z.number().int().min(1);
const nonNeg = z.number().min(0).refine(Number.isFinite, 'must be finite');

const limitsShape = {
  /** Requests admitted per sliding window (`windowMs`, default one minute). */
  requestsPerMinute: positiveInt.optional(),
  /** Tokens admitted per sliding window: request text chars / 4 + the request's max output tokens. */
  tokensPerMinute: positiveInt.optional(),
  /** Requests admitted per day (fixed days of `dayMs` starting at the epoch, i.e. UTC midnights by default). */
  requestsPerDay: positiveInt.optional(),
  /** Requests of this key being served at the same time. */
  maxConcurrent: positiveInt.optional(),
};

const latencySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('fixed'), ms: nonNeg }),
  z.strictObject({ type: z.literal('uniform'), min: nonNeg, max: nonNeg }),
  z.strictObject({ type: z.literal('normal'), mean: nonNeg, p99: nonNeg }),
  z.strictObject({ type: z.literal('lognormal'), mean: z.number().gt(0), p99: z.number().gt(0) }),
]);

const faultTypeSchema = z.enum(FAULT_TYPES);

/** zod schema of {@link SimulatorOptions} without `clock` (which is not JSON). The CLI validates config files with it. */
export const simulatorOptionsSchema = z.strictObject({
  /** Interface to listen on. Default `127.0.0.1`. */
  host: z.string().min(1).optional(),
  /** Port; 0 (default) picks a free one. */
  port: z.number().int().min(0).max(65535).optional(),
  /** Seed of every random decision (faults by probability, latency, ids), so a run can be replayed. Default 1. */
  seed: z.number().int().optional(),
  /**
   * Known keys. When absent or empty, every non-empty key is accepted with the default `limits`.
   * `secret` is what clients send; `name` is what stats report (default `key-<n>`), never the secret.
   */
  keys: z
    .array(
      z.strictObject({
        name: z.string().min(1).optional(),
        secret: z.string().min(1),
        ...limitsShape,
        /** After this many requests (of any outcome) the key is revoked: every later request gets the provider's 401. */
        revokeAfter: nonNegInt.optional(),
      }),
    )
    .optional(),
  /** Default limits of every key (a key's own fields override them). Absent fields mean no limit. */
  limits: z.strictObject(limitsShape).optional(),
  /** Length of the "minute" window in ms. Default 60,000. Tests may shrink it. */
  windowMs: positiveInt.optional(),
  /**
   * How the per-window limits are enforced (see `limit-algorithms.ts`): `token-bucket` (default; a burst
   * of `burstFraction` of the limit, then an even refill, and resets reported as the time to refill, as
   * OpenAI documents), `leaky-bucket` (even spacing, no burst), `fixed-window` (the whole allowance at
   * any moment of a window aligned to the epoch), `sliding-window` (a log: the allowance in any window).
   */
  limiter: z
    .strictObject({
      algorithm: z.enum(LIMIT_ALGORITHMS).optional(),
      /** Token bucket capacity as a share of the limit, in (0, 1]. Default 1/60 (one second of a per-minute limit). */
      burstFraction: z.number().gt(0).max(1).optional(),
    })
    .optional(),
  /** Length of the "day" in ms. Default 86,400,000. */
  dayMs: positiveInt.optional(),
  /** Send the providers' rate-limit headers on every answer. Default true; false makes clients learn from 429s. */
  rateLimitHeaders: z.boolean().optional(),
  /** Whether 429s caused by the enforced limits carry a wait hint (retry-after, retry-after-ms, RetryInfo). Default true. */
  retryAfterHint: z.boolean().optional(),
  /** Wait hint of injected `429` faults, in ms. Default 1,000. */
  faultRetryAfterMs: positiveInt.optional(),
  /** Latency added before each answer. Default none. */
  latency: latencySchema.optional(),
  faults: z
    .strictObject({
      /** Probability (0..1) of each fault per request, drawn from the seeded generator. Their sum must be <= 1. */
      probabilities: z.partialRecord(faultTypeSchema, z.number().min(0).max(1)).optional(),
      /**
       * Scheduled faults. By count: requests `from`..`to` (1-based arrival numbers, inclusive; of the key's
       * requests when `key` is given) get `fault`. By time: requests arriving `fromMs`..`toMs` (exclusive) after
       * the start (or the last stats reset), on the simulator's clock, get `fault` (an outage, a 503 burst).
       */
      schedule: z
        .array(
          z.strictObject({
            from: positiveInt.optional(),
            to: positiveInt.optional(),
            fromMs: nonNeg.optional(),
            toMs: nonNeg.optional(),
            fault: faultTypeSchema,
            key: z.string().min(1).optional(),
          }),
        )
        .optional(),
      /** Honour `[[fault:<type>]]` markers in prompts. Default true. */
      markers: z.boolean().optional(),
    })
    .optional(),
  /** Slow bodies: number of chunks and delay between them. Defaults 5 chunks, 200 ms. */
  slowBody: z.strictObject({ chunks: positiveInt.optional(), delayMs: nonNeg.optional() }).optional(),
  /** Veo operations: time to completion, and probabilities of finishing with an error or a safety filter. */
  operations: z
    .strictObject({
      durationMs: nonNeg.optional(),
      errorProbability: z.number().min(0).max(1).optional(),
      filteredProbability: z.number().min(0).max(1).optional(),
    })
    .optional(),
  /** Largest accepted request body in bytes; bigger ones get 413. Default 4 MiB. */
  maxBodyBytes: positiveInt.optional(),
  /** Per-request log entries kept for stats (arrival, key, outcome). Default 1,000,000; later ones are counted as dropped. */
  maxLogEntries: nonNegInt.optional(),
  /** Length of embedding vectors returned. Default 8. */
  embeddingDimensions: positiveInt.max(4096).optional(),
});

/** Options of {@link startSimulator}: JSON-able, validated with {@link simulatorOptionsSchema}, plus an optional clock. */
export type SimulatorOptions = z.input<typeof simulatorOptionsSchema> & {
  /** Source of time for windows, latency and operations. Default: the system clock. */
  clock?: Clock;
};

/** Latency distribution of {@link SimulatorOptions.latency}. */
export type LatencyOptions = z.infer<typeof latencySchema>;

/** Per-key limits, resolved. */
export interface KeyLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  requestsPerDay?: number;
  maxConcurrent?: number;
  revokeAfter?: number;
}

/** One configured key, resolved. */
export interface KeySpec extends KeyLimits {
  name: string;
  secret: string;
}

/** A schedule entry, resolved: by arrival number (`from`/`to`) or by time since start (`fromMs`/`toMs`). */
export interface ScheduledFault {
  from?: number;
  to?: number;
  fromMs?: number;
  toMs?: number;
  fault: FaultType;
  key?: string;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  host: string;
  port: number;
  seed: number;
  keys: KeySpec[];
  limits: KeyLimits;
  windowMs: number;
  /** The limit algorithm and its burst. */
  limiter: { algorithm: LimitAlgorithm; burstFraction?: number };
  dayMs: number;
  rateLimitHeaders: boolean;
  retryAfterHint: boolean;
  faultRetryAfterMs: number;
  latency: LatencyOptions;
  probabilities: [FaultType, number][];
  schedule: ScheduledFault[];
  markers: boolean;
  slowChunks: number;
  slowDelayMs: number;
  operationMs: number;
  operationErrorProbability: number;
  operationFilteredProbability: number;
  maxBodyBytes: number;
  maxLogEntries: number;
  embeddingDimensions: number;
}

/** Validates options and applies defaults. Throws a `TypeError` naming the offending field. */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const { clock: _clock, ...plain } = options;
  const parsed = simulatorOptionsSchema.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : '(options)';
    throw new TypeError(`simulator options: ${field}: ${issue?.message ?? 'invalid'}`);
  }
  const o = parsed.data;
  const keys = (o.keys ?? []).map((k, i) => ({ ...k, name: k.name ?? `key-${i + 1}` }));
  checkUnique(keys);
  const probabilities = Object.entries(o.faults?.probabilities ?? {}).filter(([, p]) => (p ?? 0) > 0) as [FaultType, number][];
  const sum = probabilities.reduce((s, [, p]) => s + p, 0);
  if (sum > 1 + 1e-9) throw new RangeError(`simulator options: faults.probabilities must sum to <= 1, got ${sum}`);
  for (const [i, s] of (o.faults?.schedule ?? []).entries()) checkScheduled(s, `faults.schedule.${i}`);
  const latency = o.latency ?? { type: 'none' };
  checkLatency(latency);
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    seed: o.seed ?? 1,
    keys,
    limits: o.limits ?? {},
    windowMs: o.windowMs ?? 60_000,
    limiter: {
      algorithm: o.limiter?.algorithm ?? DEFAULT_LIMIT_ALGORITHM,
      ...(o.limiter?.burstFraction !== undefined ? { burstFraction: o.limiter.burstFraction } : {}),
    },
    dayMs: o.dayMs ?? 86_400_000,
    rateLimitHeaders: o.rateLimitHeaders ?? true,
    retryAfterHint: o.retryAfterHint ?? true,
    faultRetryAfterMs: o.faultRetryAfterMs ?? 1000,
    latency,
    probabilities,
    schedule: o.faults?.schedule ?? [],
    markers: o.faults?.markers ?? true,
    slowChunks: o.slowBody?.chunks ?? 5,
    slowDelayMs: o.slowBody?.delayMs ?? 200,
    operationMs: o.operations?.durationMs ?? 10_000,
    operationErrorProbability: o.operations?.errorProbability ?? 0,
    operationFilteredProbability: o.operations?.filteredProbability ?? 0,
    maxBodyBytes: o.maxBodyBytes ?? 4 * 1024 * 1024,
    maxLogEntries: o.maxLogEntries ?? 1_000_000,
    embeddingDimensions: o.embeddingDimensions ?? 8,
  };
}

function checkUnique(keys: KeySpec[]): void {
  const names = new Set<string>();
  const secrets = new Set<string>();
  keys.forEach((k, i) => {
    if (names.has(k.name)) throw new RangeError(`simulator options: keys.${i}.name is a duplicate: ${k.name}`);
    if (secrets.has(k.secret)) throw new RangeError(`simulator options: keys.${i}.secret is a duplicate (of another key)`);
    names.add(k.name);
    secrets.add(k.secret);
  });
}

function checkLatency(l: LatencyOptions): void {
  if (l.type === 'uniform' && l.max < l.min) throw new RangeError(`simulator options: latency.max must be >= latency.min`);
  if ((l.type === 'normal' || l.type === 'lognormal') && l.p99 < l.mean) {
    throw new RangeError(`simulator options: latency.p99 must be >= latency.mean`);
  }
}

function checkScheduled(s: ScheduledFault, field: string): void {
  const byCount = s.from !== undefined || s.to !== undefined;
  const byTime = s.fromMs !== undefined || s.toMs !== undefined;
  if (byCount === byTime) throw new RangeError(`simulator options: ${field} needs either from and to, or fromMs and toMs`);
  if (byCount && (s.from === undefined || s.to === undefined || s.to < s.from)) {
    throw new RangeError(`simulator options: ${field}: from and to are both required, with to >= from`);
  }
  if (byTime && (s.fromMs === undefined || s.toMs === undefined || s.toMs <= s.fromMs)) {
    throw new RangeError(`simulator options: ${field}: fromMs and toMs are both required, with toMs > fromMs`);
  }
}
