/**
 * The results JSONL, written so that each final item appears exactly once, even across kill -9 at
 * any instant.
 *
 * How: lines are appended first, then `JobStore.markWritten(ids, newLength)` marks those items written
 * and records the file length in one atomic step. So the store always knows a length `L` such that
 * the first `L` bytes of the file hold exactly the items marked written. On open (resume) the file is
 * truncated to `L`: bytes after it belong to items whose marking never committed, and those items are
 * still unwritten, so they are written again, once. If the file is shorter than `L` (lost by a power
 * failure or deleted by hand) nothing after it can be trusted: every item is marked unwritten and the
 * file is rewritten from the store.
 */
import { closeSync, existsSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { answerText } from '../provider/answer-text.js';
import type { JobStore, StoredItem } from './store.js';

/**
 * An I/O failure on one of a run's files, naming the file (disk full, no permission, ...). The
 * errno code is kept (`code`), so callers can tell ENOSPC from EACCES.
 */
export class RunFileError extends Error {
  override readonly name = 'RunFileError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    what: string,
    options?: { cause?: unknown },
  ) {
    super(`${what} ${path}: ${describeIoError(code, options?.cause)}`, options);
  }
}

function describeIoError(code: string | undefined, cause: unknown): string {
  if (code === 'ENOSPC') return 'disk full (ENOSPC): free some space, then run the same command again to resume';
  if (code === 'EDQUOT') return 'disk quota exceeded (EDQUOT): free some space, then run the same command again to resume';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  if (code === 'EISDIR') return 'is a directory';
  return `${code ?? ''} ${(cause as Error | undefined)?.message ?? String(cause)}`.trim();
}

/** Runs a file operation; an errno error becomes a {@link RunFileError} naming `path`. */
export function onFile<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof RunFileError) throw error;
    throw new RunFileError(path, (error as NodeJS.ErrnoException).code, what, { cause: error });
  }
}

