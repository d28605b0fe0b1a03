import type { Clock } from '../clock/clock.js';
import type { CancelTimer } from '../clock/clock.js';
import type { KeyStateName, RunEvent, RunObserver } from './report/run-events.js';

/** Counts of items by state, as the store reports them. */
export interface ProgressCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  pending: number;
}

/** What one progress record / redraw shows. */
export interface ProgressSnapshot extends ProgressCounts {
  at: number;
  elapsedMs: number;
  inFlight: number;
  /** Items waiting for a retry. */
  retrying: number;
  /** Items finished per second over the last `rateWindowMs`. */
  ratePerSec: number;
  /** Estimated time to finish the remaining items at the current rate; undefined when unknown. */
  etaMs: number | undefined;
  concurrency: number | undefined;
  paused: boolean;
  keys: { name: string; state: KeyStateName; untilMs?: number; reason?: string }[];
}

/**
 * Follows a run from {@link RunEvent}s and periodic store counts, and answers "how far are we":
 * done, failed, retrying, rate, ETA, concurrency and each key's state and cooldown.
 */
export class ProgressTracker implements RunObserver {
  private counts: ProgressCounts = { total: 0, succeeded: 0, failed: 0, cancelled: 0, pending: 0 };
  private inFlight = 0;
  private readonly retrying = new Set<string>();
  private concurrency: number | undefined;
  private paused = false;
  private readonly keys = new Map<string, { state: KeyStateName; until?: number; reason?: string }>();
  /** (time, finished) samples for the rate; bounded by the window. */
  private readonly samples: [number, number][] = [];
  private readonly startedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly rateWindowMs = 10_000,
  ) {
    this.startedAt = clock.now();
  }

  /** Adopts the store's counts (authoritative; events refine them in between). */
  setCounts(counts: ProgressCounts): void {
    this.counts = { ...counts };
  }

  /** Declares the run's keys so they show before their first event. */
  setKeys(names: readonly string[]): void {
    for (const n of names) if (!this.keys.has(n)) this.keys.set(n, { state: 'active' });
  }

  observe(e: RunEvent): void {
    switch (e.type) {
      case 'attempt_start':
        this.inFlight++;
        this.retrying.delete(e.id);
        if (e.key && !this.keys.has(e.key)) this.keys.set(e.key, { state: 'active' });
        break;
      case 'attempt_end':
        this.inFlight = Math.max(0, this.inFlight - 1);
        break;
      case 'retry':
        this.retrying.add(e.id);
        break;
      case 'item':
        this.retrying.delete(e.id);
        if (e.state === 'succeeded' || e.state === 'failed' || e.state === 'cancelled') {
          this.counts[e.state]++;
          this.counts.pending = Math.max(0, this.counts.pending - 1);
        }
        break;
      case 'key_state':
        this.keys.set(e.key, { state: e.state, ...(e.until !== undefined ? { until: e.until } : {}), ...(e.reason ? { reason: e.reason } : {}) });
        break;
      case 'concurrency':
        this.concurrency = e.limit;
        break;
      case 'pause':
        this.paused = true;
        break;
      case 'resume':
        this.paused = false;
        break;
      default:
        break;
    }
  }

  /** The current state; also records a rate sample. */
  snapshot(): ProgressSnapshot {
    const now = this.clock.now();
    const finished = this.counts.succeeded + this.counts.failed + this.counts.cancelled;
    this.samples.push([now, finished]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > this.rateWindowMs) this.samples.shift();
    const first = this.samples[0]!;
    const span = now - first[0];
    const ratePerSec = span > 0 ? ((finished - first[1]) * 1000) / span : 0;
    const remaining = Math.max(0, this.counts.total - finished);
    return {
      ...this.counts,
      at: now,
      elapsedMs: now - this.startedAt,
      inFlight: this.inFlight,
      retrying: this.retrying.size,
      ratePerSec,
      etaMs: remaining === 0 ? 0 : ratePerSec > 0 ? (remaining / ratePerSec) * 1000 : undefined,
      concurrency: this.concurrency,
      paused: this.paused,
      keys: [...this.keys].map(([name, k]) => {
        // A cooldown whose end has passed is over even if no end event came (keys rejoin lazily).
        const over = k.until !== undefined && k.until <= now && k.state !== 'disabled';
        if (k.state === 'active' || over) return { name, state: 'active' as const };
        return {
          name,
          state: k.state,
          ...(k.until !== undefined ? { untilMs: Math.max(0, k.until - now) } : {}),
          ...(k.reason ? { reason: k.reason } : {}),
        };
      }),
    };
  }
}

