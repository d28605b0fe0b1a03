/** Wall-clock arithmetic in a named time zone, for quotas that reset at a zone's midnight. */

/** Google's daily Gemini quotas reset at midnight Pacific time (https://ai.google.dev/gemini-api/docs/rate-limits). */
export const PACIFIC = 'America/Los_Angeles';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's wall time at `at`, read as if it were UTC; minus `at` this is the zone's offset. */
function wallAsUtc(at: number, timeZone: string): { ms: number; y: number; m: number; d: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const y = parts['year'] ?? 1970;
  const m = parts['month'] ?? 1;
  const d = parts['day'] ?? 1;
  return { ms: Date.UTC(y, m - 1, d, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0), y, m, d };
}

/**
 * The first midnight in `timeZone` strictly after `now` (ms since epoch), or `undefined` if the
 * time zone is unknown. DST-safe: the offset is re-read at the candidate instant.
 */
export function nextMidnight(now: number, timeZone: string = PACIFIC): number | undefined {
  try {
    const wall = wallAsUtc(now, timeZone);
    const offset = wall.ms - Math.floor(now / 1000) * 1000;
    const midnightWall = Date.UTC(wall.y, wall.m - 1, wall.d + 1);
    let candidate = midnightWall - offset;
    const offsetThen = wallAsUtc(candidate, timeZone).ms - candidate;
    candidate = midnightWall - offsetThen;
    return Number.isFinite(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** 00:00 UTC on the first day of the month after `now`: when a monthly allowance or spend cap comes back. */
export function firstOfNextMonthUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
