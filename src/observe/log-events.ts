/**
 * The names of every structured log line Sluice writes, with their fields: one list used by the code
 * that logs them (`src/cli/run-log.ts`, {@link retryLogHooks}) and checked against the docs
 * (docs/MONITORING.md, README) by test/docs, so that names cannot drift apart.
 */

/** Events of a CLI run's JSON log (`--log-file`), in the `event` field, with the fields each line carries. */
export const RUN_LOG_EVENTS = {
  run_start: ['input', 'resumed', 'resetRunning', 'outputTruncatedBytes', 'total', 'settings'],
  reject: ['file', 'line', 'reason'],
  attempt_start: ['id', 'attempt', 'keyName'],
  attempt_failed: ['id', 'attempt', 'keyName', 'kind', 'status', 'latencyMs'],
  retry: ['id', 'attempt', 'kind', 'delayMs'],
  success: ['id', 'attempts'],
  give_up: ['id', 'attempts', 'kind'],
  non_retryable: ['id', 'attempts', 'kind'],
  cancelled: ['id', 'attempts'],
  cooldown_start: ['keyName', 'state', 'reason', 'until', 'waitMs'],
  cooldown_end: ['keyName'],
  all_keys_unavailable: ['keys', 'waitMs'],
  pause: ['reason', 'until'],
  resume: [],
  concurrency_change: ['limit', 'reason'],
  rate_change: ['keyName', 'perSecond', 'reason'],
  in_flight_cap_change: ['keyName', 'cap', 'reason'],
  // `alertLevel`, not `level`: pino's own `level` field holds the log level.
  quota_alert: ['keyName', 'alertLevel', 'usage'],
  quota_metrics: ['attempts', 'keys'],
  stopping: ['inFlight', 'graceMs'],
  run_halted: ['kind', 'message', 'status', 'count', 'line'],
  input_changed: ['appendOnly', 'changes', 'policy'],
  run_end: ['total', 'succeeded', 'failed', 'cancelled', 'pending', 'rejected', 'durationMs', 'interrupted', 'output', 'report'],
} as const satisfies Record<string, readonly string[]>;

/** Name of a run log event. */
export type RunLogEventName = keyof typeof RUN_LOG_EVENTS;

/**
 * Events of a retry loop's log ({@link retryLogHooks}), in the `event_type` field after the optional
 * prefix (`clip_download_retry`): the names the stories use.
 */
export const RETRY_LOG_EVENTS = {
  retry: ['label', 'attempt_number', 'max_attempts', 'wait_seconds', 'error_type', 'error_message', 'status'],
  success: ['label', 'total_attempts'],
  failed_all_retries: ['label', 'attempts_made', 'error_type', 'final_error', 'reason', 'history'],
  non_retryable_error: ['label', 'attempts_made', 'error_type', 'final_error', 'status'],
  circuit_open: ['label', 'attempts_made', 'error_type', 'final_error'],
  cancelled: ['label', 'attempts_made', 'error_type', 'final_error'],
} as const satisfies Record<string, readonly string[]>;

/** Name of a retry log event (without prefix). */
export type RetryLogEventName = keyof typeof RETRY_LOG_EVENTS;

/** Fields pino writes on every line, beside the event's own. */
export const LOG_LINE_FIELDS = ['level', 'time', 'pid', 'hostname', 'name', 'msg'] as const;
