/**
 * `parseRateLimitHeaders`: reads what a response says about the key's quota, from every header family
 * providers use. Total: never throws; a missing or malformed value yields nothing rather than a guess.
 *
 * | family | headers | window | reset means |
 * |---|---|---|---|
 * | openai | `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (duration `6m0s`), same for `-tokens` | 1 min (documented RPM/TPM) | time to refill ("resets to its initial state") |
 * | azure | `x-ratelimit-remaining-requests` / `-tokens` only (no limit, no reset) | 1 min | — |
 * | anthropic | `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` (RFC 3339 reset) | 1 min | when "fully replenished" (token bucket) |
 * | ietf | `RateLimit: limit=100, remaining=50, reset=30` + `RateLimit-Policy: 100;w=5` (draft 7), `RateLimit: "default";r=50;t=30` + `RateLimit-Policy: "default";q=100;w=60` (draft 8+), `RateLimit-Limit/-Remaining/-Reset` + `RateLimit-Policy` (draft 6) | `w` of the policy | the window ends |
 * | legacy | `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds if large, else delta seconds, or a date) | not stated | the window ends |
 *
 * Sources: OpenAI "Rate limits" guide (headers table); Anthropic "Rate limits" (response headers, token
 * bucket); draft-ietf-httpapi-ratelimit-headers-06/-07/-08; express-rate-limit's `standardHeaders`
 * (draft-6/7/8) and `legacyHeaders`.
 */
import { toHeaderMap, type HeaderMap } from '../headers.js';
import { parseResetTime } from '../retry-after.js';
import type { RateLimitSnapshot, RateLimitWindow } from './snapshot.js';

/** The per-minute families' window (OpenAI, Azure and Anthropic document RPM / TPM limits). */
const MINUTE_MS = 60_000;

/** Headers as `Headers`, a record (string or string[] values) or `[name, value]` pairs. */
export type HeadersInput = Headers | Record<string, unknown> | ReadonlyArray<readonly [string, string]> | unknown;

/** A count: a non-negative decimal, at most 15 digits (larger is not a real quota). */
const COUNT = /^\d{1,15}(?:\.\d{1,6})?$/;

function count(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  return COUNT.test(s) ? Number(s) : undefined;
}

function windowOf(limit: number | undefined, remaining: number | undefined, resetAt: number | undefined, windowMs?: number): RateLimitWindow | undefined {
  const w: RateLimitWindow = {};
  if (limit !== undefined) w.limit = limit;
  if (remaining !== undefined) w.remaining = remaining;
  if (resetAt !== undefined) w.resetAt = resetAt;
  if (Object.keys(w).length === 0) return undefined;
  if (windowMs !== undefined) w.windowMs = windowMs;
  return w;
}

function read(h: HeaderMap, prefix: string, suffixes: [string, string, string], now: number): RateLimitWindow | undefined {
  return windowOf(
    count(h.get(prefix + suffixes[0])),
    count(h.get(prefix + suffixes[1])),
    parseResetTime(h.get(prefix + suffixes[2]), now),
    MINUTE_MS,
  );
}

function openai(h: HeaderMap, now: number): RateLimitSnapshot | undefined {
  const requests = windowOf(
    count(h.get('x-ratelimit-limit-requests')),
    count(h.get('x-ratelimit-remaining-requests')),
    parseResetTime(h.get('x-ratelimit-reset-requests'), now),
    MINUTE_MS,
  );
  const tokens = windowOf(
    count(h.get('x-ratelimit-limit-tokens')),
    count(h.get('x-ratelimit-remaining-tokens')),
    parseResetTime(h.get('x-ratelimit-reset-tokens'), now),
    MINUTE_MS,
  );
  if (!requests && !tokens) return undefined;
  const hasLimitOrReset = [requests, tokens].some((w) => w?.limit !== undefined || w?.resetAt !== undefined);
  const snap: RateLimitSnapshot = { at: now, source: hasLimitOrReset ? 'openai' : 'azure' };
  if (requests) snap.requests = requests;
  if (tokens) snap.tokens = tokens;
  return snap;
}

