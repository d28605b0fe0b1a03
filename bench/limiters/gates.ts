/**
 * One express middleware per limiter algorithm of the limiter bench, each built from a package the
 * project did not write, keyed per API key (`res.locals.keyIndex`, set by the server's auth step).
 * A gate either calls `next()` (the request reaches the static answer) or answers 429 itself.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit, type Options as ExpressRateLimitOptions } from 'express-rate-limit';
import { TokenBucket } from 'limiter';
import { RateLimiterMemory, RateLimiterQueue, RateLimiterRes } from 'rate-limiter-flexible';
import { InMemoryRateLimiter, type RateLimitInfo } from 'rolling-rate-limiter';
import {
  CONCURRENCY_CAP,
  LEAKY_BUCKET_QUEUE,
  TOKEN_BUCKET_BURST_SECONDS,
  type Algorithm,
  type HeaderMode,
} from './scenarios.js';

/**
 * The body of every 429: OpenAI's error shape with express-rate-limit's default message, and no wait in
 * the text (a wait, where the mode gives one, is only in the headers).
 */
export const RATE_LIMITED_BODY = {
  error: { message: 'Too many requests, please try again later.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
};

function keyOf(res: Response): string {
  return String(res.locals.keyIndex);
}

function reject(res: Response, retryAfterMs: number | undefined, mode: HeaderMode): void {
  if (mode === 'retry-after' && retryAfterMs !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  res.status(429).json(RATE_LIMITED_BODY);
}

/**
 * The headers rate-limiter-flexible's README recommends, verbatim (its `Retry-After` is in fractional
 * seconds: `msBeforeNext / 1000`). Used for the libraries that emit no headers of their own.
 */
function readmeHeaders(res: Response, limit: number, remaining: number, msBeforeNext: number, rejected: boolean): void {
  if (rejected) res.setHeader('Retry-After', String(msBeforeNext / 1000));
  res.setHeader('X-RateLimit-Limit', String(limit));
  res.setHeader('X-RateLimit-Remaining', String(remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil((Date.now() + msBeforeNext) / 1000)));
}

/** express-rate-limit's fixed window; the header family is the library's own option. */
function expressRateLimit(rate: number, windowSeconds: number, mode: HeaderMode, family: 'draft-8' | 'draft-7' | 'legacy'): RequestHandler {
  const windowMs = windowSeconds * 1000;
  const headers = mode === 'headers';
  const options: Partial<ExpressRateLimitOptions> = {
    windowMs,
    limit: rate * windowSeconds,
    standardHeaders: headers && family !== 'legacy' ? family : false,
    legacyHeaders: headers && family === 'legacy',
    keyGenerator: (_req, res) => keyOf(res),
    identifier: `${rate * windowSeconds}-in-${windowSeconds}sec`,
    validate: false,
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      reject(res, reset ? reset.getTime() - Date.now() : windowMs, mode);
    },
  };
  return rateLimit(options);
}

/** rate-limiter-flexible's fixed window (RateLimiterMemory), headers as its README shows. */
function flexibleFixedWindow(rate: number, windowSeconds: number, mode: HeaderMode): RequestHandler {
  const points = rate * windowSeconds;
  const limiter = new RateLimiterMemory({ points, duration: windowSeconds });
  return (_req: Request, res: Response, next: NextFunction) => {
    limiter.consume(keyOf(res)).then(
      (r) => {
        if (mode === 'headers') readmeHeaders(res, points, r.remainingPoints, r.msBeforeNext, false);
        next();
      },
      (r: unknown) => {
        if (!(r instanceof RateLimiterRes)) return next(r);
        if (mode === 'headers') readmeHeaders(res, points, r.remainingPoints, r.msBeforeNext, true);
        reject(res, r.msBeforeNext, mode);
      },
    );
  };
}

/** limiter's TokenBucket: a burst of r * TOKEN_BUCKET_BURST_SECONDS (full at a key's first request), refilled continuously at r per second. */
function tokenBucket(rate: number, mode: HeaderMode): RequestHandler {
  const bucketSize = Math.max(1, Math.round(rate * TOKEN_BUCKET_BURST_SECONDS));
  const buckets = new Map<string, TokenBucket>();
  return (_req: Request, res: Response, next: NextFunction) => {
    const key = keyOf(res);
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket({ bucketSize, tokensPerInterval: rate, interval: 'second' });
      // limiter's buckets start empty; an API's start full (a key's first burst is allowed).
      bucket.content = bucketSize;
      buckets.set(key, bucket);
    }
    const allowed = bucket.tryRemoveTokens(1);
    // Time until one token (on a 429) or until the bucket is full again (on a success).
    const waitMs = allowed ? ((bucketSize - bucket.content) * 1000) / rate : bucket.getWaitTime(1);
    if (mode === 'headers') readmeHeaders(res, bucketSize, Math.floor(bucket.content), waitMs, !allowed);
    if (allowed) next();
    else reject(res, waitMs, mode);
  };
}

