/**
 * Anthropic's error format: `{"type":"error","error":{"type":"rate_limit_error","message":"..."}}`.
 * See https://docs.anthropic.com/en/api/errors. 529 `overloaded_error` is capacity, not this caller's
 * limit; a spend or credit limit arrives as a 400 or 429 whose message says so.
 */
import type { ErrorKind } from '../kinds.js';
import type { ProviderClassifier, Verdict } from '../failure.js';
import { field, isRecord, messageText, stringField } from '../json.js';
import { requestExceedsLimit } from '../message.js';
import { wordings } from '../evidence.js';
import { mentionsBilling } from '../phrases.js';
import { kindFromStatus } from '../status.js';
import { firstOfNextMonthUtc } from '../zone-time.js';

const BY_TYPE: ReadonlyMap<string, ErrorKind> = new Map<string, ErrorKind>([
  ['invalid_request_error', 'invalid_request'],
  ['authentication_error', 'auth'],
  ['permission_error', 'auth'],
  ['billing_error', 'quota_exhausted'],
  ['not_found_error', 'not_found'],
  ['request_too_large', 'invalid_request'],
  ['rate_limit_error', 'rate_limited'],
  ['api_error', 'server_error'],
  ['timeout_error', 'timeout'],
  ['overloaded_error', 'overloaded'],
]);

/** Recognises an Anthropic error body. */
export const classifyAnthropic: ProviderClassifier = (f) => {
  const err = field(f.body, 'error');
  const type = stringField(err, 'type');
  if (!isRecord(err) || type === undefined) return undefined;
  // `invalid_request_error` is OpenAI's type too; the other types and the envelope are Anthropic's own.
  const isAnthropic =
    field(f.body, 'type') === 'error' ||
    [...f.headers.keys()].some((h) => h.startsWith('anthropic-')) ||
    (type !== 'invalid_request_error' && BY_TYPE.has(type) && field(err, 'code') === undefined);
  // OpenAI's Responses stream sends `{"type":"error","error":{"code",...}}` too: a type Anthropic does not
  // have, with a code, is OpenAI's (corpus openai-responses-stream-error-event-overloaded).
  if (!isAnthropic || (!BY_TYPE.has(type) && field(err, 'code') !== undefined)) return undefined;
  const message = messageText(field(err, 'message')) ?? '';
  const verdict = (kind: ErrorKind, extra: Partial<Verdict> = {}): Verdict => ({ kind, provider: 'anthropic', code: type, message, ...extra });

  const spendLimit = stringField(field(err, 'details'), 'error_code') === ENFORCED_SPEND_LIMIT;
  if (type === 'billing_error' || spendLimit || mentionsBilling(message)) {
    // The tier's monthly spend cap lifts at 00:00 UTC on the first day of the next month.
    const resumeAt = regainAccessAt(message) ?? (spendLimit ? firstOfNextMonthUtc(f.now) : undefined);
    return verdict('quota_exhausted', { quotaScope: 'billing', ...(resumeAt === undefined ? {} : { resetAt: resumeAt, resumeAt }) });
  }
  if (type === 'rate_limit_error' && requestExceedsLimit(message)) return verdict('invalid_request');
  // `api_error` is generic: a 503 or 504 carrying it says more by its status.
  if (type === 'api_error' && f.status !== undefined && f.status > 500) return verdict(kindFromStatus(f.status));
  return verdict(BY_TYPE.get(type) ?? kindFromStatus(f.status));
};

/**
 * `error.details.error_code` of a 429 when the organization reached its tier's monthly spend cap: not a rate
 * limit despite the `rate_limit_error` type (corpus anthropic-429-enforced-spend-limit-reached-documented).
 */
const ENFORCED_SPEND_LIMIT = 'enforced_spend_limit_reached';

const REGAIN_ACCESS = wordings('regain access date', [
  ['regain access on (\\d{4}-\\d{2}-\\d{2}) at (\\d{2}:\\d{2}) UTC', 'anthropic-400-usage-limits-regain-2026-04-01'],
]);

/** "You will regain access on 2025-06-01 at 00:00 UTC." -> that time. */
function regainAccessAt(message: string): number | undefined {
  const m = REGAIN_ACCESS.exec(message);
  if (!m) return undefined;
  const at = Date.parse(`${m[1]}T${m[2]}:00Z`);
  return Number.isFinite(at) ? at : undefined;
}
