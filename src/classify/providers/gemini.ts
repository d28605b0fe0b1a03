/**
 * Gemini API and Vertex AI: `google.rpc.Status` bodies, `{"error":{"code":429,"message":"...",
 * "status":"RESOURCE_EXHAUSTED","details":[QuotaFailure, RetryInfo, ErrorInfo, ...]}}`, which Vertex
 * sometimes wraps in an array; and 200 responses whose prompt or candidates were blocked for safety.
 * See https://ai.google.dev/gemini-api/docs/troubleshooting and https://cloud.google.com/apis/design/errors.
 */
import type { ErrorKind } from '../kinds.js';
import type { ProviderClassifier, Verdict } from '../failure.js';
import { parseDuration } from '../duration.js';
import { wordings } from '../evidence.js';
import { field, isRecord, messageText, numberField, stringField } from '../json.js';
import { scopeFromMessage } from '../message.js';
import { mentionsBilling, mentionsContentPolicy, mentionsSharedCapacity } from '../phrases.js';
import { nextMidnight } from '../zone-time.js';

/** google.rpc.Code names and the kind each means. */
const BY_STATUS: ReadonlyMap<string, ErrorKind> = new Map<string, ErrorKind>([
  ['INVALID_ARGUMENT', 'invalid_request'],
  ['FAILED_PRECONDITION', 'invalid_request'],
  ['OUT_OF_RANGE', 'invalid_request'],
  ['ALREADY_EXISTS', 'invalid_request'],
  ['UNIMPLEMENTED', 'invalid_request'],
  ['UNAUTHENTICATED', 'auth'],
  ['PERMISSION_DENIED', 'auth'],
  ['NOT_FOUND', 'not_found'],
  ['RESOURCE_EXHAUSTED', 'rate_limited'],
  ['ABORTED', 'server_error'],
  ['UNAVAILABLE', 'overloaded'],
  ['INTERNAL', 'server_error'],
  ['UNKNOWN', 'server_error'],
  ['DATA_LOSS', 'server_error'],
  ['DEADLINE_EXCEEDED', 'timeout'],
  ['CANCELLED', 'cancelled'],
]);

/** ErrorInfo reasons that mean the key itself is bad. */
const AUTH_REASONS = new Set([
  'API_KEY_INVALID',
  'API_KEY_EXPIRED',
  'API_KEY_SERVICE_BLOCKED',
  'API_KEY_HTTP_REFERRER_BLOCKED',
  'API_KEY_IP_ADDRESS_BLOCKED',
  'SERVICE_DISABLED',
  'CONSUMER_SUSPENDED',
  'ACCESS_TOKEN_EXPIRED',
  'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
]);

/** Finish and block reasons that mean a safety or policy block (not a truncation). */
const BLOCK_REASONS = new Set([
  'SAFETY',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'RECITATION',
]);

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.';

/** Recognises a Gemini / Vertex error body or a safety-blocked response. */
export const classifyGemini: ProviderClassifier = (f) => {
  const body = Array.isArray(f.body) ? f.body[0] : f.body;
  const err = field(body, 'error');
  const status = stringField(err, 'status');
  if (isRecord(err) && status !== undefined && BY_STATUS.has(status)) return rpcVerdict(err, status, f.now);
  return blockedVerdict(body);
};

function rpcVerdict(err: Record<string, unknown>, status: string, now: number): Verdict {
  const message = messageText(field(err, 'message')) ?? '';
  const details = Array.isArray(err['details']) ? err['details'].filter(isRecord).slice(0, 32) : [];
  const retryAfterMs = retryDelay(details);
  const wait = retryAfterMs === undefined ? {} : { retryAfterMs };
  const base = (kind: ErrorKind, extra: Partial<Verdict> = {}): Verdict => ({ kind, provider: 'gemini', code: status, message, ...wait, ...extra });

  const reason = detailOfType(details, 'ErrorInfo', 'reason');
  if (reason !== undefined && AUTH_REASONS.has(reason)) return base('auth', { code: reason });
  // Code Assist: the model's capacity shared by all its users (corpus codeassist-429-model-capacity-exhausted).
  if (reason === MODEL_CAPACITY_EXHAUSTED) return base('overloaded', { code: reason });
  if (status === 'RESOURCE_EXHAUSTED') return exhaustedVerdict(details, message, now, base, reason);
  // Imagen and Veo reject unsafe prompts as INVALID_ARGUMENT (corpus vertex-400-imagen-safety-filter-threshold).
  if (status === 'INVALID_ARGUMENT' && mentionsContentPolicy(message)) return base('content_filtered');
  return base(BY_STATUS.get(status) ?? 'unknown');
}

const MODEL_CAPACITY_EXHAUSTED = 'MODEL_CAPACITY_EXHAUSTED';

/** "limit: 0" in a quota message: this tier has no access to the model at all; waiting does not help. */
const NO_ACCESS = wordings('zero quota', [['\\blimit: 0\\b', 'gemini-429-limit-0-free-tier-details-cut']]);

/**
 * RESOURCE_EXHAUSTED, read from the most specific signal down:
 * - a QuotaFailure violation, an ErrorInfo `quota_limit`, or a metric named in the message that is per day ->
 *   quota_exhausted, parked until the next midnight Pacific time (when Google resets daily quotas), even when
 *   a RetryInfo of a few seconds rides along (corpus gemini-429-per-day-free-tier-retryinfo-51s);
 * - the same per minute or per second -> rate_limited (cool the key, honour RetryInfo);
 * - "limit: 0" -> quota_exhausted (billing): the tier has no access to the model;
 * - no quota named at all: the pay-as-you-go pool's "Resource exhausted. Please try again later." is shared
 *   capacity (overloaded); "per day" in the message is a daily quota (Code Assist); "You exceeded your current
 *   quota" with neither a QuotaFailure nor a RetryInfo is a spent quota that only resets at midnight (corpus
 *   gemini-429-help-only-exceeded-quota-genai-stream, whose reporter saw it last until midnight); anything else
 *   ("Resource has been exhausted (e.g. check quota).") is an ordinary rate limit.
 */