function anthropic(h: HeaderMap, now: number): RateLimitSnapshot | undefined {
  const sfx: [string, string, string] = ['-limit', '-remaining', '-reset'];
  const requests = read(h, 'anthropic-ratelimit-requests', sfx, now);
  const tokens = read(h, 'anthropic-ratelimit-tokens', sfx, now);
  const inputTokens = read(h, 'anthropic-ratelimit-input-tokens', sfx, now);
  const outputTokens = read(h, 'anthropic-ratelimit-output-tokens', sfx, now);
  if (!requests && !tokens && !inputTokens && !outputTokens) return undefined;
  const snap: RateLimitSnapshot = { at: now, source: 'anthropic' };
  if (requests) snap.requests = requests;
  if (tokens) snap.tokens = tokens;
  if (inputTokens) snap.inputTokens = inputTokens;
  if (outputTokens) snap.outputTokens = outputTokens;
  return snap;
}

/**
 * The first member of a structured-field list or dictionary: its bare value (`100` in draft 7's
 * `RateLimit-Policy: 100;w=5`) and its parameters (`"default";r=50;t=30`, or draft 7's dictionary
 * `limit=100, remaining=50, reset=30`).
 */
function structuredFirst(value: string): { bare?: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  // Draft 7's RateLimit is a dictionary (`a=1, b=2`); drafts 6/7 policies and draft 8+ fields are lists
  // whose items carry `;k=v` params. A list item is cut at its comma; a dictionary is read whole.
  const isList = value.includes(';');
  const first = isList ? (value.split(',')[0] ?? '') : value;
  const parts = first.split(isList ? ';' : ',');
  let bare: string | undefined;
  parts.slice(0, 16).forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      if (i === 0 && isList) bare = part.trim();
      return;
    }
    const k = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1).trim();
    if (k && !params.has(k)) params.set(k, v);
  });
  return bare !== undefined ? { bare, params } : { params };
}

/** IETF delta-seconds reset (never an epoch). */
function deltaReset(value: string | undefined, now: number): number | undefined {
  const n = count(value);
  return n === undefined || n > 366 * 86_400 ? undefined : now + Math.ceil(n * 1000);
}

/** A policy's quota (`q=`, or the bare item of drafts 6/7) and window (`w=` seconds, as ms). */
function policyOf(h: HeaderMap): { quota?: number; windowMs?: number } {
  const policy = h.get('ratelimit-policy');
  if (policy === undefined || policy.length > 1024) return {};
  const { bare, params } = structuredFirst(policy);
  const quota = count(params.get('q') ?? bare);
  const w = count(params.get('w'));
  const out: { quota?: number; windowMs?: number } = {};
  if (quota !== undefined) out.quota = quota;
  if (w !== undefined && w > 0 && w <= 366 * 86_400) out.windowMs = w * 1000;
  return out;
}

function ietf(h: HeaderMap, now: number): RateLimitSnapshot | undefined {
  const policy = policyOf(h);
  let requests: RateLimitWindow | undefined;
  const field = h.get('ratelimit');
  if (field !== undefined && field.length <= 1024) {
    const { params: p } = structuredFirst(field);
    requests = windowOf(
      count(p.get('limit')) ?? policy.quota,
      count(p.get('remaining') ?? p.get('r')),
      deltaReset(p.get('reset') ?? p.get('t'), now),
      policy.windowMs,
    );
  }
  requests ??= windowOf(
    count(h.get('ratelimit-limit')) ?? policy.quota,
    count(h.get('ratelimit-remaining')),
    deltaReset(h.get('ratelimit-reset'), now),
    policy.windowMs,
  );
  return requests ? { at: now, source: 'ietf', requests } : undefined;
}

function legacy(h: HeaderMap, now: number): RateLimitSnapshot | undefined {
  const requests = windowOf(
    count(h.get('x-ratelimit-limit')),
    count(h.get('x-ratelimit-remaining')),
    parseResetTime(h.get('x-ratelimit-reset'), now),
  );
  return requests ? { at: now, source: 'legacy', requests } : undefined;
}

/**
 * Parses rate-limit headers into a snapshot taken at `now` (ms since epoch; durations become absolute
 * reset times). Returns `undefined` when no family is recognised. Never throws.
 */
export function parseRateLimitHeaders(headers: HeadersInput, now: number): RateLimitSnapshot | undefined {
  try {
    if (!Number.isFinite(now)) return undefined;
    const h = toHeaderMap(headers);
    if (h.size === 0) return undefined;
    return anthropic(h, now) ?? openai(h, now) ?? ietf(h, now) ?? legacy(h, now);
  } catch {
    return undefined;
  }
}
