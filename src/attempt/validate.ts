/**
 * Option checks shared by the attempt layer. Each throws a `RangeError`/`TypeError` whose message
 * names the field with its full path (`retry policy: byKind.rate_limited.attempts ...`), so a bad
 * config file points at the line to fix.
 */

/** Renders a bad value readably in an error message (strings quoted, objects as JSON). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** An integer >= `min`. */
export function checkInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${field} must be an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

/** A finite number >= `min` (NaN and Infinity rejected). */
export function checkNumber(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${field} must be a finite number >= ${min}, got ${show(value)}`);
  }
  return value;
}

/** A boolean. */
export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${field} must be a boolean, got ${show(value)}`);
  return value;
}

/** A plain object (not null, not an array). */
export function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${field} must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A function. */
export function checkFunction(value: unknown, field: string): void {
  if (typeof value !== 'function') throw new TypeError(`${field} must be a function, got ${show(value)}`);
}

/** Rejects keys outside `allowed`, which are nearly always typos (`attemps`). */
export function checkKnownKeys(value: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${field}.${key} is not a known option (known: ${allowed.join(', ')})`);
    }
  }
}