/** Where and how progress is shown. */
export interface ProgressDisplayOptions {
  clock: Clock;
  tracker: ProgressTracker;
  /** The stream written to (stderr by default, so stdout stays clean for data). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** `tty` redraws a block; `json` writes one JSON line per interval; `off` writes nothing; `auto` picks by `isTTY`. */
  mode?: 'auto' | 'tty' | 'json' | 'off';
  /** Interval of JSON records (default 5,000 ms). The TTY block redraws every 250 ms. */
  intervalMs?: number;
}

function dur(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One JSON progress record (non-terminal output). */
export function progressRecord(s: ProgressSnapshot): string {
  return JSON.stringify({
    type: 'progress',
    time: new Date(s.at).toISOString(),
    total: s.total,
    succeeded: s.succeeded,
    failed: s.failed,
    cancelled: s.cancelled,
    pending: s.pending,
    retrying: s.retrying,
    inFlight: s.inFlight,
    concurrency: s.concurrency ?? null,
    ratePerSec: Math.round(s.ratePerSec * 100) / 100,
    etaSec: s.etaMs === undefined ? null : Math.round(s.etaMs / 1000),
    elapsedSec: Math.round(s.elapsedMs / 1000),
    paused: s.paused,
    keys: Object.fromEntries(s.keys.map((k) => [k.name, k.untilMs !== undefined ? `${k.state} ${dur(k.untilMs)}` : k.state])),
  });
}

/** The live block drawn on a terminal, as lines. */
export function progressLines(s: ProgressSnapshot, width = 30): string[] {
  const finished = s.succeeded + s.failed + s.cancelled;
  const frac = s.total > 0 ? Math.min(1, finished / s.total) : 0;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const lines = [
    `sluice [${bar}] ${(frac * 100).toFixed(1).padStart(5)}%  ${finished}/${s.total}  ok ${s.succeeded}  failed ${s.failed}  retrying ${s.retrying}`,
    `  rate ${s.ratePerSec.toFixed(1)}/s  ETA ${s.etaMs === 0 ? '0s' : dur(s.etaMs)}  elapsed ${dur(s.elapsedMs)}  in flight ${s.inFlight}` +
      `${s.concurrency !== undefined ? `/${s.concurrency}` : ''}${s.paused ? '  PAUSED' : ''}`,
  ];
  for (const k of s.keys) {
    const extra = k.untilMs !== undefined ? ` ${dur(k.untilMs)}` : '';
    lines.push(`  ${k.name.padEnd(16)} ${k.state}${extra}${k.reason ? ` (${k.reason})` : ''}`);
  }
  return lines;
}

/**
 * Shows progress: on a terminal a block redrawn in place; elsewhere periodic one-line JSON records.
 * `stop()` draws the last state and removes its timer.
 */
export class ProgressDisplay {
  private readonly mode: 'tty' | 'json' | 'off';
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly intervalMs: number;
  private cancel: CancelTimer | undefined;
  private drawn = 0;
  private stopped = false;

  constructor(private readonly options: ProgressDisplayOptions) {
    this.stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (this.stream.isTTY ? 'tty' : 'json') : mode;
    this.intervalMs = this.mode === 'tty' ? 250 : (options.intervalMs ?? 5000);
    if (!(this.intervalMs >= 10)) throw new RangeError(`progress: intervalMs must be >= 10, got ${this.intervalMs}`);
  }

  /** The resolved mode. */
  get resolvedMode(): 'tty' | 'json' | 'off' {
    return this.mode;
  }

  start(): void {
    if (this.mode === 'off' || this.cancel || this.stopped) return;
    this.schedule();
  }

  /** Draws the final state once and stops. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    if (this.mode !== 'off') this.draw();
  }

  /** Draws now. */
  draw(): void {
    const s = this.options.tracker.snapshot();
    if (this.mode === 'json') {
      this.stream.write(`${progressRecord(s)}\n`);
    } else if (this.mode === 'tty') {
      const lines = progressLines(s);
      let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      for (const l of lines) out += `\x1b[2K${l}\n`;
      // Clear leftover lines if the block shrank.
      for (let i = lines.length; i < this.drawn; i++) out += '\x1b[2K\n';
      this.stream.write(out);
      this.drawn = Math.max(lines.length, this.drawn);
    }
  }

  private schedule(): void {
    this.cancel = this.options.clock.setTimer(this.intervalMs, () => {
      if (this.stopped) return;
      this.draw();
      this.schedule();
    });
  }
}
