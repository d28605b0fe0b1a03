/**
 * Streamed ingestion into the store, in chunks whose items, rejects and resume position commit together:
 * memory holds one chunk, whatever the input size, and a crash mid-ingestion resumes after the last chunk.
 */
import type { TypedEmitter } from '../observe/typed-emitter.js';
import { readCsv } from './input/csv.js';
import { readJsonl } from './input/jsonl.js';
import { DEFAULT_ID_COLUMN, type InputRecord, type ReaderOptions } from './input/record.js';
import { RejectsWriter } from './output.js';
import type { JobStore, NewItem, RunMeta } from './store.js';
import type { BatchEvents, InputOptions } from './types.js';

/** Lines per ingestion transaction. */
export const INGEST_CHUNK = 1000;

/** The input's records, by format (explicit, else `.csv` extension means CSV). */
export function readInput(options: InputOptions, afterLine = 0): AsyncGenerator<InputRecord> {
  const reader: ReaderOptions = { afterLine };
  if (options.maxLineBytes !== undefined) reader.maxLineBytes = options.maxLineBytes;
  if (options.template !== undefined) reader.template = options.template;
  if (options.payloadDefaults !== undefined) reader.payloadDefaults = options.payloadDefaults;
  if (options.providers !== undefined) reader.providers = options.providers;
  if (options.idColumn !== undefined) reader.idColumn = options.idColumn;
  return inputFormat(options) === 'csv' ? readCsv(options.input, reader) : readJsonl(options.input, reader);
}

/** The input's format: explicit, else `.csv` extension means CSV. */
export function inputFormat(options: Pick<InputOptions, 'format' | 'input'>): 'csv' | 'jsonl' {
  return options.format ?? (options.input.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl');
}

/** Ingests the input from after `meta.ingestedThroughLine`; returns the number of lines rejected. */
export async function ingestInput(
  store: JobStore,
  meta: RunMeta,
  options: InputOptions & { rejects: string },
  events?: TypedEmitter<BatchEvents>,
): Promise<number> {
  const rejects = RejectsWriter.open(options.rejects, meta.rejectsOffset, options.input);
  let rejected = 0;
  let chunk: NewItem[] = [];
  let chunkRejects = 0;
  /** Ids of the chunk not yet committed, with their lines. */
  const chunkIds = new Map<string, number>();
  const idName = options.idColumn ?? DEFAULT_ID_COLUMN;
  const format = inputFormat(options);
  const duplicate = (id: string, earlier: number | undefined): string =>
    `duplicate id ${JSON.stringify(id)} in ${format === 'csv' ? 'column' : 'field'} ${JSON.stringify(idName)} (${earlier !== undefined ? `line ${earlier} has it too` : 'an earlier line has it too'})`;
  let throughLine = meta.ingestedThroughLine;

  const reject = (line: number, reason: string): void => {
    rejects.add(line, reason);
    rejected++;
    chunkRejects++;
    events?.emit('reject', { line, reason });
  };
  const commit = async (done: boolean): Promise<void> => {
    const existing = await store.existingIds(chunk.map((i) => i.id));
    const fresh: NewItem[] = [];
    for (const item of chunk) {
      if (!existing.has(item.id)) fresh.push(item);
      else reject(item.line, duplicate(item.id, (await store.get(item.id))?.line));
    }
    // Rejects reach the file before the checkpoint that records its new length.
    const rejectsOffset = rejects.write();
    const { inserted } = await store.ingest(fresh, { throughLine, rejectsOffset, done });
    events?.emit('ingest', { throughLine, inserted, rejected: chunkRejects, done });
    chunk = [];
    chunkIds.clear();
    chunkRejects = 0;
  };

  try {
    for await (const record of readInput(options, meta.ingestedThroughLine)) {
      if ('reject' in record) reject(record.line, record.reject);
      else if (chunkIds.has(record.item.id)) {
        reject(record.line, duplicate(record.item.id, chunkIds.get(record.item.id)));
      } else {
        chunk.push(record.item);
        chunkIds.set(record.item.id, record.line);
      }
      throughLine = record.line;
      if (chunk.length + chunkRejects >= INGEST_CHUNK) await commit(false);
    }
    await commit(true);
  } finally {
    rejects.close();
  }
  return rejected;
}
