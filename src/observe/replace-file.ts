/**
 * Writing a file a reader may have open (a report page a browser reloads, an export): into a temporary
 * file beside it, renamed over it when complete, so that no reader sees half a file. Where the path is
 * not a regular file (`/dev/null`, `/dev/stdout`, a FIFO), it is written in place: a rename would put a
 * regular file where the device was (as root, `--report /dev/null` replaced the machine's /dev/null).
 */
import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';

/** A file being written: `commit` puts it in place, `abort` leaves the old one as it was. */
export interface Replacement {
  /** The descriptor to write to. */
  readonly fd: number;
  commit(): void;
  abort(): void;
}

/** Opens the replacement of `path` (see the module's comment). */
export function openReplacement(path: string): Replacement {
  if (isSpecialFile(path)) {
    const fd = openSync(path, 'w');
    return { fd, commit: () => closeSync(fd), abort: () => closeSync(fd) };
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  return {
    fd,
    commit: () => {
      closeSync(fd);
      renameSync(tmp, path);
    },
    abort: () => {
      closeSync(fd);
      unlinkSync(tmp);
    },
  };
}

/** Writes `contents` to `path` through {@link openReplacement}. */
export function replaceFile(path: string, contents: string): void {
  const r = openReplacement(path);
  try {
    writeSync(r.fd, contents);
  } catch (err) {
    r.abort();
    throw err;
  }
  r.commit();
}

function isSpecialFile(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch {
    return false; // absent: a new regular file
  }
}
