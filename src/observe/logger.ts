import { createRequire } from 'node:module';
import type { DestinationStream, Level, Logger } from 'pino';
import { redactSecrets, REDACTED } from '../classify/redact.js';
import type { Clock } from '../clock/clock.js';

export type { Logger } from 'pino';

// pino is required by the first createLogger(), so that importing `sluice` does not load it.
const require = createRequire(import.meta.url);
type Pino = typeof import('pino');
let pinoModule: Pino | undefined;
function loadPino(): Pino {
  pinoModule ??= require('pino') as Pino;
  return pinoModule;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `info`. */
  level?: Level | 'silent';
  /** Logger name (the `name` field of every line). Default `sluice`. */
  name?: string;
  /** Where JSON lines go: a stream (tests read it back). Default: stdout. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Or a file path, appended to (created with its folder). */
  file?: string;
  /** More field paths to censor, in pino's syntax (`body.token`, `*.cookie`). */
  redact?: readonly string[];
  /** Time source of the `time` field, so a run on a virtual clock logs virtual times. Default: real time. */
  clock?: Clock;
}

/**
 * Field paths whose values are replaced by `***`, at the top level and one level down. Values in
 * other fields and in messages are scrubbed by pattern (`sk-...`, `Bearer ...`, `key=...`) as well.
 */
const SECRET_FIELDS = ['key', 'secret', 'apiKey', 'api_key', 'authorization', 'Authorization', 'password', 'token', 'x-api-key', 'x-goog-api-key', 'api-key'];
const REDACT_PATHS = [
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
  'headers.authorization',
  'headers.Authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["x-goog-api-key"]',
];

/** Replaces a secret field's value; an `ApiKey` (`{ name, secret }`) keeps its name, which is safe to log. */
function censor(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string') {
    return { name: (value as { name: string }).name, secret: REDACTED };
  }
  return REDACTED;
}

/** Largest depth scrubbed in logged objects; deeper values are left to the path rules. */
const MAX_DEPTH = 6;

/** Returns a copy of `value` with every string scrubbed of secrets (bounded depth, cycles skipped). */
function scrub(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) return scrubError(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1, seen);
  return out;
}

/** pino's error serializer, with message, stack and cause scrubbed. */
function scrubError(err: Error): Record<string, unknown> {
  const serialized = loadPino().stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(serialized)) out[k] = typeof v === 'string' ? redactSecrets(v) : scrub(v, 1);
  return out;
}

/**
 * A pino logger writing JSON lines, with secrets removed from fields (by name) and from every string
 * (by pattern), messages included.
 *
 * ```ts
 * const log = createLogger({ level: 'info', file: 'run.log' });
 * logRetryEvents(events, log, { label: 'clip 42', eventPrefix: 'clip_download_' }); // from attempt/retry-logging.ts
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  // Synchronous writes keep log lines in order with the program's other output, and lose nothing on exit.
  const { pino } = loadPino();
  const destination =
    options.destination ?? (options.file ? pino.destination({ dest: options.file, mkdir: true, sync: true }) : pino.destination({ dest: 1, sync: true }));
  const clock = options.clock;
  const logger = pino(
    {
      name: options.name ?? 'sluice',
      level: options.level ?? 'info',
      ...(clock ? { timestamp: () => `,"time":${clock.now()}` } : {}),
      redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor },
      serializers: { err: (e: unknown) => (e instanceof Error ? scrubError(e) : scrub(e)) },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      hooks: {
        // Messages are scrubbed too: a provider error text may echo the key.
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>;
          return method.apply(this, clean);
        },
      },
    },
    destination as DestinationStream | undefined,
  );
  return logger;
}
