import type { Clock } from '../clock/clock.js';
import type { CancelTimer } from '../clock/clock.js';
import { answeredRateLimited, type KeyStateName, type RunEvent, type RunObserver } from './report/run-events.js';

/** Counts of items by state, as the store reports them. */
export interface ProgressCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  pending: number;
}

/** One key as the progress shows it. */
export interface KeyProgress {
  name: string;
  state: KeyStateName;
  /** Time left until the key takes work again (cooling, paused, parked). */
  untilMs?: number;
  /** When it takes work again, ms since epoch. */
  until?: number;
  /** Why: the error kind of a cooldown, or the quota that paused it. */
  reason?: string;
}

/** The concurrency limit and its last move. */
export interface ConcurrencyProgress {
  limit: number;
  /** Adaptive range, when the limit moves by itself. */
  min?: number;
  max?: number;
  /** The limit before its last change, and why it changed. */
  from?: number;
  reason?: string;
  /** How long ago it changed. */
  agoMs?: number;
}

/** Why the whole run does not start attempts, and until when. */
export interface PauseProgress {
  reason: string;
  detail?: string;
  /** When starts resume, ms since epoch (undefined: unknown or manual). */
  until?: number;
}

/** What one progress record / redraw shows. */
export interface ProgressSnapshot extends ProgressCounts {
  at: number;
  elapsedMs: number;
  inFlight: number;
  /** Items waiting for a retry. */
  retrying: number;
  /** Attempts answered 429 / rate_limited so far. */
  rateLimited: number;
  /** Items finished per second over the last `rateWindowMs`. */
  ratePerSec: number;
  /** Estimated time to finish the remaining items (a pause's remaining time included); undefined when unknown. */
  etaMs: number | undefined;
  concurrency: ConcurrencyProgress | undefined;
  /** The run's pause, or undefined while it runs. A pause of every key by its quota counts as one. */
  pause: PauseProgress | undefined;
  keys: KeyProgress[];
}

/**
 * Follows a run from {@link RunEvent}s and periodic store counts, and answers "how far are we":
 * done, failed, retrying, 429s, rate, ETA, the concurrency limit and why it moved, the run's pause and
 * each key's state, reason and resume time.
 */
export class ProgressTracker implements RunObserver {
  private counts: ProgressCounts = { total: 0, succeeded: 0, failed: 0, cancelled: 0, pending: 0 };
  private inFlight = 0;
  private rateLimited = 0;
  private readonly retrying = new Set<string>();
  private concurrency: (ConcurrencyProgress & { at: number }) | undefined;
  private range: { min: number; max: number } | undefined;
  private pause: PauseProgress | undefined;
  private readonly keys = new Map<string, { state: KeyStateName; until?: number; reason?: string }>();
  /** (time, finished) samples for the rate; bounded by the window. */
  private readonly samples: [number, number][] = [];
  /** The last non-zero rate, for the ETA after a pause. */
  private lastRate = 0;
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

  /** Declares the adaptive range of the concurrency limit (shown beside it). */
  setConcurrencyRange(min: number, max: number): void {
    this.range = { min, max };
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
        if (answeredRateLimited(e)) this.rateLimited++;
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
        this.concurrency = {
          at: e.at,
          limit: e.limit,
          ...(e.from !== undefined && e.from !== e.limit ? { from: e.from } : {}),
          ...(e.reason ? { reason: e.reason } : {}),
        };
        break;
      case 'pause':
        this.pause = { reason: e.reason, ...(e.detail ? { detail: e.detail } : {}), ...(e.until !== undefined ? { until: e.until } : {}) };
        break;
      case 'resume':
        this.pause = undefined;
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
    if (ratePerSec > 0) this.lastRate = ratePerSec;
    const remaining = Math.max(0, this.counts.total - finished);
    const keys = [...this.keys].map(([name, k]) => keyProgress(name, k, now));
    const pause = this.pauseNow(keys, now);
    const waitMs = pause?.until !== undefined ? Math.max(0, pause.until - now) : 0;
    const rate = pause ? this.lastRate : ratePerSec;
    return {
      ...this.counts,
      at: now,
      elapsedMs: now - this.startedAt,
      inFlight: this.inFlight,
      retrying: this.retrying.size,
      rateLimited: this.rateLimited,
      ratePerSec,
      etaMs: remaining === 0 ? 0 : rate > 0 && (!pause || pause.until !== undefined) ? waitMs + (remaining / rate) * 1000 : undefined,
      concurrency: this.concurrency && {
        limit: this.concurrency.limit,
        ...(this.range ? this.range : {}),
        ...(this.concurrency.from !== undefined ? { from: this.concurrency.from } : {}),
        ...(this.concurrency.reason ? { reason: this.concurrency.reason } : {}),
        agoMs: now - this.concurrency.at,
      },
      pause,
      keys,
    };
  }

