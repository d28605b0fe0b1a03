/**
 * Fixture-driven table tests: every provider's documented error bodies, in every accepted input shape,
 * with and without the provider declared.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/classify/classify.js';
import { isErrorKind, type Classification, type ProviderName } from '../../src/classify/kinds.js';

const NOW = Date.UTC(2026, 0, 1); // 1767225600000, the time every fixture is written against
const DIR = join(import.meta.dirname, '../fixtures/classify');

interface Expected extends Partial<Classification> {
  messageIncludes?: string;
  messageExcludes?: string;
}
interface Case {
  name: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  expected: Expected;
}
interface FixtureFile {
  provider: ProviderName;
  cases: Case[];
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, fixture: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as FixtureFile }));

function check(c: Classification, expected: Expected): void {
  const { messageIncludes, messageExcludes, ...fields } = expected;
  expect(c).toMatchObject(fields);
  expect(isErrorKind(c.kind)).toBe(true);
  if (messageIncludes !== undefined) expect(c.message).toContain(messageIncludes);
  if (messageExcludes !== undefined) expect(c.message).not.toContain(messageExcludes);
  expect(c.message.length).toBeGreaterThan(0);
  expect(c.message.length).toBeLessThanOrEqual(501);
  // Absent facts are absent, not `undefined` keys.
  for (const [key, value] of Object.entries(c)) expect(value, key).not.toBeUndefined();
}

function bodyAsString(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}

it('fixtures exist for every provider family', () => {
  expect(files.map((f) => f.file).sort()).toEqual(['anthropic.json', 'azure.json', 'compatible.json', 'gemini.json', 'openai.json']);
});

for (const { file, fixture } of files) {
  describe(file, () => {
    it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      // Auto-detected, headers as a record, body parsed.
      check(classify({ status: c.status, headers: c.headers, body: c.body }, { now: NOW }), c.expected);
      // Headers as a Headers object, body as text.
      check(classify({ status: c.status, headers: new Headers(c.headers), body: bodyAsString(c.body) }, { now: NOW }), c.expected);
      // Headers as pairs, body as bytes.
      const bytes = new TextEncoder().encode(bodyAsString(c.body));
      check(classify({ status: c.status, headers: Object.entries(c.headers), body: bytes }, { now: NOW }), c.expected);
      // Declared provider: same verdict, labelled with the declared provider.
      const declared = classify({ status: c.status, headers: c.headers, body: c.body }, { now: NOW, provider: fixture.provider });
      const { provider: _provider, ...withoutProvider } = c.expected;
      check(declared, withoutProvider);
      expect(declared.provider).toBe(fixture.provider);
    });
  });
}
