/**
 * Every rule of the classifier that matches a provider's wording names the real error that has that
 * wording: an id of the corpus in test/fixtures/corpus. The corpus test checks that each cited sample
 * exists and contains the wording, so no rule can match a phrase only the simulator (or a guess) produces.
 */

/** One wording the classifier matches, and the corpus sample that has it. */
export interface WordingEvidence {
  /** What the wording means to the classifier, e.g. `billing`, `shared capacity`. */
  readonly rule: string;
  /** The wording, matched case-insensitively. */
  readonly pattern: RegExp;
  /** Id of a corpus sample whose body (or SDK message) contains it. */
  readonly sample: string;
}

const registry: WordingEvidence[] = [];

/**
 * Builds one case-insensitive pattern from alternatives, each with the id of the corpus sample that has it,
 * and records every alternative as evidence.
 *
 * @example const BILLING = wordings('billing', [['insufficient[_ ]quota', 'openai-429-insufficient-quota-migpt']]);
 */
export function wordings(rule: string, alternatives: readonly (readonly [source: string, sample: string])[]): RegExp {
  for (const [source, sample] of alternatives) registry.push({ rule, pattern: new RegExp(source, 'i'), sample });
  return new RegExp(alternatives.map(([source]) => `(?:${source})`).join('|'), 'i');
}

/** Every wording rule the classifier has registered, for the corpus test. */
export function wordingEvidence(): readonly WordingEvidence[] {
  return registry;
}
