import type { RunTotals } from './html.js';
import type { RecordedRun } from './recorder.js';

/**
 * The end-of-run summary printed on the terminal (plain text, a few lines). Given `columns` (a
 * terminal's width), each line is wrapped to it at its list separators, so nothing wraps mid-word.
 */
export function formatSummary(totals: RunTotals, run: RecordedRun, columns?: number): string {
  const attempts = run.buckets.reduce((s, b) => s + b.attempts, 0);
  const r429 = run.buckets.reduce((s, b) => s + b.rateLimited, 0);
  const secs = totals.durationMs / 1000;
  const finished = totals.succeeded + totals.failed;
  const lines = [
    `${totals.interrupted ? 'Interrupted' : 'Done'} in ${secs.toFixed(1)} s: ${totals.succeeded} succeeded, ${totals.failed} failed, ` +
      `${totals.cancelled} cancelled, ${totals.pending} pending, ${totals.rejected} rejected lines (of ${totals.total} items)`,
    `  throughput ${(secs > 0 ? finished / secs : 0).toFixed(1)} items/s; ${attempts} attempts, ${r429} answered 429 ` +
      `(${attempts ? ((100 * r429) / attempts).toFixed(2) : '0.00'} %); latency p50 ${run.latency.p50Ms.toFixed(0)} ms, p95 ${run.latency.p95Ms.toFixed(0)} ms`,
  ];
  const failed = Object.entries(run.finalFailuresByKind).filter(([, n]) => (n ?? 0) > 0);
  if (failed.length > 0) lines.push(`  failed by kind: ${failed.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const retried = Object.entries(run.attemptFailuresByKind).filter(([, n]) => (n ?? 0) > 0);
  if (retried.length > 0) lines.push(`  failed attempts by kind: ${retried.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const keys = Object.entries(run.keys);
  if (keys.length > 0) {
    lines.push(`  keys: ${keys.map(([name, k]) => `${name} ${k.succeeded}/${k.attempts} ok, ${k.segments.length} cooldowns`).join('; ')}`);
  }
  return (columns === undefined ? lines : lines.flatMap((l) => wrapLine(l, columns))).join('\n');
}

/** Continuation lines of a wrapped summary line start with this. */
const CONTINUATION = '    ';

/**
 * Breaks `line` into lines of at most `width` characters: after a `, ` or `; ` where it can, else at a
 * space; a word longer than the width stays whole (a path, say) rather than being cut.
 */
export function wrapLine(line: string, width: number): string[] {
  if (line.length <= width || width < 20) return [line];
  const words = line.split(/(?<=[,;:]) | (?=\()/).flatMap((part) => (part.length > width - CONTINUATION.length ? part.split(' ') : [part]));
  const out: string[] = [];
  let current = '';
  for (const word of words) {
    const joined = current === '' ? word : `${current} ${word}`;
    if (joined.length <= width || current.trim() === '') current = joined;
    else {
      out.push(current);
      current = `${CONTINUATION}${word}`;
    }
  }
  if (current !== '') out.push(current);
  return out;
}
