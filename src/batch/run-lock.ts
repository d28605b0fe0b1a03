/**
 * One run per state file: a second `runBatch` on the same file would reset the first one's running
 * items and run them twice. A lock file `<state>.lock` holds the owner's pid; a lock whose process is
 * gone (kill -9) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/** Thrown when another live process is running a batch on the same state file. */
export class StateInUseError extends Error {
  override readonly name = 'StateInUseError';
  constructor(
    readonly statePath: string,
    readonly pid: number,
  ) {
    super(`state file ${statePath} is in use by process ${pid} (another run of the same batch); wait for it or stop it`);
  }
}

/** Takes the lock of `statePath`; returns its release. Throws {@link StateInUseError} when a live process holds it. */
export function acquireRunLock(statePath: string): () => void {
  const path = `${statePath}.lock`;
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(path);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new StateInUseError(statePath, owner);
    if (owner === process.pid) throw new StateInUseError(statePath, owner);
    // Stale (its process is gone, or the file is unreadable): remove and try again.
    rmSync(path, { force: true });
  }
  throw new Error(`state file ${statePath}: could not take the lock ${path}`);
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
