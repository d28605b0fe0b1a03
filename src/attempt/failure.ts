import type { Classification } from '../classify/kinds.js';
import { classify } from '../classify/classify.js';
import type { Clock } from '../clock/clock.js';

/** Turns a thrown value into a {@link Classification}. `retry()` and `CircuitBreaker` take one as `classify`. */
export type Classifier = (failure: unknown) => Classification;

/**
 * The default classifier of the attempt layer: `classify()` from `src/classify` (SluiceError as is,
 * SDK errors, network codes, AbortError as `cancelled`, HTTP-shaped objects), with `now` from the
 * given clock so that a Retry-After given as a date becomes the right wait on a virtual clock too.
 */
export function clockClassifier(clock: Clock): Classifier {
  let classifier = byClock.get(clock);
  if (!classifier) {
    classifier = (failure) => classify(failure, { now: clock.now() });
    byClock.set(clock, classifier);
  }
  return classifier;
}

/** One classifier per clock, so a retry loop allocates none. */
const byClock = new WeakMap<Clock, Classifier>();
