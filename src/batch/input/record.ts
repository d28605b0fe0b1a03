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
}