/**
 * rate-limiter-flexible's RateLimiterQueue over a limiter of one point per 1/r s: requests wait in a FIFO
 * queue and leave it at r per second; one that finds the queue full is answered 429 at once.
 */
function leakyBucket(rate: number, mode: HeaderMode): RequestHandler {
  const drip = new RateLimiterMemory({ points: 1, duration: 1 / rate });
  const queue = new RateLimiterQueue(drip, { maxQueueSize: LEAKY_BUCKET_QUEUE });
  return (_req: Request, res: Response, next: NextFunction) => {
    queue.removeTokens(1, keyOf(res)).then(
      () => next(),
      () => reject(res, (LEAKY_BUCKET_QUEUE * 1000) / rate, mode),
    );
  };
}

/**
 * rolling-rate-limiter's in-memory sliding log, r per rolling second. `strict` uses it as its README shows
 * (`limit()` per request, so a blocked attempt still counts and a client that keeps trying at the limit
 * stays blocked); otherwise only served requests count, as APIs count them (`wouldLimitWithInfo()` first:
 * the two steps run within one event-loop turn, so no other request comes between them).
 */
function slidingWindow(rate: number, mode: HeaderMode, strict: boolean): RequestHandler {
  const limiter = new InMemoryRateLimiter({ interval: 1000, maxInInterval: rate });
  const decide = async (key: string): Promise<RateLimitInfo> => {
    if (strict) return limiter.limitWithInfo(key);
    const would = await limiter.wouldLimitWithInfo(key);
    return would.blocked ? would : limiter.limitWithInfo(key);
  };
  return (_req: Request, res: Response, next: NextFunction) => {
    decide(keyOf(res)).then((info) => {
      if (mode === 'headers') readmeHeaders(res, rate, info.actionsRemaining, info.millisecondsUntilAllowed, info.blocked);
      if (info.blocked) reject(res, info.millisecondsUntilAllowed, mode);
      else next();
    }, next);
  };
}

/** At most CONCURRENCY_CAP requests of a key in flight; the slot is freed when the answer is sent or the socket closes. */
function concurrencyCap(mode: HeaderMode): RequestHandler {
  const inFlight = new Map<string, number>();
  return (_req: Request, res: Response, next: NextFunction) => {
    const key = keyOf(res);
    const n = inFlight.get(key) ?? 0;
    if (n >= CONCURRENCY_CAP) return reject(res, 1000, mode);
    inFlight.set(key, n + 1);
    res.once('close', () => inFlight.set(key, (inFlight.get(key) ?? 1) - 1));
    next();
  };
}

/** The gate of one algorithm at rate r (requests per second per key), fixed windows of `windowSeconds`. */
export function gate(algorithm: Algorithm, rate: number, windowSeconds: number, mode: HeaderMode): RequestHandler {
  switch (algorithm) {
    case 'fixed-window-ietf':
      return expressRateLimit(rate, windowSeconds, mode, 'draft-8');
    case 'fixed-window-draft7':
      return expressRateLimit(rate, windowSeconds, mode, 'draft-7');
    case 'fixed-window-legacy':
      return expressRateLimit(rate, windowSeconds, mode, 'legacy');
    case 'fixed-window-flexible':
      return flexibleFixedWindow(rate, windowSeconds, mode);
    case 'token-bucket':
      return tokenBucket(rate, mode);
    case 'leaky-bucket':
      return leakyBucket(rate, mode);
    case 'sliding-window':
      return slidingWindow(rate, mode, false);
    case 'sliding-window-strict':
      return slidingWindow(rate, mode, true);
    case 'concurrency':
      return concurrencyCap(mode);
  }
}
