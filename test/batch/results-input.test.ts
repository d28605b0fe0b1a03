/**
 * Results rows carry their input: the id column (`idColumn`), the CSV row's fields, the extracted `text`
 * beside the raw response, and `exportResults({ format: 'csv' })` joinable to the input by that id.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { readCsv } from '../../src/batch/input/csv.js';
import { InputColumnError, type InputRecord } from '../../src/batch/input/record.js';
import { parseJsonlLine, readJsonl } from '../../src/batch/input/jsonl.js';
import { exportResults } from '../../src/batch/commands.js';
import { resultCsvHeader, resultCsvRow, type ResultLine } from '../../src/batch/output.js';
import { runBatch } from '../../src/batch/runner.js';
import type { StoredItem } from '../../src/batch/store.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { fakeExecutor, tempDir } from './helpers.js';

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

function readResults(path: string): ResultLine[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ResultLine);
}

/** An OpenAI chat completion answering `content`. */
function chat(content: string): unknown {
  return { id: 'chatcmpl-1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } };
}

describe('results rows carry their input', () => {
  it('a 500-row CSV: every result (JSONL and exported CSV) joins its row by the chosen id column', async () => {
    const input = t.file('products.csv');
    // Ids not in line order, fields with commas, quotes, line breaks and non-ASCII text.
    const rows = Array.from({ length: 500 }, (_, i) => ({
      name: i % 7 === 0 ? `Widget "${i}", deluxe\nsecond line` : `Widget ${i} — é`,
      sku: `SKU-${(i * 7919) % 100_003}`,
      price: String(i / 4),
    }));
    writeFileSync(input, stringify(rows, { header: true, columns: ['name', 'sku', 'price'] }));
    const failing = new Set(['SKU-7919', 'SKU-15838']);
    const executor = fakeExecutor((payload, _attempt, id) => {
      if (failing.has(id)) throw new SluiceError({ kind: 'invalid_request', retryable: false, status: 400, message: `bad item ${id}` });
      return chat(`answer for ${(payload as { prompt: string }).prompt}`);
    });
    const summary = await runBatch({ input, template: 'Describe {{name}} ({{sku}})', idColumn: 'sku', executor });
    expect(summary.rejected).toBe(0);
    expect(summary.counts.byState).toMatchObject({ succeeded: 498, failed: 2 });

    const bySku = new Map(rows.map((r) => [r.sku, r]));
    const results = readResults(summary.output);
    expect(results).toHaveLength(500);
    expect(new Set(results.map((r) => r.id)).size).toBe(500);
    for (const r of results) {
      const row = bySku.get(r.id);
      expect(row, `result ${r.id} joins a row`).toBeDefined();
      expect(r.input).toEqual(row);
      if (r.status === 'succeeded') {
        expect(r.text).toBe(`answer for Describe ${row!.name} (${row!.sku})`);
        expect(r.result).toMatchObject({ object: 'chat.completion' });
      } else {
        expect(failing.has(r.id)).toBe(true);
        expect(r.text).toBeUndefined();
        expect(r.error).toMatchObject({ kind: 'invalid_request', status: 400 });
      }
    }

    const exported = t.file('products.export.csv');
    expect(await exportResults({ state: summary.state, output: exported, format: 'csv', idColumn: 'sku' })).toBe(500);
    const table = parse(readFileSync(exported, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(table[0]!)).toEqual(['sku', 'line', 'status', 'text', 'error_kind', 'error_message', 'error_status', 'attempts']);
    const inputTable = parse(readFileSync(input, 'utf8'), { columns: true }) as Record<string, string>[];
    const joined = inputTable.map((row) => ({ row, result: table.find((r) => r['sku'] === row['sku']) }));
    expect(joined.filter((j) => j.result === undefined)).toEqual([]);
    for (const { row, result } of joined) {
      if (failing.has(row['sku']!)) expect(result).toMatchObject({ status: 'failed', text: '', error_kind: 'invalid_request', error_status: '400' });
      else expect(result).toMatchObject({ status: 'succeeded', text: `answer for Describe ${row['name']} (${row['sku']})`, error_kind: '' });
    }
  });

  it('names file, line and column: a missing id column stops before any item, empty and repeated ids are rejected', async () => {
    const input = t.file('people.csv');
    writeFileSync(input, 'name,code\nAda,a1\nBob,\nCy,a1\nDee,d4\n');
    const missing = runBatch({ input, template: 'Hi {{name}}', idColumn: 'person_id', executor: fakeExecutor(() => chat('x')) });
    await expect(missing).rejects.toThrow(InputColumnError);
    await expect(missing).rejects.toThrow(`input file ${input} line 1: no column "person_id" (--id-column) in the header (columns: "name", "code")`);

    const summary = await runBatch({ input, state: t.file('b.db'), template: 'Hi {{name}}', idColumn: 'code', executor: fakeExecutor(() => chat('x')) });
    const rejects = readFileSync(summary.rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(rejects).toEqual([
      { file: input, line: 3, reason: 'empty column "code" (the id, --id-column)' },
      { file: input, line: 4, reason: 'duplicate id "a1" in column "code" (line 2 has it too)' },
    ]);
    expect(readResults(summary.output).map((r) => r.id)).toEqual(['a1', 'd4']);

    const twice = t.file('twice.csv');
    writeFileSync(twice, 'code,code\n1,2\n');
    await expect(all(readCsv(twice, { template: 'x', idColumn: 'code' }))).rejects.toThrow(/line 1: column "code" \(--id-column\) appears 2 times/);
  });

  it('without --id-column a CSV keeps the optional id column and #<line>; a template may use the id', async () => {
    const input = t.file('plain.csv');
    writeFileSync(input, 'id,name\n7,Ada\n,Bob\n');
    const records = await all(readCsv(input, { template: '{{id}}: {{name}}' }));
    expect(records).toEqual([
      { line: 2, item: { id: '7', line: 2, priority: 0, payload: { prompt: '7: Ada' }, input: { id: '7', name: 'Ada' } } },
      { line: 3, item: { id: '#3', line: 3, priority: 0, payload: { prompt: ': Bob' }, input: { id: '', name: 'Bob' } } },
    ]);
  });

  it('JSONL: the id field named, left out of the payload; a line without it is rejected', async () => {
    const input = t.file('req.jsonl');
    writeFileSync(input, ['{"custom_id":"r-1","id":"x","messages":[]}', '{"messages":[]}', '{"custom_id":5,"messages":[]}'].join('\n') + '\n');
    const records = await all(readJsonl(input, { idColumn: 'custom_id' }));
    expect(records).toEqual([
      { line: 1, item: { id: 'r-1', line: 1, priority: 0, payload: { messages: [] } } },
      { line: 2, reject: 'no field "custom_id" (the id, --id-column)' },
      { line: 3, item: { id: '5', line: 3, priority: 0, payload: { messages: [] } } },
    ]);
    const summary = await runBatch({ input, idColumn: 'custom_id', executor: fakeExecutor(() => ({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'hi' }] })) });
    expect(readResults(summary.output)).toEqual([
      expect.objectContaining({ id: 'r-1', status: 'succeeded', text: 'hi' }),
      expect.objectContaining({ id: '5', status: 'succeeded', text: 'hi' }),
    ]);
    expect(readResults(summary.output)[0]).not.toHaveProperty('input');
  });
});

/** Column names: no template placeholder needed; `priority`/`provider` have meanings of their own. */
const columnName = fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', 'b', 'Z', '_', ' ', '-', 'é', '"', ',') }).filter((n) => n !== 'priority' && n !== 'provider');
/** Cells with the characters CSV must quote or keep: commas, quotes, line breaks, spaces, non-ASCII. */
const cell = fc.string({ maxLength: 8, unit: fc.constantFrom('a', '1', ',', '"', '\n', '\r\n', ' ', 'é', '😀', ';', "'") });

describe('id column and CSV parsing (properties)', () => {
  it('any header and cells: each row becomes an item whose id is its id cell and whose input is the row; an empty id is a reject', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(columnName, { minLength: 2, maxLength: 5 }).chain((header) =>
          fc.record({
            header: fc.constant(header),
            idIndex: fc.nat({ max: header.length - 1 }),
            rows: fc.array(fc.array(cell, { minLength: header.length, maxLength: header.length }), { minLength: 1, maxLength: 12 }),
            bom: fc.boolean(),
          }),
        ),
        async ({ header, idIndex, rows, bom }) => {
          const path = t.file(`p-${++n}.csv`);
          writeFileSync(path, (bom ? '\ufeff' : '') + stringify([header, ...rows]));
          const idColumn = header[idIndex]!;
          const records = await all(readCsv(path, { template: 'x', idColumn }));
          expect(records).toHaveLength(rows.length);
          records.forEach((r, i) => {
            const row = Object.fromEntries(header.map((h, j) => [h, rows[i]![j]!]));
            if (row[idColumn] === '') expect(r).toMatchObject({ reject: `empty column ${JSON.stringify(idColumn)} (the id, --id-column)` });
            else expect(r).toMatchObject({ item: { id: row[idColumn], input: row } });
          });
          // Line numbers point into the file and grow.
          const lines = records.map((r) => r.line);
          expect([...lines].sort((a, b) => a - b)).toEqual(lines);
          expect(new Set(lines).size).toBe(lines.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('JSONL: any value in the id field is an id (string, finite number) or a reject naming the field; the field never reaches the payload', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 6 }).filter((n) => n !== 'priority' && n !== 'provider' && n !== 'payload' && n !== 'vars'),
        fc.option(fc.oneof(fc.string({ maxLength: 6 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 })), { nil: undefined }),
        (idColumn, value) => {
          const record: Record<string, unknown> = { messages: [{ role: 'user', content: 'x' }] };
          if (value !== undefined) record[idColumn] = value;
          const r = parseJsonlLine(4, JSON.stringify(record), { idColumn });
          const stored = JSON.parse(JSON.stringify(record))[idColumn] as unknown;
          if (typeof stored === 'string' && stored !== '') expect(r).toMatchObject({ item: { id: stored } });
          else if (typeof stored === 'number' && Number.isFinite(stored)) expect(r).toMatchObject({ item: { id: String(stored) } });
          else if (stored === undefined || stored === null || stored === '') expect(r).toEqual({ line: 4, reject: `${stored === '' ? 'empty' : 'no'} field ${JSON.stringify(idColumn)} (the id, --id-column)` });
          else expect(r).toEqual({ line: 4, reject: `field ${JSON.stringify(idColumn)} (the id) must be a string or a number` });
          if ('item' in r) expect(Object.keys(r.item.payload as object)).not.toContain(idColumn);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any result row survives the export CSV: parsed back, its cells are the item\'s', () => {
    fc.assert(
      fc.property(columnName.filter((c) => !['line', 'status', 'text', 'error_kind', 'error_message', 'error_status', 'attempts'].includes(c)), cell, cell, fc.boolean(), (idColumn, id, text, ok) => {
        const item: StoredItem = ok
          ? { id, line: 2, priority: 0, payload: {}, state: 'succeeded', attempts: 1, result: chat(text) }
          : { id, line: 2, priority: 0, payload: {}, state: 'failed', attempts: 3, lastError: { kind: 'server_error', message: text, status: 500 } };
        const csv = stringify([resultCsvHeader(idColumn), resultCsvRow(item)]);
        const [back] = parse(csv, { columns: true }) as Record<string, string>[];
        expect(back).toEqual({
          [idColumn]: id,
          line: '2',
          status: ok ? 'succeeded' : 'failed',
          text: ok ? text : '',
          error_kind: ok ? '' : 'server_error',
          error_message: ok ? '' : text,
          error_status: ok ? '' : '500',
          attempts: ok ? '1' : '3',
        });
      }),
      { numRuns: 200 },
    );
    expect(() => resultCsvHeader('status')).toThrow(/has the name of a results column/);
  });
});
