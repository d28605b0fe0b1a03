import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { readJsonl, parseJsonlLine } from '../../src/batch/input/jsonl.js';
import { readCsv } from '../../src/batch/input/csv.js';
import type { InputRecord } from '../../src/batch/input/record.js';
import { runBatch } from '../../src/batch/runner.js';
import { dryRun } from '../../src/batch/dry-run.js';
import { fakeExecutor, readJsonlFile, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

async function all(gen: AsyncGenerator<InputRecord>): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

describe('JSONL input', () => {
  it('accepts good lines and rejects bad ones with file line and reason', async () => {
    const path = t.file('in.jsonl');
    const long = JSON.stringify({ prompt: 'x'.repeat(300) });
    writeFileSync(
      path,
      [
        JSON.stringify({ id: 'a', priority: 2, model: 'm', messages: [] }),
        '{"id": "b", "prompt": ',
        '',
        '[1,2]',
        JSON.stringify({ id: 'c', priority: 'high', prompt: 'x' }),
        JSON.stringify({ id: 'd', provider: 'nope', prompt: 'x' }),
        long,
        JSON.stringify({ id: 'e' }),
        JSON.stringify({ payload: { prompt: 'p' }, provider: 'openai' }),
      ].join('\r\n'),
    );
    const records = await all(readJsonl(path, { maxLineBytes: 200, providers: ['openai'] }));
    expect(records.map((r) => ('reject' in r ? [r.line, r.reject.split(':')[0]] : [r.line, r.item.id]))).toEqual([
      [1, 'a'],
      [2, 'malformed JSON'],
      [4, 'a line must be a JSON object'],
      [5, 'field "priority" must be an integer'],
      [6, 'unknown provider "nope" (known'],
      [7, 'line too long'],
      [8, 'missing field "payload" (the line has no request fields)'],
      [9, '#9'],
    ]);
    expect(records[0]).toMatchObject({ item: { priority: 2, payload: { model: 'm', messages: [] } } });
    expect(records.at(-1)).toMatchObject({ item: { payload: { prompt: 'p', provider: 'openai' } } });
  });

  it('renders a template from the line variables and rejects a missing field', async () => {
    const path = t.file('vars.jsonl');
    writeFileSync(path, '{"name":"Ada"}\n{"vars":{"name":"Bob"}}\n{"other":1}\n');
    const records = await all(readJsonl(path, { template: 'Bio of {{ name }}', payloadDefaults: { model: 'm' } }));
    expect(records[0]).toMatchObject({ item: { payload: { model: 'm', prompt: 'Bio of Ada' } } });
    expect(records[1]).toMatchObject({ item: { payload: { prompt: 'Bio of Bob' } } });
    expect(records[2]).toEqual({ line: 3, reject: 'missing field "name" used by the template' });
  });

  it('a UTF-8 BOM before line 1 changes nothing (property: any lines, any line endings)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\n', '\r\n'),
        async (objects, eol) => {
          const text = objects.map((o) => JSON.stringify({ prompt: 'p', ...o })).join(eol) + eol;
          const plain = t.file(`plain-${++n}.jsonl`);
          const bom = t.file(`bom-${n}.jsonl`);
          writeFileSync(plain, text);
          writeFileSync(bom, '\ufeff' + text);
          expect(await all(readJsonl(bom))).toEqual(await all(readJsonl(plain)));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const r = parseJsonlLine(1, text);
        return 'reject' in r || 'item' in r;
      }),
    );
  });
});

describe('CSV input', () => {
  it('renders the template per record and rejects malformed records, going on after them', async () => {
    const path = t.file('in.csv');
    writeFileSync(path, 'id,name,priority\n1,Ada,3\n2,Bob,1,extra\n4,Dee,1\n5,Eve,x\n6,,0\n');
    const records = await all(readCsv(path, { template: 'Hello {{name}}' }));
    const items = records.filter((r): r is Extract<InputRecord, { item: unknown }> => 'item' in r);
    const rejects = records.filter((r) => 'reject' in r);
    expect(items[0]).toMatchObject({ item: { id: '1', priority: 3, payload: { prompt: 'Hello Ada' } } });
    expect(records.map((r) => ('reject' in r ? [r.line, r.reject.split(':')[0]] : [r.line, r.item.id]))).toEqual([
      [2, '1'],
      [3, 'malformed CSV'],
      [4, '4'],
      [5, 'column "priority" must be an integer'],
      [6, '6'],
    ]);
    expect(rejects).toHaveLength(2);
    await expect(readCsv(path, {}).next()).rejects.toThrow(/template/);
  });
});

describe('ingestion through runBatch', () => {
  it('writes rejects (file, line, reason), rejects duplicate ids, and runs the good lines', async () => {
    const input = t.file('dups.jsonl');
    const lines = ['{"id":"a","prompt":"1"}', '{"id":"b","prompt":"2"}', '{"id":"a","prompt":"3"}', 'garbage'];
    // More than one ingestion chunk apart: the store catches duplicates across chunks.
    for (let i = 0; i < 1100; i++) lines.push(JSON.stringify({ id: `x${i}`, prompt: 'p' }));
    lines.push('{"id":"b","prompt":"again"}');
    writeFileSync(input, lines.join('\n') + '\n');
    const summary = await runBatch({ input, executor: fakeExecutor((p) => p) });
    expect(summary.rejected).toBe(3);
    const rejects = readJsonlFile(summary.rejects);
    expect(rejects).toEqual([
      { file: input, line: 3, reason: 'duplicate id "a" in field "id" (line 1 has it too)' },
      { file: input, line: 4, reason: expect.stringMatching(/^malformed JSON/) as unknown },
      { file: input, line: 1105, reason: 'duplicate id "b" in field "id" (line 2 has it too)' },
    ]);
    expect(summary.counts.byState.succeeded).toBe(1102);
    expect(readJsonlFile(summary.output).find((r) => r['id'] === 'a')).toMatchObject({ result: { prompt: '1' } });
  });

  it('runs a CSV input through its template (format from the extension)', async () => {
    const input = t.file('people.csv');
    writeFileSync(input, 'id,name\na,Ada\nb,\n');
    const summary = await runBatch({ input, template: 'Bio of {{name}}', executor: fakeExecutor((p) => p) });
    const out = readJsonlFile(summary.output);
    expect(out.map((r) => r['result'])).toEqual([{ prompt: 'Bio of Ada' }, { prompt: 'Bio of ' }]);
    await expect(runBatch({ input: t.file('people.csv'), state: t.file('x.db'), executor: fakeExecutor((p) => p) })).rejects.toThrow(
      /option "template" is required/,
    );
  });

  it('dry run counts requests, tokens and time at the limits without writing anything', async () => {
    const input = t.file('dry.jsonl');
    writeFileSync(input, '{"prompt":"abcdefgh","max_tokens":10}\n{"prompt":"abcd"}\nbad\n');
    const report = await dryRun({ input, requestsPerMinute: 60, tokensPerMinute: 100_000, defaultMaxOutputTokens: 100 });
    expect(report).toMatchObject({ requests: 2, rejected: 1, estimatedOutputTokens: 110, bindingLimit: 'requests' });
    expect(report.estimatedMs).toBe(2000);
    await expect(dryRun({ input, requestsPerMinute: 0 })).rejects.toThrow(/requestsPerMinute must be > 0/);
  });
});