  /** The run's own pause, or one made of every key being out of work at once (resumes with the first back). */
  private pauseNow(keys: KeyProgress[], now: number): PauseProgress | undefined {
    if (this.pause) {
      const until = this.pause.until ?? earliest(keys);
      return { ...this.pause, ...(until !== undefined && until > now ? { until } : {}) };
    }
    if (keys.length === 0 || keys.some((k) => k.state === 'active')) return undefined;
    const paused = keys.filter((k) => k.state === 'paused');
    const until = earliest(keys);
    if (paused.length === keys.length) return { reason: 'quota', detail: paused[0]!.reason ?? 'every key is paused by its quota', ...(until !== undefined ? { until } : {}) };
    return { reason: 'no key available', ...(until !== undefined ? { until } : {}) };
  }
}

function keyProgress(name: string, k: { state: KeyStateName; until?: number; reason?: string }, now: number): KeyProgress {
  // A wait whose end has passed is over even if no end event came (keys rejoin lazily).
  const over = k.until !== undefined && k.until <= now && k.state !== 'disabled';
  if (k.state === 'active' || over) return { name, state: 'active' };
  return {
    name,
    state: k.state,
    ...(k.until !== undefined ? { until: k.until, untilMs: k.until - now } : {}),
    ...(k.reason ? { reason: k.reason } : {}),
  };
}

