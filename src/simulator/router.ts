import { OPENAI } from './endpoints/openai.js';
import type { RouteMatch } from './endpoints/types.js';

const EXACT_POST = new Map<string, RouteMatch>([
  ['/v1/chat/completions', { endpoint: OPENAI.chat }],
  ['/v1/responses', { endpoint: OPENAI.responses }],
  ['/v1/embeddings', { endpoint: OPENAI.embeddings }],
  ['/v1/images/generations', { endpoint: OPENAI.images }],
]);

/** A POST route matched by pattern: the first capture group is the model or deployment. */
interface PatternRoute {
  pattern: RegExp;
  pick(m: RegExpExecArray): RouteMatch | undefined;
}

const PATTERN_POST: PatternRoute[] = [];

/** Registers a pattern route (used by provider modules). */
export function addPostPattern(route: PatternRoute): void {
  PATTERN_POST.push(route);
}

/** Registers an exact POST path. */
export function addPostPath(path: string, match: RouteMatch): void {
  EXACT_POST.set(path, match);
}

/** Finds the endpoint of a POST path, or undefined. */
export function matchPost(path: string): RouteMatch | undefined {
  const exact = EXACT_POST.get(path);
  if (exact) return exact;
  for (const r of PATTERN_POST) {
    const m = r.pattern.exec(path);
    if (m) return r.pick(m);
  }
  return undefined;
}
