import { checkKnownKeys, checkNumber, checkObject, show } from './validate.js';

/**
 * Jitter spreads retries of many clients so they do not hit a recovering server in lockstep.
 * Every function here is pure: randomness comes from the injected `random` (`() => [0, 1)`), so
 * tests pass a fixed sequence and get exact delays.
 */
export type Random = () => number;

/**
 * How a delay is jittered:
 * - `none`: the delay as is (exact schedules such as 30 s, 60 s, 120 s).
 * - `full`: uniform in [0, delay] (AWS "full jitter").
 * - `equal`: uniform in [delay/2, delay].
 * - `decorrelated`: uniform in [initial, 3 x previous delay], capped at the backoff's max (AWS).
 * - `{ type: 'proportional', ratio }`: uniform in [delay x (1 - ratio), delay x (1 + ratio)], e.g. ratio 0.2 = ±20 %.
 */
export type JitterSpec = 'none' | 'full' | 'equal' | 'decorrelated' | { type: 'proportional'; ratio: number };

/** The delay unchanged. */
export function noJitter(delayMs: number): number {
  return delayMs;
}

/** Uniform in [0, delayMs]. */
export function fullJitter(delayMs: number, random: Random): number {
  return random() * delayMs;
}

/** Uniform in [delayMs / 2, delayMs]: never less than half the backoff. */
export function equalJitter(delayMs: number, random: Random): number {
  const half = delayMs / 2;
  return half + random() * half;
}

/**
 * Uniform in [baseMs, 3 x previousMs], capped at `capMs` ("decorrelated jitter"). Without a previous
 * delay (first retry) it starts from `baseMs`.
 */
export function decorrelatedJitter(baseMs: number, previousMs: number | undefined, capMs: number, random: Random): number {
  const upper = Math.max(baseMs, (previousMs ?? baseMs) * 3);
  return Math.min(capMs, baseMs + random() * (upper - baseMs));
}

/** Uniform in [delayMs x (1 - ratio), delayMs x (1 + ratio)], never below 0. */
export function proportionalJitter(delayMs: number, ratio: number, random: Random): number {
  return Math.max(0, delayMs * (1 + ratio * (2 * random() - 1)));
}

/** Inputs of {@link applyJitter}. */
export interface JitterInput {
  /** The backoff's delay for this retry. */
  delayMs: number;
  /** The delay actually used before the previous retry (decorrelated jitter). */
  previousDelayMs?: number;
  /** The backoff's first delay (decorrelated floor). */
  baseMs: number;
  /** The backoff's maximum (decorrelated cap). */
  capMs: number;
  random: Random;
}

/** Applies a validated {@link JitterSpec}. */
export function applyJitter(spec: JitterSpec, input: JitterInput): number {
  if (spec === 'none') return input.delayMs;
  if (spec === 'full') return fullJitter(input.delayMs, input.random);
  if (spec === 'equal') return equalJitter(input.delayMs, input.random);
  if (spec === 'decorrelated') return decorrelatedJitter(input.baseMs, input.previousDelayMs, input.capMs, input.random);
  return proportionalJitter(input.delayMs, spec.ratio, input.random);
}

/** Validates a jitter spec from options or a config file. */
export function checkJitter(value: unknown, field: string): JitterSpec {
  if (value === 'none' || value === 'full' || value === 'equal' || value === 'decorrelated') return value;
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'proportional') {
    const obj = checkObject(value, field);
    checkKnownKeys(obj, ['type', 'ratio'], field);
    const ratio = checkNumber(obj.ratio, `${field}.ratio`, 0);
    if (ratio > 1) throw new RangeError(`${field}.ratio must be between 0 and 1, got ${ratio}`);
    return { type: 'proportional', ratio };
  }
  throw new TypeError(
    `${field} must be 'none', 'full', 'equal', 'decorrelated' or { type: 'proportional', ratio }, got ${show(value)}`,
  );
}
