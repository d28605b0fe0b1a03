/** Input change detection: size plus a streamed sha256, stored in the run metadata. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { InputFingerprint } from './store.js';

/** Thrown when a resumed run's input differs from the one the state was created with (and `force` is off). */
export class InputChangedError extends Error {
  override readonly name = 'InputChangedError';
  constructor(
    readonly expected: InputFingerprint,
    readonly actual: InputFingerprint,
  ) {
    super(
      `input changed since the state was created: ${actual.path} is now ${actual.size} bytes (sha256 ${actual.sha256.slice(0, 12)}…), ` +
        `the state was made from ${expected.path} (${expected.size} bytes, sha256 ${expected.sha256.slice(0, 12)}…); ` +
        'use another state file, or force to resume anyway',
    );
  }
}

/** Size and sha256 of a file, read as a stream (constant memory). */
export async function fingerprintFile(path: string): Promise<InputFingerprint> {
  const { size } = await stat(path);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { path, size, sha256: hash.digest('hex') };
}

/** Whether two fingerprints describe the same content (the path may differ: files get moved). */
export function sameContent(a: InputFingerprint, b: InputFingerprint): boolean {
  return a.size === b.size && a.sha256 === b.sha256;
}