function exhaustedVerdict(
  details: Record<string, unknown>[],
  message: string,
  now: number,
  base: (kind: ErrorKind, extra?: Partial<Verdict>) => Verdict,
  reason: string | undefined,
): Verdict {
  const code = reason === undefined ? {} : { code: reason };
  const ids = quotaIds(details);
  const quotaLimit = detailMetadata(details, 'ErrorInfo', 'quota_limit');
  if (quotaLimit !== undefined) ids.push(quotaLimit);
  if (ids.length === 0) ids.push(...metricsInMessage(message));
  const daily = (): Verdict => {
    const resumeAt = nextMidnight(now);
    return base('quota_exhausted', { ...code, quotaScope: 'day', ...(resumeAt === undefined ? {} : { resetAt: resumeAt, resumeAt }) });
  };
  if (NO_ACCESS.test(message)) return base('quota_exhausted', { ...code, quotaScope: 'billing' });
  if (ids.some((id) => PER_DAY_ID.test(id))) return daily();
  if (ids.some((id) => PER_MINUTE_ID.test(id))) return base('rate_limited', { ...code, quotaScope: 'minute' });
  if (ids.length > 0) return base('rate_limited', { ...code, quotaScope: 'unknown' });
  if (mentionsSharedCapacity(message)) return base('overloaded', code);
  if (scopeFromMessage(message) === 'day') return daily();
  if (mentionsBilling(message) && retryDelay(details) === undefined) return daily();
  return base('rate_limited', code);
}

/** Quota ids and limits are CamelCase (`GenerateRequestsPerDayPerProjectPerModel-FreeTier`) or snake_case (`..._per_minute_...`). */
const PER_DAY_ID = /per_?day/i;
const PER_MINUTE_ID = /per_?(minute|second)/i;

/** Quota metric names written in a message (`aiplatform.googleapis.com/generate_content_requests_per_minute_...`). */
const METRIC = wordings('quota metric', [['googleapis\\.com/[a-z0-9_]{1,120}', 'vertex-429-quota-exceeded-per-minute-per-base-model-grpc']]);
const METRICS = new RegExp(METRIC.source, 'gi');

function metricsInMessage(message: string): string[] {
  return message.match(METRICS)?.slice(0, 8) ?? [];
}

/** quotaId (or quotaMetric) of every QuotaFailure violation. */
function quotaIds(details: Record<string, unknown>[]): string[] {
  const ids: string[] = [];
  for (const d of details) {
    if (field(d, '@type') !== `${TYPE_PREFIX}QuotaFailure`) continue;
    const violations = field(d, 'violations');
    if (!Array.isArray(violations)) continue;
    for (const v of violations.slice(0, 32)) {
      const id = stringField(v, 'quotaId') ?? stringField(v, 'quotaMetric');
      if (id !== undefined) ids.push(id);
    }
  }
  return ids;
}

/** RetryInfo.retryDelay: `"37s"` in JSON, or `{ seconds, nanos }` in the proto form. */
function retryDelay(details: Record<string, unknown>[]): number | undefined {
  const info = details.find((d) => field(d, '@type') === `${TYPE_PREFIX}RetryInfo`);
  const delay = field(info, 'retryDelay');
  if (typeof delay === 'string') return parseDuration(delay);
  const seconds = numberField(delay, 'seconds');
  if (seconds === undefined) return undefined;
  return parseDuration(`${seconds + (numberField(delay, 'nanos') ?? 0) / 1e9}s`);
}

/** `metadata[key]` of the first detail of a type (ErrorInfo `quota_limit`). */
function detailMetadata(details: Record<string, unknown>[], type: string, key: string): string | undefined {
  const d = details.find((x) => field(x, '@type') === `${TYPE_PREFIX}${type}`);
  return stringField(field(d, 'metadata'), key);
}

function detailOfType(details: Record<string, unknown>[], type: string, key: string): string | undefined {
  const d = details.find((x) => field(x, '@type') === `${TYPE_PREFIX}${type}`);
  return stringField(d, key);
}

/** A 200 generateContent response with `promptFeedback.blockReason` or a candidate stopped for safety. */
function blockedVerdict(body: unknown): Verdict | undefined {
  // Any prompt block reason is a block, including OTHER; candidates finishing with OTHER are not.
  const blockReason = stringField(field(body, 'promptFeedback'), 'blockReason');
  if (blockReason !== undefined && blockReason !== 'BLOCK_REASON_UNSPECIFIED') {
    return { kind: 'content_filtered', provider: 'gemini', code: blockReason, message: `prompt blocked: ${blockReason}` };
  }
  const candidates = field(body, 'candidates');
  if (!Array.isArray(candidates) || candidates.length === 0) return undefined;
  // Blocked only when no candidate finished normally.
  const reasons = candidates.slice(0, 16).map((c) => stringField(c, 'finishReason'));
  const blocked = reasons.filter((r): r is string => r !== undefined && BLOCK_REASONS.has(r));
  if (blocked.length === 0 || blocked.length < reasons.length) return undefined;
  return { kind: 'content_filtered', provider: 'gemini', code: blocked[0], message: `response blocked: finishReason ${blocked[0] ?? ''}` };
}