/** Writes all of `buf` at `position`. */
function writeAllAt(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Cuts the file to `length` (skipped when it already has that length: a device such as /dev/null cannot be truncated). */
function truncateTo(fd: number, size: number, length: number): void {
  if (size !== length) ftruncateSync(fd, length);
}

/**
 * One line of the results file. `id` is the value of the input's id column or field (`idColumn`, default
 * `id`; `#<line>` where it had none), the key that joins the result to its input row.
 */
export interface ResultLine {
  id: string;
  line: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  /** The CSV row's fields, by column (JSONL lines have none: their `id` joins them). */
  input?: Record<string, string>;
  /** The answer's text, extracted from `result` (OpenAI chat and Responses, Anthropic messages, Gemini), when it has one. */
  text?: string;
  /** The raw response body. */
  result?: unknown;
  error?: { kind: string; message: string; attempts: number; status?: number };
}

/** An item in a final state as a {@link ResultLine}. */
export function resultLine(item: StoredItem): ResultLine {
  const out: ResultLine = { id: item.id, line: item.line, status: item.state as ResultLine['status'] };
  if (item.input !== undefined) out.input = item.input;
  if (item.state === 'succeeded') {
    const text = answerText(item.result);
    if (text !== undefined) out.text = text;
    out.result = item.result ?? null;
  } else {
    const error: NonNullable<ResultLine['error']> = {
      kind: item.lastError?.kind ?? (item.state === 'cancelled' ? 'cancelled' : 'unknown'),
      message: item.lastError?.message ?? '',
      attempts: item.attempts,
    };
    if (item.lastError?.status !== undefined) error.status = item.lastError.status;
    out.error = error;
  }
  return out;
}

/** Formats an item in a final state as its results line (without the newline). */
export function formatResult(item: StoredItem): string {
  return JSON.stringify(resultLine(item));
}

/** Columns of a results CSV after the id column (which is named after the input's id column). */
export const RESULT_CSV_COLUMNS = ['line', 'status', 'text', 'error_kind', 'error_message', 'error_status', 'attempts'] as const;

/** The header of a results CSV: the id column's name, then {@link RESULT_CSV_COLUMNS}. */
export function resultCsvHeader(idColumn: string): string[] {
  if ((RESULT_CSV_COLUMNS as readonly string[]).includes(idColumn)) {
    throw new RangeError(`export: the id column "${idColumn}" has the name of a results column (${RESULT_CSV_COLUMNS.join(', ')}); export JSONL instead`);
  }
  return [idColumn, ...RESULT_CSV_COLUMNS];
}

/** An item in a final state as a results CSV row (cells in the order of {@link resultCsvHeader}). */
export function resultCsvRow(item: StoredItem): string[] {
  const r = resultLine(item);
  return [r.id, String(r.line), r.status, r.text ?? '', r.error?.kind ?? '', r.error?.message ?? '', r.error?.status !== undefined ? String(r.error.status) : '', String(item.attempts)];
}

/** Appends final items to the results file and records the committed length in the store. */
export class OutputWriter {
  private constructor(
    private readonly store: JobStore,
    private readonly fd: number,
    private offset: number,
    /** Bytes cut off the end of the file on open (the uncommitted tail of a crashed run). */
    readonly truncatedBytes: number,
    /** True when the file was shorter than recorded and is being rewritten in full. */
    readonly rewritten: boolean,
    /** Path of the results file (named in I/O errors). */
    readonly path: string,
  ) {}

  /** Opens the output for a run: repairs it against the store (see the module comment). */
  static async open(path: string, store: JobStore): Promise<OutputWriter> {
    const meta = await store.getMeta();
    const recorded = meta?.outputOffset ?? 0;
    const what = 'results file';
    const size = onFile(path, what, () => (existsSync(path) ? statSync(path).size : 0));
    const fd = onFile(path, what, () => openSync(path, existsSync(path) ? 'r+' : 'w+'));
    try {
      if (size >= recorded) {
        onFile(path, what, () => truncateTo(fd, size, recorded));
        return new OutputWriter(store, fd, recorded, size - recorded, false, path);
      }
      await store.resetWritten();
      onFile(path, what, () => truncateTo(fd, size, 0));
      return new OutputWriter(store, fd, 0, size, true, path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Writes every final item not yet in the file, in pages of `pageSize`. Returns how many were written. */
  async flush(pageSize = 1000): Promise<number> {
    let written = 0;
    while (true) {
      const items = await this.store.unwritten(pageSize);
      if (items.length === 0) return written;
      const buf = Buffer.from(items.map((i) => formatResult(i) + '\n').join(''), 'utf8');
      // Positional write at the committed length: a retry after a failed markWritten overwrites, never duplicates.
      onFile(this.path, 'results file', () => writeAllAt(this.fd, buf, this.offset));
      await this.store.markWritten(
        items.map((i) => i.id),
        this.offset + buf.length,
      );
      this.offset += buf.length;
      written += items.length;
      if (items.length < pageSize) return written;
    }
  }

  /** Current committed length of the file. */
  get length(): number {
    return this.offset;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The rejects file (JSONL: file, line, reason), truncated on resume to the length committed with ingestion. */
export class RejectsWriter {
  private pending: string[] = [];
  private constructor(
    private readonly fd: number,
    private offset: number,
    private readonly input: string,
    private readonly path: string,
  ) {}

  /** Opens `path` and cuts it to `committed` bytes (the rejects of chunks whose ingestion committed). */
  static open(path: string, committed: number, input: string): RejectsWriter {
    const what = 'rejects file';
    const fd = onFile(path, what, () => openSync(path, existsSync(path) ? 'r+' : 'w+'));
    try {
      const size = onFile(path, what, () => statSync(path).size);
      const offset = Math.min(size, committed);
      onFile(path, what, () => truncateTo(fd, size, offset));
      return new RejectsWriter(fd, offset, input, path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Queues a reject; it reaches the file on {@link write}. */
  add(line: number, reason: string): void {
    this.pending.push(JSON.stringify({ file: this.input, line, reason }) + '\n');
  }

  /** Writes queued rejects; returns the new file length (to commit with the ingestion checkpoint). */
  write(): number {
    if (this.pending.length === 0) return this.offset;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    onFile(this.path, 'rejects file', () => writeAllAt(this.fd, buf, this.offset));
    this.offset += buf.length;
    return this.offset;
  }

  close(): void {
    closeSync(this.fd);
  }
}