function earliest(keys: KeyProgress[]): number | undefined {
  const times = keys.filter((k) => k.state !== 'disabled' && k.until !== undefined).map((k) => k.until!);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** Where and how progress is shown. */
export interface ProgressDisplayOptions {
  clock: Clock;
  tracker: ProgressTracker;
  /** The stream written to (stderr by default, so stdout stays clean for data). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number; getWindowSize?: () => [number, number] };
  /** `tty` redraws a block; `json` writes one JSON line per interval; `off` writes nothing; `auto` picks by `isTTY`. */
  mode?: 'auto' | 'tty' | 'json' | 'off';
  /** Interval of JSON records (default 5,000 ms). The TTY block redraws every 250 ms. */
  intervalMs?: number;
}

/**
 * A duration for people: `0.4s` under ten seconds (never `0s` for a wait still running), `42s`, `3m07s`,
 * `2h05m`, `3d04h`.
 */
export function formatWait(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  if (ms <= 0) return '0s';
  if (ms < 10_000) return `${Math.max(0.1, Math.ceil(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** A wall-clock time in UTC, with the date when it is not the same day as `now`: `00:00 UTC`, `Dec 3 14:05 UTC`. */
export function formatClock(at: number, now: number): string {
  const d = new Date(at);
  const hm = d.toISOString().slice(11, 16);
  if (d.toISOString().slice(0, 10) === new Date(now).toISOString().slice(0, 10)) return `${hm} UTC`;
  return `${d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })} ${d.getUTCDate()} ${hm} UTC`;
}

/** A key's state in words: `cooling 1.4s (rate_limited)`, `paused until 00:00 UTC (in 3h12m): daily quota at 80%`. */
export function describeKey(k: KeyProgress, now: number): string {
  if (k.state === 'active') return 'active';
  if (k.state === 'disabled') return `disabled${k.reason ? ` (${k.reason})` : ''}`;
  if (k.untilMs === undefined) return `${k.state}${k.reason ? ` (${k.reason})` : ''}`;
  if (k.untilMs < 60_000) return `${k.state} ${formatWait(k.untilMs)}${k.reason ? ` (${k.reason})` : ''}`;
  return `${k.state} until ${formatClock(k.until!, now)} (in ${formatWait(k.untilMs)})${k.reason ? `: ${k.reason}` : ''}`;
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
    rateLimited: s.rateLimited,
    concurrency: s.concurrency?.limit ?? null,
    ...(s.concurrency?.reason ? { concurrencyReason: s.concurrency.reason } : {}),
    ratePerSec: Math.round(s.ratePerSec * 100) / 100,
    etaSec: s.etaMs === undefined ? null : Math.round(s.etaMs / 1000),
    elapsedSec: Math.round(s.elapsedMs / 1000),
    paused: s.pause !== undefined,
    ...(s.pause ? { pause: { reason: s.pause.reason, ...(s.pause.detail ? { detail: s.pause.detail } : {}), ...(s.pause.until !== undefined ? { until: new Date(s.pause.until).toISOString() } : {}) } } : {}),
    keys: Object.fromEntries(s.keys.map((k) => [k.name, describeKey(k, s.at)])),
  });
}

/** Cuts a line to `width` columns (an ellipsis marks the cut). Progress text is one column per character. */
function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** Joins parts with two spaces, leaving out trailing parts that would not fit; the first part is cut if needed. */
function joinFitting(parts: string[], width: number): string {
  let line = parts[0] ?? '';
  for (const p of parts.slice(1)) {
    if (line.length + 2 + p.length > width) break;
    line += `  ${p}`;
  }
  return fit(line, width);
}

/** What the concurrency line says: the limit, whether it adapts, and its last move with the reason. */
function concurrencyText(s: ProgressSnapshot): string {
  const c = s.concurrency;
  if (!c) return `in flight ${s.inFlight}`;
  const range = c.min !== undefined && c.max !== undefined ? `adaptive ${c.min}..${c.max}` : 'fixed';
  const moved = c.from !== undefined ? `, ${c.from > c.limit ? 'down' : 'up'} from ${c.from} ${formatWait(c.agoMs)} ago: ${c.reason ?? '?'}` : '';
  return `in flight ${s.inFlight} of limit ${c.limit} (${range}${moved})`;
}

/** What the pause line says: the cause and when it ends. */
function pauseText(p: PauseProgress, now: number): string {
  const ends = p.until !== undefined ? `, resumes ${formatClock(p.until, now)} (in ${formatWait(p.until - now)})` : p.reason === 'manual' ? ', until resumed' : '';
  return `PAUSED: ${p.reason}${p.detail ? ` (${p.detail})` : ''}${ends}`;
}

/**
 * The live block drawn on a terminal, as lines of at most `columns` characters, and at most `rows` lines
 * (keys beyond them are summed up in one line).
 */
export function progressLines(s: ProgressSnapshot, columns = 100, rows = 24): string[] {
  const width = Math.max(20, columns);
  const finished = s.succeeded + s.failed + s.cancelled;
  const frac = s.total > 0 ? Math.min(1, finished / s.total) : 0;
  const barWidth = Math.max(0, Math.min(30, width - 50));
  const bar = barWidth >= 8 ? `[${'█'.repeat(Math.round(frac * barWidth))}${'░'.repeat(barWidth - Math.round(frac * barWidth))}]` : '';
  const head = [`sluice ${bar}${bar ? ' ' : ''}${(frac * 100).toFixed(1)}%`, `${finished}/${s.total}`, `ok ${s.succeeded}`, `failed ${s.failed}`, `retrying ${s.retrying}`];
  const eta = s.etaMs === undefined ? '?' : formatWait(s.etaMs);
  const lines = [
    joinFitting(head, width),
    joinFitting([`rate ${s.ratePerSec.toFixed(1)}/s`, `ETA ${eta}`, `429s ${s.rateLimited}`, `elapsed ${formatWait(s.elapsedMs)}`], width),
    fit(concurrencyText(s), width),
  ];
  if (s.pause) lines.push(fit(pauseText(s.pause, s.at), width));
  const nameWidth = Math.min(16, Math.max(...s.keys.map((k) => k.name.length), 4));
  const room = Math.max(1, rows - lines.length - 1);
  const shown = s.keys.length <= room ? s.keys : s.keys.slice(0, room - 1);
  for (const k of shown) lines.push(fit(`  ${k.name.padEnd(nameWidth)}  ${describeKey(k, s.at)}`, width));
  if (shown.length < s.keys.length) {
    const rest = s.keys.slice(shown.length);
    lines.push(fit(`  +${rest.length} keys (${rest.filter((k) => k.state === 'active').length} active)`, width));
  }
  return lines;
}

const ESC = '\x1b[';

/**
 * Shows progress: on a terminal a block redrawn in place at the terminal's width (never wider, so nothing
 * wraps; redrawn at once on resize); elsewhere periodic one-line JSON records. {@link print} writes a
 * message above the block; `stop()` draws the last state once and removes its timer.
 */
export class ProgressDisplay {
  private readonly mode: 'tty' | 'json' | 'off';
  private readonly stream: NonNullable<ProgressDisplayOptions['stream']>;
  private readonly intervalMs: number;
  private cancel: CancelTimer | undefined;
  /** Lengths of the lines of the block on screen (to know how many rows it takes at the current width). */
  private drawn: number[] = [];
  private stopped = false;
  /**
   * On a resize the terminal may already have re-wrapped the block, and a redraw may have run between the
   * resize and its signal at the old width: the rows the block takes are not known for sure. So the
   * screen is cleared and the block drawn at its top (what was above it stays in the scrollback).
   */
  private readonly onResize = (): void => {
    if (this.stopped || this.drawn.length === 0) return;
    this.stream.write(`${ESC}H${ESC}2J`);
    this.drawn = [];
    this.draw();
  };

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
    if (this.mode === 'tty') this.stream.on('resize', this.onResize);
    this.schedule();
  }

  /** Draws the final state once and stops. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    this.stream.off?.('resize', this.onResize);
    if (this.mode !== 'off') this.draw();
    this.drawn = [];
  }

  /** Writes a message line without breaking the block: on a terminal the block is erased, the line written, the block drawn below. */
  print(message: string): void {
    if (this.mode !== 'tty' || this.drawn.length === 0) {
      this.stream.write(`${message}\n`);
      return;
    }
    this.stream.write(`${this.erase()}${message}\n`);
    this.drawn = [];
    if (!this.stopped) this.draw();
  }

  /** Draws now. */
  draw(): void {
    const s = this.options.tracker.snapshot();
    if (this.mode === 'json') {
      this.stream.write(`${progressRecord(s)}\n`);
    } else if (this.mode === 'tty') {
      // One column short of the width: a line that fills the last column leaves some terminals in a pending wrap.
      const [width, height] = this.size();
      const lines = progressLines(s, width - 1, height);
      this.stream.write(`${this.erase()}${lines.join('\n')}\n`);
      this.drawn = lines.map((l) => l.length);
    }
  }

  /** Moves to the block's first row and clears to the end of the screen. */
  private erase(): string {
    if (this.drawn.length === 0) return '\r';
    // After a resize a terminal may have re-wrapped the old lines: count the rows they take now.
    const columns = Math.max(1, this.size()[0]);
    const rows = this.drawn.reduce((n, len) => n + Math.max(1, Math.ceil(len / columns)), 0);
    return `\r${ESC}${rows}A${ESC}J`;
  }

  /**
   * The terminal's size now. Asked of the terminal itself (an ioctl), not the size cached at the last
   * SIGWINCH: a redraw between a resize and its signal would otherwise count rows at the old width.
   */
  private size(): [number, number] {
    try {
      const live = this.stream.getWindowSize?.();
      if (live && live[0] > 0) return live;
    } catch {
      // not a terminal any more (closed): fall back to the cached size
    }
    return [this.stream.columns ?? 80, this.stream.rows ?? 24];
  }

  private schedule(): void {
    this.cancel = this.options.clock.setTimer(this.intervalMs, () => {
      if (this.stopped) return;
      this.draw();
      this.schedule();
    });
  }
}
