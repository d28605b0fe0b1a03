import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReplacement, replaceFile } from '../../src/observe/replace-file.js';

describe('replaceFile', () => {
  it('replaces a regular file whole, through a temporary file beside it that it leaves no trace of', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-replace-'));
    try {
      const path = join(dir, 'report.html');
      writeFileSync(path, 'old');
      replaceFile(path, 'new page');
      expect(readFileSync(path, 'utf8')).toBe('new page');
      expect(readdirSync(dir)).toEqual(['report.html']);
      // An aborted replacement leaves the old file as it was.
      const r = openReplacement(path);
      r.abort();
      expect(readFileSync(path, 'utf8')).toBe('new page');
      expect(readdirSync(dir)).toEqual(['report.html']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes into a path that is not a regular file (a FIFO, as /dev/null or /dev/stdout are devices) instead of renaming a file over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-replace-'));
    try {
      const fifo = join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      const reader = spawn('cat', [fifo]);
      let read = '';
      reader.stdout.on('data', (d: Buffer) => (read += d.toString()));
      const done = new Promise<void>((resolve) => reader.on('close', () => resolve()));
      replaceFile(fifo, 'through the pipe');
      await done;
      expect(read).toBe('through the pipe');
      expect(statSync(fifo).isFIFO()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
