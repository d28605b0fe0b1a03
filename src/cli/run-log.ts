import type { Logger } from 'pino';
import { createLogger } from '../observe/logger.js';
import type { RunLogEventName } from '../observe/log-events.js';
import { answeredRateLimited, type RunEvent, type RunObserver } from '../observe/report/run-events.js';

/** Levels of pino the run log uses. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The part of a pino logger that {@link RunLog} writes to. */
export type RunLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** Options of {@link RunLog}. */
export interface RunLogOptions {
  /** Ascending usage fractions; the first is logged at info, the second at warn, any later at error. */
  alertLevels: readonly number[];
  /** Log a `quota_metrics` line every N attempts (0: never). */
  quotaLogInterval: number;
}

/**
 * Writes the run's events as structured JSON lines (pino), with the event names of the stories:
 * `retry`, `success`, `give_up`, `non_retryable`, `cooldown_start`, `cooldown_end`, `pause`, `resume`,
 * `concurrency_change`, `rate_change`, `in_flight_cap_change`, `quota_alert`, `quota_metrics`. Every line has
 * `event`; keys appear by name only.
 */
export class RunLog implements RunObserver {
  private attempts = 0;
  private readonly perKey = new Map<string, { attempts: number; rateLimited: number; usage?: number }>();
  private readonly attemptsOf = new Map<string, number>();

  constructor(
    readonly logger: RunLogger,
    private readonly options: RunLogOptions,
  ) {}

  /** Logs a line that is not a {@link RunEvent} (run start and end, rejects, shutdown). */
  event(level: 'info' | 'warn' | 'error' | 'debug', event: RunLogEventName, fields: Record<string, unknown>, msg?: string): void {
    this.logger[level]({ event, ...fields }, msg ?? event);
  }

  observe(e: RunEvent): void {
    const l = this.logger;
    switch (e.type) {
      case 'attempt_start': {
        this.attempts++;
        this.attemptsOf.set(e.id, e.attempt);
        if (e.key) this.key(e.key).attempts++;
        l.debug({ event: 'attempt_start', id: e.id, attempt: e.attempt, keyName: e.key }, `attempt ${e.attempt} for ${e.id}`);
        if (this.options.quotaLogInterval > 0 && this.attempts % this.options.quotaLogInterval === 0) this.quotaMetrics();
        break;
      }
      case 'attempt_end':
        if (e.key && answeredRateLimited(e)) this.key(e.key).rateLimited++;
        if (!e.ok) {
          l.debug({ event: 'attempt_failed', id: e.id, attempt: e.attempt, keyName: e.key, kind: e.kind, status: e.status, latencyMs: e.latencyMs }, 'attempt failed');
        }
        break;
      case 'retry':
        l.info(
          { event: 'retry', id: e.id, attempt: e.attempt, kind: e.kind, delayMs: e.delayMs },
          `retry after attempt ${e.attempt} for ${e.id} (${e.kind}), waiting ${(e.delayMs / 1000).toFixed(1)}s`,
        );
        break;
      case 'item': {
        const attempts = this.attemptsOf.get(e.id);
        this.attemptsOf.delete(e.id);
        if (e.state === 'succeeded') {
          (attempts !== undefined && attempts > 1 ? l.info : l.debug).call(l, { event: 'success', id: e.id, attempts }, `${e.id} succeeded after ${attempts ?? '?'} attempts`);
        } else if (e.state === 'failed') {
          const retried = attempts !== undefined && attempts > 1;
          l.error(
            { event: retried ? 'give_up' : 'non_retryable', id: e.id, attempts, kind: e.kind },
            retried ? `${e.id} failed after ${attempts} attempts (${e.kind})` : `${e.id} failed: ${e.kind}, not retried`,
          );
        } else if (e.state === 'cancelled') {
          l.warn({ event: 'cancelled', id: e.id, attempts }, `${e.id} cancelled`);
        }
        break;
      }
      case 'key_state':
        if (e.state === 'active') l.info({ event: 'cooldown_end', keyName: e.key }, `key ${e.key} takes work again`);
        else {
          const waitMs = e.until !== undefined ? Math.max(0, e.until - e.at) : undefined;
          (e.state === 'disabled' ? l.error : l.warn).call(
            l,
            { event: 'cooldown_start', keyName: e.key, state: e.state, reason: e.reason, until: e.until, waitMs },
            `key ${e.key} ${e.state}${waitMs !== undefined ? ` for ${(waitMs / 1000).toFixed(1)}s` : ''} (${e.reason ?? 'unknown'})`,
          );
        }
        break;
      case 'concurrency':
        l.info({ event: 'concurrency_change', limit: e.limit, reason: e.reason }, `concurrency ${e.limit} (${e.reason ?? ''})`);
        break;
      case 'key_limit':
        if (e.limit === 'rate') {
          l.info(
            { event: 'rate_change', keyName: e.key, perSecond: e.perSecond, reason: e.reason },
            `key ${e.key} rate ${e.perSecond !== undefined ? `${e.perSecond.toFixed(2)}/s` : 'unlimited'} (${e.reason})`,
          );
        } else {
          l.info({ event: 'in_flight_cap_change', keyName: e.key, cap: e.cap, reason: e.reason }, `key ${e.key} calls in flight ${e.cap ?? 'unlimited'} (${e.reason})`);
        }
        break;
      case 'quota':
        this.key(e.key).usage = e.usage;
        break;
      case 'quota_alert': {
        this.key(e.key).usage = e.usage;
        const idx = this.options.alertLevels.findIndex((lv) => Math.abs(lv - e.alertLevel) < 1e-9);
        const level = idx <= 0 ? 'info' : idx === 1 ? 'warn' : 'error';
        l[level](
          // `alertLevel`, not `level`: pino's own `level` field holds the log level.
          { event: 'quota_alert', keyName: e.key, alertLevel: e.alertLevel, usage: e.usage },
          `key ${e.key} quota use ${(e.usage * 100).toFixed(1)} % crossed ${(e.alertLevel * 100).toFixed(0)} %`,
        );
        break;
      }
      case 'pause':
        l.warn({ event: 'pause', reason: e.reason, until: e.until }, `PAUSING: ${e.reason}`);
        break;
      case 'resume':
        l.info({ event: 'resume' }, 'RESUMING: processing continues');
        break;
    }
  }

  private quotaMetrics(): void {
    this.logger.info(
      { event: 'quota_metrics', attempts: this.attempts, keys: Object.fromEntries(this.perKey) },
      `quota metrics after ${this.attempts} attempts`,
    );
  }

  private key(name: string): { attempts: number; rateLimited: number; usage?: number } {
    let k = this.perKey.get(name);
    if (!k) {
      k = { attempts: 0, rateLimited: 0 };
      this.perKey.set(name, k);
    }
    return k;
  }
}

const ignore = (): void => undefined;
/**
 * The logger of a run without `--log-file`: it drops every line, as a silent pino logger would, but
 * without loading pino (15-25 ms of a `sluice run`'s start-up; docs/PERFORMANCE.md, "CLI fixed cost").
 */
const SILENT: RunLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * The shared Sluice logger (src/observe/logger.ts: field and pattern redaction) writing JSON lines to
 * `path` synchronously, so nothing is lost on exit; a silent one without a path. Key names are logged
 * as `keyName`, because that logger censors any field called `key`.
 */
export function createFileLogger(path: string | undefined, level: LogLevel): { logger: RunLogger; close: () => void } {
  if (!path) return { logger: SILENT, close: () => undefined };
  const logger = createLogger({ level, file: path });
  return { logger, close: () => logger.flush() };
}
