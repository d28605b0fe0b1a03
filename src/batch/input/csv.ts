/**
 * Streamed CSV input with a header row and a prompt template (`{{column}}`). Optional columns `id`,
 * `priority`, `provider`. A malformed record or one over the size limit becomes a reject; parsing goes on.
 */
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { DEFAULT_MAX_LINE_BYTES } from './record.js';
import type { InputRecord, ReaderOptions } from './record.js';
import { toRecord } from './jsonl.js';

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
  const parser = createReadStream(path).pipe(
    parse({
      columns: true,
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
  for await (const entry of parser) {
    const { record: fields, info } = entry as { record: Record<string, string>; info: { lines: number } };
    const line = info.lines;
    while (skipped.length > 0 && (skipped[0]?.line ?? 0) < line) {
      const s = skipped.shift();
      if (s && s.line > afterLine) yield s;
    }
    if (line <= afterLine) continue;
    const { id, priority, ...rest } = fields;
    yield toRecord(line, id, priority, rest, options);
  }
  for (const s of skipped.splice(0)) if (s.line > afterLine) yield s;
}
