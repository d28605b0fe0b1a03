/**
 * Splits a file into lines as a stream, never holding more than one line (capped at `maxLineBytes`)
 * in memory: a 2 GB line is reported as too long without being buffered. (`readline` would buffer it.)
 */
import { createReadStream } from 'node:fs';

/** One physical line: its text, or `tooLong` with its size. Line numbers are 1-based. */
export type RawLine = { line: number; text: string } | { line: number; tooLong: number };

/** Yields every line of `path` (a final line without newline included; `\r\n` handled). */
export async function* readLines(path: string, maxLineBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let line = 0;
  const finish = (): RawLine => {
    line++;
    const result: RawLine =
      size > maxLineBytes ? { line, tooLong: size } : { line, text: stripCr(Buffer.concat(parts, size).toString('utf8'), line) };
    parts = [];
    size = 0;
    return result;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    const buf = chunk as Buffer;
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl === -1 ? buf.length : nl;
      const piece = end - start;
      if (size + piece <= maxLineBytes) parts.push(buf.subarray(start, end));
      else parts = [];
      size += piece;
      if (nl === -1) break;
      yield finish();
      start = nl + 1;
    }
  }
  if (size > 0 || parts.length > 0) yield finish();
}

/** Drops a trailing `\r`, and the UTF-8 byte order mark some editors put at the start of a file. */
function stripCr(text: string, line: number): string {
  const t = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return t.endsWith('\r') ? t.slice(0, -1) : t;
}
