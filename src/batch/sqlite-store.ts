/** Embedded JobStore on SQLite. (Class name first; implementation follows.) */
import type { JobStore } from './store.js';

/** A state file that cannot be used: corrupt, another program's, or a newer schema. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

/** The embedded {@link JobStore}: better-sqlite3, WAL. */
export abstract class SqliteJobStore implements JobStore {
  abstract getMeta: JobStore['getMeta'];
  abstract setMeta: JobStore['setMeta'];
  abstract existingIds: JobStore['existingIds'];
  abstract ingest: JobStore['ingest'];
  abstract claimPending: JobStore['claimPending'];
  abstract recordAttemptStart: JobStore['recordAttemptStart'];
  abstract recordAttemptEnd: JobStore['recordAttemptEnd'];
  abstract complete: JobStore['complete'];
  abstract resetRunning: JobStore['resetRunning'];
  abstract retryFailed: JobStore['retryFailed'];
  abstract counts: JobStore['counts'];
  abstract unwritten: JobStore['unwritten'];
  abstract markWritten: JobStore['markWritten'];
  abstract resetWritten: JobStore['resetWritten'];
  abstract finalItems: JobStore['finalItems'];
  abstract get: JobStore['get'];
  abstract close: JobStore['close'];
}
