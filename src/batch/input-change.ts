/**
 * What changed in an input file since its state was made, line by line, for a resume with `force`:
 * lines appended after the ingested ones are simply ingested; a line whose item differs from the stored
 * one (`changed`), a stored line that is gone or blank (`removed`), one that no longer parses
 * (`rejected`) and a line that is valid now but was not ingested before (`added`) are listed, so the
 * caller can re-run them or keep the old results (`ChangedLinesPolicy`).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readInput } from './ingest.js';
import type { InputFingerprint, JobStore, NewItem, StoredItem } from './store.js';
import type { InputOptions } from './types.js';

/** What to do with lines that changed under a forced resume: run them again, or keep their old result. */
export type ChangedLinesPolicy = 'rerun' | 'keep';

/** One line that differs from what the state holds. */
export interface LineChange {
  line: number;
  change: 'changed' | 'removed' | 'rejected' | 'added';
  /** Id of the stored item on that line (changed, removed, rejected). */
  oldId?: string;
  /** The line's item now (changed, added). */
  item?: NewItem;
  /** Why the line is rejected now. */
  reason?: string;
}

/** Thrown when a forced resume finds changed lines and no policy was chosen. */
export class InputLinesChangedError extends Error {
  override readonly name = 'InputLinesChangedError';
  constructor(
    readonly input: string,
    readonly changes: readonly LineChange[],
  ) {
    super(
      `input ${input} changed in ${changes.length} line(s) already run: ${describeChanges(changes)}; ` +
        'give --changed-lines rerun to run them again (their old results are replaced) or --changed-lines keep to keep the old results',
    );
  }
}

/** Thrown when a state made from one input is used with another one. */
export class StateOfOtherInputError extends Error {
  override readonly name = 'StateOfOtherInputError';
  constructor(
    readonly state: string,
    readonly madeFrom: string,
    readonly input: string,
  ) {
    super(
      `state file ${state} was made from ${madeFrom}, not from ${input}, and the contents differ: ` +
        'its results are not this input\'s and are never written over them (even with force); use another --state for this input',
    );
  }
}

/** `line 3 changed (id a), line 9 removed (id b), …` — the first `max` changes and a count of the rest. */
export function describeChanges(changes: readonly LineChange[], max = 20): string {
  const shown = changes.slice(0, max).map((c) => {
    const id = c.item?.id ?? c.oldId;
    const what = c.change === 'rejected' ? `now rejected (${c.reason ?? 'invalid'})` : c.change;
    return `line ${c.line} ${what}${id !== undefined ? ` (id ${id})` : ''}`;
  });
  const more = changes.length > max ? `, and ${changes.length - max} more` : '';
  return shown.join(', ') + more;
}

/** Refuses a state made from another file whose content differs (a moved file with the same content is fine). */
export function checkSameInput(state: string, stored: InputFingerprint, actual: InputFingerprint): void {
  if (resolve(stored.path) !== resolve(actual.path)) throw new StateOfOtherInputError(state, stored.path, actual.path);
}

/**
 * True when `path` starts with exactly the bytes `old` describes and those end at a line boundary, so
 * the only change is lines appended after the old end.
 */
export async function isAppendOnly(old: InputFingerprint, path: string): Promise<boolean> {
  if (old.size === 0) return true;
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: old.size - 1 })) {
    hash.update(chunk as Buffer);
    read += (chunk as Buffer).length;
  }
  if (read !== old.size || hash.digest('hex') !== old.sha256) return false;
  const fh = await open(path, 'r');
  try {
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, old.size - 1);
    return last[0] === 0x0a;
  } finally {
    await fh.close();
  }
}

/**
 * Compares the input's lines 1..`throughLine` (those already ingested) with the stored items, streaming
 * both in line order. Needs `store.itemsInLineOrder`.
 */
export async function compareLines(store: JobStore, options: InputOptions, throughLine: number): Promise<LineChange[]> {
  const page = store.itemsInLineOrder?.bind(store);
  if (!page) throw new Error('this state store cannot compare a changed input line by line');
  const changes: LineChange[] = [];
  let stored: StoredItem[] = [];
  let at = 0;
  let afterLine = 0;
  let storedDone = false;
  const nextStored = async (): Promise<StoredItem | undefined> => {
    if (at >= stored.length && !storedDone) {
      stored = await page(afterLine, 1000);
      at = 0;
      if (stored.length < 1000) storedDone = true;
      afterLine = stored.at(-1)?.line ?? afterLine;
    }
    return stored[at];
  };
  /** Stored items on lines before `line` have no record any more: removed. */
  const drainBefore = async (line: number): Promise<StoredItem | undefined> => {
    let s = await nextStored();
    while (s && s.line < line) {
      changes.push({ line: s.line, change: 'removed', oldId: s.id });
      at++;
      s = await nextStored();
    }
    return s;
  };
  for await (const record of readInput(options)) {
    if (record.line > throughLine) break;
    const s = await drainBefore(record.line);
    const here = s && s.line === record.line ? s : undefined;
    if (here) at++;
    if ('reject' in record) {
      if (here) changes.push({ line: record.line, change: 'rejected', oldId: here.id, reason: record.reject });
      continue;
    }
    if (here) {
      if (!sameItem(here, record.item)) changes.push({ line: record.line, change: 'changed', oldId: here.id, item: record.item });
      continue;
    }
    // No stored item on this line: it was rejected (or blank) then. An id stored on another line means it was
    // (and still is) a duplicate.
    if ((await store.get(record.item.id)) === undefined) changes.push({ line: record.line, change: 'added', item: record.item });
  }
  // Stored lines up to `throughLine` past the last record are gone.
  await drainBefore(throughLine + 1);
  return changes;
}

function sameItem(stored: StoredItem, item: NewItem): boolean {
  return stored.id === item.id && stored.priority === item.priority && JSON.stringify(stored.payload) === JSON.stringify(item.payload);
}

/**
 * Applies the `rerun` policy: the items of changed, removed and rejected lines leave the store, and the
 * changed and added lines' items come in as pending. Returns the ids that could not come in because
 * another line uses them.
 */
export async function rerunChangedLines(store: JobStore, changes: readonly LineChange[]): Promise<string[]> {
  if (!store.replaceItems) throw new Error('this state store cannot re-run changed lines');
  const remove = changes.flatMap((c) => (c.oldId !== undefined ? [c.oldId] : []));
  const add = changes.flatMap((c) => (c.item ? [c.item] : []));
  const { duplicates } = await store.replaceItems(remove, add);
  return duplicates;
}
