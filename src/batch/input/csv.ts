/**
 * Streamed CSV input with a header row and a prompt template (`{{column}}`). Optional columns `id` (or the
 * `idColumn` named), `priority`, `provider`; every column is kept as the item's `input`. A malformed record or one over the size limit becomes a reject; parsing goes on.
 */
import { createReadStream } from 'node:fs';
import { DEFAULT_MAX_LINE_BYTES, InputColumnError } from './record.js';
import type { InputRecord, ReaderOptions } from './record.js';
import { toRecord } from './jsonl.js';

/**
 * csv-parse, loaded by the first CSV read rather than with the batch layer: a run of a JSONL file
 * never needs it (about 15 ms of `sluice run`'s start-up; docs/PERFORMANCE.md, "CLI fixed cost").
 */
export const loadCsvParse = (): Promise<typeof import('csv-parse')> => import('csv-parse');

/**
 * Reads a CSV file as {@link InputRecord}s. `line` is the physical line where the record ends (the
 * header is line 1), so rejects point into the file and resume positions are stable.
 */
export async function* readCsv(path: string, options: ReaderOptions = {}): AsyncGenerator<InputRecord> {
  if (options.template === undefined) {
    throw new TypeError('csv input: option "template" is required (e.g. "Summarise {{text}}")');
  }
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const afterLine = options.afterLine ?? 0;
  // The parser runs ahead of this loop: rejects it reports are held until the records before them are out.
  const skipped: InputRecord[] = [];
  let header: string[] | undefined;
  const { parse } = await loadCsvParse();
  const parser = createReadStream(path).pipe(
    parse({
      columns: (names: string[]) => (header = names),
      bom: true,
      info: true,
      skip_empty_lines: true,
      max_record_size: maxLineBytes,
      skip_records_with_error: true,
      on_skip: (error) => {
        const line = (error as { lines?: number } | undefined)?.lines ?? 0;
        const reason =
          error?.code === 'CSV_MAX_RECORD_SIZE'
            ? `line too long (limit ${maxLineBytes} bytes)`
            : `malformed CSV: ${error?.message ?? 'unreadable record'}`;
        skipped.push({ line, reject: reason });
        return undefined;
      },
    }),
  );
  let checked = false;
  for await (const entry of parser) {
    if (!checked) checked = checkIdColumn(path, header, options.idColumn);
    const { record: fields, info } = entry as { record: Record<string, string>; info: { lines: number } };
    const line = info.lines;
    while (skipped.length > 0 && (skipped[0]?.line ?? 0) < line) {
      const s = skipped.shift();
      if (s && s.line > afterLine) yield s;
    }
    if (line <= afterLine) continue;
    yield toRecord(line, fields, options, 'column');
  }
  if (!checked) checkIdColumn(path, header, options.idColumn);
  for (const s of skipped.splice(0)) if (s.line > afterLine) yield s;
}

/** A named id column must be in the header (line 1), once. Returns true (checked). */
function checkIdColumn(path: string, header: string[] | undefined, idColumn: string | undefined): true {
  if (idColumn === undefined || header === undefined) return true;
  const n = header.filter((h) => h === idColumn).length;
  const columns = header.map((h) => JSON.stringify(h)).join(', ');
  if (n === 0) throw new InputColumnError(path, 1, idColumn, `no column ${JSON.stringify(idColumn)} (--id-column) in the header (columns: ${columns || 'none'})`);
  if (n > 1) throw new InputColumnError(path, 1, idColumn, `column ${JSON.stringify(idColumn)} (--id-column) appears ${n} times in the header`);
  return true;
}
