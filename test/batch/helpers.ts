/** Test helpers for the batch layer: temp dirs, input files, fake executors. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchExecutor, BatchRunOptions } from '../../src/batch/types.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import type { ErrorKind } from '../../src/classify/kinds.js';

/** A fresh temp dir and a cleanup. */
export function tempDir(): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-batch-'));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `n` JSONL lines `{ id: "i<k>", prompt: "p<k>" }`. */
export function writeJsonl(path: string, n: number, extra = ''): void {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(JSON.stringify({ id: `i${i}`, prompt: `p${i}` }));
  writeFileSync(path, lines.join('\n') + '\n' + extra);
}

/** Parses a JSONL file. */
export function readJsonlFile(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * An executor that runs attempts through the hooks like the real one: each attempt calls `fn`;
 * a thrown SluiceError of a retryable kind is retried up to `attempts` in total (the policy's bound).
 */
export function fakeExecutor(
  fn: (payload: unknown, attempt: number, id: string) => unknown | Promise<unknown>,
  attempts = 3,
): BatchExecutor & { calls: number } {
  const ex = {
    calls: 0,
    async run(payload: unknown, o: BatchRunOptions): Promise<unknown> {
      let attempt = o.startAttempt;
      while (true) {
        if (o.signal.aborted) throw abort();
        attempt++;
        await o.onAttemptStart({ attempt, key: 'k1' });
        ex.calls++;
        try {
          const result = await fn(payload, attempt, o.id);
          await o.onAttemptEnd({ attempt, key: 'k1', ok: true });
          return result;
        } catch (error) {
          const kind: ErrorKind = error instanceof SluiceError ? error.kind : 'unknown';
          await o.onAttemptEnd({ attempt, key: 'k1', ok: false, kind, message: (error as Error).message });
          if (kind !== 'server_error' || attempt >= attempts) throw error;
        }
      }
    },
  };
  return ex;
}

function abort(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

/** A classified failure of `kind`. */
export function failure(kind: ErrorKind, message: string = kind, status?: number): SluiceError {
  return new SluiceError({ kind, retryable: kind === 'server_error', message, ...(status !== undefined && { status }) });
}
