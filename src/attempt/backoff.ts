import { checkInteger, checkKnownKeys, checkNumber, checkObject, show } from './validate.js';

/**
 * A backoff: the delay before each retry, as a pure function of the retry number. It holds no
 * state, so one instance serves any number of concurrent retry loops and the executor's retry queue.
 *
 * It is also iterable: `[...take(backoff, 3)]` or `for (const ms of backoff)` yields the delays of
 * retry 1, 2, 3, ... The iteration never ends for exponential and constant backoff (and repeats
 * the last value of a schedule): the number of attempts is the policy's business, not the backoff's.
 */
export interface Backoff extends Iterable<number> {
  /** `exponential`, `constant` or `schedule`. */
  readonly type: BackoffType;
  /** Delay in ms before retry number `retry` (1 = the wait after the first failed attempt). */
  delayMs(retry: number): number;
  /** The first delay: the floor that decorrelated jitter starts from. */
  readonly initialMs: number;
  /** The largest delay this backoff ever returns. */
  readonly maxMs: number;
}

/** The kinds of {@link Backoff}. */
export type BackoffType = 'exponential' | 'constant' | 'schedule';

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** First delay in ms. Default 1000. */
  initialMs?: number;
  /** Multiplier per retry, >= 1. Default 2. */
  factor?: number;
  /** Upper bound in ms, >= initialMs. Default 30,000. */
  maxMs?: number;
}

/** A backoff as plain data, as written in a config file: what {@link toBackoff} accepts. */
export type BackoffSpec =
  | ({ type: 'exponential' } & ExponentialBackoffOptions)
  | { type: 'constant'; delayMs: number }
  | { type: 'schedule'; delaysMs: readonly number[] };

abstract class BaseBackoff implements Backoff {
  abstract readonly type: BackoffType;
  abstract readonly initialMs: number;
  abstract readonly maxMs: number;
  abstract delayMs(retry: number): number;

  *[Symbol.iterator](): Iterator<number> {
    for (let retry = 1; ; retry++) yield this.delayMs(retry);
  }
}

class ExponentialBackoff extends BaseBackoff {
  readonly type = 'exponential';
  constructor(
    readonly initialMs: number,
    readonly factor: number,
    readonly maxMs: number,
  ) {
    super();
  }

  delayMs(retry: number): number {
    // Math.pow overflows to Infinity for huge retry numbers; min() keeps the cap.
    return Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, Math.max(0, retry - 1)));
  }
}

class ConstantBackoff extends BaseBackoff {
  readonly type = 'constant';
  constructor(readonly initialMs: number) {
    super();
  }

  get maxMs(): number {
    return this.initialMs;
  }

  delayMs(): number {
    return this.initialMs;
  }
}

class ScheduleBackoff extends BaseBackoff {
  readonly type = 'schedule';
  readonly initialMs: number;
  readonly maxMs: number;
  constructor(private readonly delays: readonly number[]) {
    super();
    this.initialMs = delays[0]!;
    this.maxMs = Math.max(...delays);
  }

  delayMs(retry: number): number {
    const i = Math.min(Math.max(retry, 1), this.delays.length) - 1;
    return this.delays[i]!;
  }
}

/**
 * `initialMs * factor^(retry-1)`, capped at `maxMs`. With the defaults: 1 s, 2 s, 4 s, ... 30 s.
 * @param field prefix of validation messages (the policy passes its own path).
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}, field = 'exponential backoff: '): Backoff {
  const name = field.replace(/[.:]\s*$/, '');
  checkKnownKeys(checkObject(options, name), ['type', 'initialMs', 'factor', 'maxMs'], name);
  const initialMs = checkNumber(options.initialMs ?? 1000, `${field}initialMs`, 0);
  const factor = checkNumber(options.factor ?? 2, `${field}factor`, 1);
  const maxMs = checkNumber(options.maxMs ?? Math.max(30_000, initialMs), `${field}maxMs`, 0);
  if (maxMs < initialMs) {
    throw new RangeError(`${field}maxMs must be >= initialMs (${initialMs}), got ${maxMs}`);
  }
  return new ExponentialBackoff(initialMs, factor, maxMs);
}

/** The same delay before every retry. */
export function constantBackoff(delayMs: number, field = 'constant backoff: '): Backoff {
  return new ConstantBackoff(checkNumber(delayMs, `${field}delayMs`, 0));
}

/**
 * An explicit list of delays, e.g. `[30_000, 60_000, 120_000]`; retries beyond the list repeat the
 * last value (the attempt limit, not the schedule, decides when to stop).
 */
export function scheduleBackoff(delaysMs: readonly number[], field = 'schedule backoff: '): Backoff {
  if (!Array.isArray(delaysMs) || delaysMs.length === 0) {
    throw new RangeError(`${field}delaysMs must be a non-empty array of delays in ms, got ${show(delaysMs)}`);
  }
  const copy = delaysMs.map((d, i) => checkNumber(d, `${field}delaysMs[${i}]`, 0));
  return new ScheduleBackoff(copy);
}

/** Whether `value` is already a {@link Backoff} (duck-typed, so user implementations work too). */
export function isBackoff(value: unknown): value is Backoff {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Backoff).delayMs === 'function' &&
    typeof (value as Backoff).initialMs === 'number'
  );
}

/**
 * Builds a {@link Backoff} from a spec (or returns a Backoff as is), validating every field.
 * @param path the option's path for messages, e.g. `retry policy: byKind.rate_limited.backoff`.
 */
export function toBackoff(spec: Backoff | BackoffSpec, path = 'backoff'): Backoff {
  if (isBackoff(spec)) return spec;
  const obj = checkObject(spec, path);
  const prefix = `${path}.`;
  switch (obj.type) {
    case 'exponential':
      return exponentialBackoff(obj as ExponentialBackoffOptions, prefix);
    case 'constant':
      checkKnownKeys(obj, ['type', 'delayMs'], path);
      return constantBackoff(obj.delayMs as number, prefix);
    case 'schedule':
      checkKnownKeys(obj, ['type', 'delaysMs'], path);
      return scheduleBackoff(obj.delaysMs as number[], prefix);
    default:
      throw new TypeError(`${path}.type must be one of exponential, constant, schedule, got ${show(obj.type)}`);
  }
}

/** The first `count` delays of a backoff, for display and tests. */
export function takeDelays(backoff: Backoff, count: number): number[] {
  checkInteger(count, 'takeDelays: count', 0);
  const out: number[] = [];
  for (let retry = 1; retry <= count; retry++) out.push(backoff.delayMs(retry));
  return out;
}
