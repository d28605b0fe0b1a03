/**
 * Parser for the durations providers write in headers, bodies and messages: Go style (`6m0s`, `1m30.5s`,
 * `644ms`, `2m59.56s`, `1h2m3s`), Google protobuf Duration JSON (`"3.5s"`), and spelled-out units
 * (`6 seconds`, `1.5 minutes`) as in Azure's "Please retry after 6 seconds".
 */

/** Longest wait we believe: anything above one year is a misparse (an epoch, a byte count), not a duration. */
export const MAX_DURATION_MS = 365 * 24 * 60 * 60 * 1000;

/** Inputs longer than this are not durations; refusing them early keeps parsing O(small) on the hot path. */
const MAX_INPUT_LENGTH = 64;

/** Milliseconds per unit, keyed by every spelling we accept (lower case). */
const UNIT_MS: ReadonlyMap<string, number> = new Map<string, number>([
  ['ns', 1e-6],
  ['nanosecond', 1e-6],
  ['nanoseconds', 1e-6],
  ['us', 1e-3],
  ['µs', 1e-3],
  ['μs', 1e-3],
  ['microsecond', 1e-3],
  ['microseconds', 1e-3],
  ['ms', 1],
  ['msec', 1],
  ['msecs', 1],
  ['millisecond', 1],
  ['milliseconds', 1],
  ['s', 1000],
  ['sec', 1000],
  ['secs', 1000],
  ['second', 1000],
  ['seconds', 1000],
  ['m', 60_000],
  ['min', 60_000],
  ['mins', 60_000],
  ['minute', 60_000],
  ['minutes', 60_000],
  ['h', 3_600_000],
  ['hr', 3_600_000],
  ['hrs', 3_600_000],
  ['hour', 3_600_000],
  ['hours', 3_600_000],
  ['d', 86_400_000],
  ['day', 86_400_000],
  ['days', 86_400_000],
]);

/**
 * One `<number><unit>` component. Sticky so the loop walks the string once; the character classes
 * are disjoint (digits vs letters), so there is no backtracking blow-up.
 */
const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)[ \t]*([a-zµμ]+)[ \t]*/y;

/**
 * Parses a duration into whole milliseconds (rounded up, so a wait is never shortened).
 *
 * Accepts a sequence of `<number><unit>` components (`1h2m3s`, `1m30.5s`, `644ms`, `6 seconds`), optionally
 * wrapped in double quotes (`"3.5s"`, protobuf JSON), and the bare `0`. A bare number without a unit
 * is ambiguous (seconds? ms?) and yields `undefined`.
 *
 * Total: never throws. Returns `undefined` for garbage, negatives, NaN, empty input, or values above
 * {@link MAX_DURATION_MS}.
 *
 * @example parseDuration('6m0s') // 360000
 * @example parseDuration('"3.5s"') // 3500
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length > MAX_INPUT_LENGTH) return undefined;
  let s = text.trim().toLowerCase();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1).trim();
  if (s === '0') return 0;
  if (s.length === 0) return undefined;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    COMPONENT.lastIndex = pos;
    const match = COMPONENT.exec(s);
    if (!match) return undefined;
    const unit = UNIT_MS.get(match[2] ?? '');
    if (unit === undefined) return undefined;
    total += Number(match[1]) * unit;
    pos = COMPONENT.lastIndex;
  }
  return toWholeMs(total);
}

/**
 * Rounds a computed wait up to whole ms, ignoring float noise (0.1 * 1000 = 100.00000000000001),
 * and rejects values that cannot be a real wait.
 */
export function toWholeMs(ms: number): number | undefined {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) return undefined;
  return Math.max(0, Math.ceil(ms - 1e-6));
}
