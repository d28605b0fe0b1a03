import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { wrapLine } from '../../src/observe/report/summary.js';

describe('wrapLine (the end-of-run summary on a narrow terminal)', () => {
  it('breaks after list separators: every line fits 60 columns, continuation lines are indented', () => {
    const line = '  failed attempts by kind: overloaded 17, server_error 11, invalid_request 20, rate_limited 14, network 2';
    const out = wrapLine(line, 60);
    expect(out).toEqual(['  failed attempts by kind: overloaded 17, server_error 11,', '    invalid_request 20, rate_limited 14, network 2']);
  });

  it('property: lines fit the width unless one word is longer, and no word is lost or cut', () => {
    const word = fc.stringMatching(/^[a-z0-9_/.%()-]{1,30}[,;]?$/);
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 40 }), fc.integer({ min: 20, max: 200 }), (words, width) => {
        const line = words.join(' ');
        const out = wrapLine(line, width);
        for (const l of out) {
          if (l.length > width) expect(l.trim().split(' ')).toHaveLength(1); // a single over-long word, kept whole
        }
        expect(out.map((l) => l.trim()).join(' ').split(/ +/)).toEqual(line.split(/ +/));
      }),
    );
  });
});
