/**
 * Phrases providers use in messages when the code alone is ambiguous (a 429 that is really a billing
 * stop, a 400 that is really a bad key). Shared by the OpenAI-shaped, compatible and SDK classifiers.
 */

/** Billing / credit / spend-limit exhaustion: no retry on this key will work until someone pays. */
const BILLING =
  /insufficient[_ ]quota|insufficient[_ ]balance|insufficient credits|credit balance is too low|exceeded your current quota|spending limit|specified api usage limits|used all available credits|billing hard limit|out of credits|payment required/i;

/** Bad or missing credentials. */
const AUTH =
  /incorrect api key|invalid[_ ]api[_ ]key|api key not valid|invalid subscription key|invalid authentication|invalid x-api-key|no auth credentials|missing api key|api key (?:is )?(?:missing|required|expired|revoked)|unauthenticated|unauthorized/i;

/** Safety and content-policy blocks. */
const CONTENT =
  /content[_ ]policy|content[_ ]filter|content management policy|safety system|responsibleaipolicyviolation|responsible ai|usage polic|flagged|moderation/i;

/** Capacity problems on the provider's side (retry later), as opposed to this caller's rate limit. */
const OVERLOADED = /overloaded|capacity exceeded|over capacity|server is busy|temporarily unavailable/i;

export function mentionsBilling(text: string): boolean {
  return BILLING.test(text);
}
export function mentionsAuth(text: string): boolean {
  return AUTH.test(text);
}
export function mentionsContentPolicy(text: string): boolean {
  return CONTENT.test(text);
}
export function mentionsOverload(text: string): boolean {
  return OVERLOADED.test(text);
}
