/**
 * One writer per file of a run. A second `runBatch` on the same state file would reset the first one's
 * running items and run them twice; two runs appending to one results file (even with different state
 * files) interleave, duplicate and corrupt its lines. So a run locks every file it writes: the state,
 * the results, the rejects and the report, each by a lock file `<file>.lock`.
 *
 * The lock file holds the owner's pid, the owner's start time (Linux `/proc/<pid>/stat`, so that a pid
 * reused by an unrelated process after a kill -9 is recognised as stale) and the host. A lock whose
 * process is gone, or whose pid now belongs to another process, is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/** Which file of a run a lock protects (named in messages). */
export type LockedFileRole = 'state file' | 'results file' | 'rejects file' | 'report';

/** A file to lock and its role. */
export interface LockTarget {
  path: string;
  role: LockedFileRole;
}

/** Thrown when another live process holds the lock of one of a run's files. */
export class StateInUseError extends Error {
  override readonly name = 'StateInUseError';
  /** The lock file that is held. */
  readonly lockPath: string;
  constructor(
    /** The locked file (the state file, or the results / rejects / report file). */
    readonly statePath: string,
    readonly pid: number,
    readonly role: LockedFileRole = 'state file',
    /** False when the pid could not be confirmed to be the process that took the lock (other host, no /proc). */
    confirmed = true,
  ) {
    const lockPath = `${statePath}.lock`;
    const who = `process ${pid}${confirmed ? '' : ' (if no Sluice run is active any more, delete the lock file)'}`;
    super(
      role === 'state file'
        ? `state file ${statePath} is in use by ${who}: lock ${lockPath} (another run of the same batch); wait for it or stop it`
        : `${role} ${statePath} is being written by ${who}: lock ${lockPath} (another run writes the same file); ` +
            `wait for it, or give this run another ${role === 'results file' ? '--output' : role === 'rejects file' ? '--rejects' : '--report'}`,
    );
    this.lockPath = lockPath;
  }
}

/** Locks taken by {@link acquireFileLocks}; `release()` removes them (idempotent). */
export interface RunLock {
  readonly files: readonly string[];
  release(): void;
}

/** What a lock file records about its owner. */
interface LockOwner {
  pid: number;
  /** Start time of the process (clock ticks since boot, Linux), when known. */
  start?: string;
  host?: string;
}

/**
 * Locks every target (in order; all or none). Throws {@link StateInUseError} naming the file and its
 * lock when a live process holds one; the locks already taken are released first. Duplicate paths are
 * locked once.
 */
export function acquireFileLocks(targets: readonly LockTarget[]): RunLock {
  const taken: string[] = [];
  const release = (): void => {
    for (const path of taken.splice(0)) rmSync(path, { force: true });
  };
  const seen = new Set<string>();
  try {
    for (const target of targets) {
      if (seen.has(target.path)) continue;
      seen.add(target.path);
      taken.push(lockOne(target));
    }
  } catch (error) {
    release();
    throw error;
  }
  const files = [...seen];
  return { files, release };
}

/** Takes the lock of one state file; returns its release. Throws {@link StateInUseError} when a live process holds it. */
export function acquireRunLock(statePath: string): () => void {
  return acquireFileLocks([{ path: statePath, role: 'state file' }]).release;
}

function lockOne(target: LockTarget): string {
  const path = `${target.path}.lock`;
  const me: LockOwner = { pid: process.pid, host: hostname() };
  const start = startTimeOf(process.pid);
  if (start !== undefined) me.start = start;
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return path;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw Object.assign(new Error(`${target.role} ${target.path}: cannot create its lock ${path}: ${code ?? (error as Error).message}`), {
          code,
          path,
        });
      }
    }
    const owner = readOwner(path);
    if (owner !== undefined) {
      const held = holds(owner);
      if (held !== 'gone') throw new StateInUseError(target.path, owner.pid, target.role, held === 'yes');
    }
    // Stale (its process is gone or its pid was reused, or the file is unreadable): remove and try again.
    rmSync(path, { force: true });
  }
  throw new Error(`${target.role} ${target.path}: could not take the lock ${path}`);
}

/** Whether the lock's owner still runs: `yes`, `gone`, or `maybe` (alive pid, but its identity cannot be checked). */
function holds(owner: LockOwner): 'yes' | 'gone' | 'maybe' {
  if (owner.pid === process.pid) return 'yes';
  if (owner.host !== undefined && owner.host !== hostname()) return 'maybe';
  if (!isAlive(owner.pid)) return 'gone';
  if (owner.start === undefined) return 'maybe';
  const now = startTimeOf(owner.pid);
  if (now === undefined) return 'maybe';
  return now === owner.start ? 'yes' : 'gone';
}

function readOwner(path: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  // Older lock files hold the bare pid.
  if (/^\d+$/.test(text)) return validPid(Number(text)) ? { pid: Number(text) } : undefined;
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!validPid(o.pid)) return undefined;
    const owner: LockOwner = { pid: o.pid };
    if (typeof o.start === 'string') owner.start = o.start;
    if (typeof o.host === 'string') owner.host = o.host;
    return owner;
  } catch {
    return undefined;
  }
}

function validPid(pid: unknown): pid is number {
  return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0;
}

/** Start time of a process from `/proc/<pid>/stat` (field 22), or undefined where there is no procfs. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
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
