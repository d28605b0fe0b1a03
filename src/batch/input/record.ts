/** What the input readers yield: one accepted item or one rejected line, in input order. */
import type { NewItem } from '../store.js';

/** One input line (JSONL) or record (CSV): accepted as an item, or rejected with a reason. */
export type InputRecord = { line: number; item: NewItem } | { line: number; reject: string };

/** Default longest accepted line: 1 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Options shared by the readers. */
export interface ReaderOptions {
  /** Skip lines up to and including this one (resume of an interrupted ingestion). */
  afterLine?: number;
  maxLineBytes?: number;
  template?: string;
  payloadDefaults?: Record<string, unknown>;
  providers?: readonly string[];
  /**
   * The column (CSV) or field (JSONL) that holds the item's id. Unset: the optional `id` column or field,
   * and `#<line>` where it is absent or empty. Set (even to `id`): every record must have it, non-empty;
   * a CSV whose header lacks it is an {@link InputColumnError}, a record without it a reject.
   */
  idColumn?: string;
}

/** The default id column or field: `id`. */
export const DEFAULT_ID_COLUMN = 'id';

/** A whole input file that cannot be read as asked: names the file, the line and the column. */
export class InputColumnError extends Error {
  override readonly name = 'InputColumnError';
  constructor(
    readonly path: string,
    readonly line: number,
    readonly column: string,
    problem: string,
  ) {
    super(`input file ${path} line ${line}: ${problem}`);
  }
}
