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
import type { JobStore, StoredItem } from './store.js';

/** One line of the results file. */
export interface ResultLine {
  id: string;
  line: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  result?: unknown;
  error?: { kind: string; message: string; attempts: number; status?: number };
}

/** Formats an item in a final state as its results line (without the newline). */
export function formatResult(item: StoredItem): string {
  const out: ResultLine = { id: item.id, line: item.line, status: item.state as ResultLine['status'] };
  if (item.state === 'succeeded') out.result = item.result ?? null;
  else {
    const error: NonNullable<ResultLine['error']> = {
      kind: item.lastError?.kind ?? (item.state === 'cancelled' ? 'cancelled' : 'unknown'),
      message: item.lastError?.message ?? '',
      attempts: item.attempts,
    };
    if (item.lastError?.status !== undefined) error.status = item.lastError.status;
    out.error = error;
  }
  return JSON.stringify(out);
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
  ) {}

  /** Opens the output for a run: repairs it against the store (see the module comment). */
  static async open(path: string, store: JobStore): Promise<OutputWriter> {
    const meta = await store.getMeta();
    const recorded = meta?.outputOffset ?? 0;
    const size = existsSync(path) ? statSync(path).size : 0;
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    try {
      if (size >= recorded) {
        ftruncateSync(fd, recorded);
        return new OutputWriter(store, fd, recorded, size - recorded, false);
      }
      await store.resetWritten();
      ftruncateSync(fd, 0);
      return new OutputWriter(store, fd, 0, size, true);
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
      let done = 0;
      while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, this.offset + done);
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
  ) {}

  /** Opens `path` and cuts it to `committed` bytes (the rejects of chunks whose ingestion committed). */
  static open(path: string, committed: number, input: string): RejectsWriter {
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    const size = statSync(path).size;
    const offset = Math.min(size, committed);
    ftruncateSync(fd, offset);
    return new RejectsWriter(fd, offset, input);
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
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, this.offset + done);
    this.offset += buf.length;
    return this.offset;
  }

  close(): void {
    closeSync(this.fd);
  }
}
