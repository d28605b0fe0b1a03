/**
 * The limiter scenarios of the limiter bench (issue 10), shared by the bench and the server process:
 * which algorithm stands in front of the static answer, which package implements it, and what the
 * client is told in each mode.
 *
 * Every limit is derived from one rate `r` (requests per second per key), so that N / (r * keys) is the
 * theoretical minimum time of every scenario.
 */

/** What the server tells the client about its limits. */
export type HeaderMode =
  /** The headers the library emits itself, or, for a library that emits none, the ones its docs recommend. */
  | 'headers'
  /** A 429 with no rate-limit header and no Retry-After. */
  | 'blind'
  /** A 429 with only `Retry-After` (whole seconds, as HTTP defines it). */
  | 'retry-after';

export const HEADER_MODES: readonly HeaderMode[] = ['headers', 'blind', 'retry-after'];

/** The limiter algorithms the server can put in front of the answer. */
export const ALGORITHMS = [
  'fixed-window-ietf',
  'fixed-window-draft7',
  'fixed-window-legacy',
  'fixed-window-flexible',
  'token-bucket',
  'leaky-bucket',
  'sliding-window',
  'sliding-window-strict',
  'concurrency',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** What one algorithm is, for the printed table and docs/PERFORMANCE.md. */
export interface AlgorithmInfo {
  /** The package (and class or option) that implements it. */
  readonly implementation: string;
  /** The limit in words, for rate r per second and fixed windows of w seconds. */
  readonly limit: (rate: number, windowSeconds: number) => string;
  /** The header modes it is run in by default (others can be asked for). */
  readonly modes: readonly HeaderMode[];
}

/** The token bucket holds this many seconds' worth of tokens. */
export const TOKEN_BUCKET_BURST_SECONDS = 0.5;
/** The leaky bucket's queue holds this many requests (the "burst"); beyond it, 429. */
export const LEAKY_BUCKET_QUEUE = 5;
/** Requests in flight per key allowed by the concurrency cap; the answer's latency sets the rate. */
export const CONCURRENCY_CAP = 2;

export const ALGORITHM_INFO: Record<Algorithm, AlgorithmInfo> = {
  'fixed-window-ietf': {
    implementation: "express-rate-limit MemoryStore, standardHeaders 'draft-8' (RateLimit / RateLimit-Policy)",
    limit: (r, w) => `${r * w} per ${w} s fixed window`,
    modes: ['headers', 'blind'],
  },
  'fixed-window-draft7': {
    implementation: "express-rate-limit MemoryStore, standardHeaders 'draft-7' (RateLimit: limit=, remaining=, reset=)",
    limit: (r, w) => `${r * w} per ${w} s fixed window`,
    modes: ['headers'],
  },
  'fixed-window-legacy': {
    implementation: 'express-rate-limit MemoryStore, legacyHeaders (X-RateLimit-Limit/-Remaining/-Reset as epoch seconds)',
    limit: (r, w) => `${r * w} per ${w} s fixed window`,
    modes: ['headers'],
  },
  'fixed-window-flexible': {
    implementation: "rate-limiter-flexible RateLimiterMemory, the README's headers (Retry-After, X-RateLimit-Limit/-Remaining/-Reset)",
    limit: (r, w) => `${r * w} per ${w} s fixed window (starts at a key's first request)`,
    modes: ['headers', 'blind', 'retry-after'],
  },
  'token-bucket': {
    implementation: "limiter TokenBucket (tryRemoveTokens), headers as rate-limiter-flexible's README recommends",
    limit: (r) => `token bucket of ${Math.max(1, Math.round(r * TOKEN_BUCKET_BURST_SECONDS))}, refilled at ${r}/s`,
    modes: ['headers', 'blind'],
  },
  'leaky-bucket': {
    implementation: 'rate-limiter-flexible RateLimiterQueue over RateLimiterMemory (1 point per 1/r s)',
    limit: (r) => `leaky bucket draining ${r}/s, queue of ${LEAKY_BUCKET_QUEUE}, 429 when the queue is full`,
    modes: ['blind', 'retry-after'],
  },
  'sliding-window': {
    implementation: "rolling-rate-limiter InMemoryRateLimiter (sliding log; only served requests count), headers as rate-limiter-flexible's README recommends",
    limit: (r) => `${r} served in any rolling 1 s`,
    modes: ['headers', 'blind'],
  },
  'sliding-window-strict': {
    implementation: "rolling-rate-limiter InMemoryRateLimiter as its README uses it: limit() per request, a blocked attempt still counts",
    limit: (r) => `${r} attempts (served or not) in any rolling 1 s`,
    modes: ['blind'],
  },
  concurrency: {
    implementation: `a counter of requests in flight per key (${CONCURRENCY_CAP})`,
    limit: () => `${CONCURRENCY_CAP} in flight per key; the answer's latency sets the rate`,
    modes: ['blind'],
  },
};

/** The configuration the bench hands to the server process (as JSON in SLUICE_LIMITER_SERVER). */
export interface ServerConfig {
  readonly algorithm: Algorithm;
  readonly mode: HeaderMode;
  /** Requests per second per key. */
  readonly rate: number;
  /** Length of the fixed windows, s (a window holds rate * windowSeconds requests). */
  readonly windowSeconds: number;
  /** Bearer secrets of the keys, each limited on its own. */
  readonly secrets: readonly string[];
  /** Time the static answer takes, ms. */
  readonly latencyMs: number;
}
