import { parseDuration } from '../classify/duration.js';

/**
 * Parses `250`, `250ms`, `30s`, `1.5m`, `24h`, `7d` and compound `1m30s` into milliseconds.
 * A bare number is milliseconds (the CLI's convention); anything with units goes through the same
 * duration parser as provider headers (`parseDuration`). Returns undefined for anything else (never throws).
 */
export function parseDurationText(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  return parseDuration(t);
}
