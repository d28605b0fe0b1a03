import { defaultStatePath, describeChanges, runBatch, type RunLock } from '../batch/index.js';
import { SqliteTimelineWriter } from '../batch/timeline-store.js';
import type { BatchEvents, BatchExecutor, BatchSummary } from '../batch/types.js';
import { classify } from '../classify/classify.js';
import { systemClock } from '../clock/system-clock.js';
import type { Clock } from '../clock/clock.js';
import type { MetricsServer, SluiceMetrics } from '../observe/metrics.js';
import { ProgressDisplay, ProgressTracker } from '../observe/progress.js';
import type { RunTotals } from '../observe/report/html.js';
import { TimelineBuffer, startTimelineFlush } from '../observe/report/timeline.js';
import { RunRecorder } from '../observe/report/recorder.js';
import type { RunObserver } from '../observe/report/run-events.js';
import { formatSummary } from '../observe/report/summary.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import type { ApiKey, ProviderAdapter } from '../provider/types.js';
import { createSluice } from '../scheduler/create-sluice.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { keyLimitsFor } from './key-limits.js';
import { println, type CliIO } from './io.js';
import { bridgeRunEvents } from './observe-run.js';
import type { SluiceConfig } from './options.js';
import { retryFor } from './retry-presets.js';
import { settingsToStore } from './run-settings.js';
import { RunLog, createFileLogger } from './run-log.js';
import { Shutdown } from './shutdown.js';
import { observeUsage, quotaUsageOf, startRunMetrics } from './run-metrics.js';
import { loadPrices, runReportPath, usageModel, writeReportFromState } from './commands/report.js';

/** What a batch session needs: the validated config, the keys, the adapter and the input. */
export interface SessionInput {
  io: CliIO;
  config: SluiceConfig;
  input: string;
  keys: readonly ApiKey[];
  provider: ProviderAdapter<Record<string, unknown>, unknown>;
  /** Report title. */
  title: string;
  clock?: Clock;
  /** Most items claimed at once (`runBatch` `window`). */
  window?: number;
  /** Length of the window `requestsPerMinute`/`tokensPerMinute` refer to (default one minute; the demo scales time with it). */
  limitsWindowMs?: number;
  /** Locks the caller holds on the run's files (`sluice run` takes them before reading the state). */
  lock?: RunLock;
  /** Quota state stored by an earlier run of this state (`RunMeta.quotaState`): the day's usage per key. */
  quotaState?: Record<string, unknown>;
}

/** The outcome of a session. */
export interface SessionResult {
  exitCode: ExitCodeValue;
  summary: BatchSummary;
  /** The report written at the end; undefined with `--no-report`. */
  reportPath: string | undefined;
}

/** Non-secret settings stored with the run and shown in the report. */
export function publicSettings(config: SluiceConfig, keys: readonly ApiKey[]): Record<string, unknown> {
  return {
    provider: config.provider,
    baseUrl: config.baseUrl,
    model: config.model,
    keys: keys.map((k) => k.name),
    requestsPerMinute: config.requestsPerMinute,
    tokensPerMinute: config.tokensPerMinute,
    requestsPerDay: config.requestsPerDay,
    keyLimits: config.keyLimits,
    minSpacingMs: config.minSpacing || undefined,
    maxInFlight: config.maxInFlight,
    learnRate: config.learnRate,
    cooldownMs: config.cooldown,
    selection: config.selection,
    retryPreset: config.retryPreset,
    attempts: config.attempts,
    concurrency: config.adaptive ? `${config.concurrency} (adaptive ${config.minConcurrency}..${config.maxConcurrency})` : config.concurrency,
    quotaMonitoring: config.quotaMonitoring,
    quotaThreshold: config.quotaThreshold,
    alertLevels: config.alertLevels,
  };
}

/**
 * Runs one batch with everything the CLI shows around it: the executor built from the config, JSON
 * logs, progress, metrics endpoint, SIGINT handling, the terminal summary and the HTML report.
 */
export async function runSession(s: SessionInput): Promise<SessionResult> {
  const { io, config } = s;
  const clock = s.clock ?? systemClock;
  const log = createFileLogger(config.logFile, config.logLevel);
  const runLog = new RunLog(log.logger, { alertLevels: config.alertLevels, quotaLogInterval: config.quotaLogInterval });
  const prices = loadPrices(io.cwd, config.prices);
  // The stored time series of the report: counted in memory, written to the state every 2 s (see timeline-store.ts).
  const timeline = new TimelineBuffer({ initialLimit: config.concurrency });
  const keyLimits = keyLimitsFor(config, s.keys, s.limitsWindowMs);
  const executor = createSluice<Record<string, unknown>, unknown>({
    // Tokens each response reports: per model into the report's timeline, per key into the metrics (set below).
    provider: observeUsage(s.provider, (usage, payload, keyName) => {
      timeline.addTokens(clock.now(), usageModel(payload, config.model), usage.inputTokens, usage.outputTokens, keyName);
      metrics?.recordUsage(keyName, usage);
    }),
    keys: s.keys,
    limits: keyLimits,
    retry: retryFor(config),
    quota: {
      monitoring: config.quotaMonitoring,
      alertLevels: [...config.alertLevels],
      pauseThreshold: config.quotaThreshold,
      pauseDurationMs: config.pauseDuration,
    },
    concurrency: config.adaptive
      ? { adaptive: true, initial: config.concurrency, min: config.minConcurrency, max: config.maxConcurrency }
      : config.concurrency,
    learnRate: config.learnRate,
    selection: config.selection,
    ...(config.cooldown !== undefined ? { defaultCooldownMs: config.cooldown } : {}),
    attemptTimeoutMs: config.attemptTimeout,
    shutdownGraceMs: config.gracePeriod,
    classify: (failure, now) => classify(failure, { now }),
    clock,
    ...(s.quotaState ? { quotaState: s.quotaState } : {}),
  });
  const batchEvents = new TypedEmitter<BatchEvents>();
  const recorder = new RunRecorder();
  recorder.start(clock.now());
  const tracker = new ProgressTracker(clock);
  tracker.setKeys(s.keys.map((k) => k.name));
  tracker.observe({ type: 'concurrency', at: clock.now(), limit: config.concurrency });
  if (config.adaptive) tracker.setConcurrencyRange(config.minConcurrency, config.maxConcurrency);
  const observers: RunObserver[] = [recorder, tracker, runLog, timeline];
  let metrics: SluiceMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      ({ metrics, server: metricsServer } = await startRunMetrics(config.metricsPort, s.keys.map((k) => k.name), io.stderr));
    } catch (error) {
      await executor.close({ graceMs: 0 }).catch(() => undefined);
      log.close();
      throw error;
    }
    // Read at each scrape: items pending in the state (from the runner's progress), queued in the executor, quota use.
    let pending = 0;
    batchEvents.on('progress', (p) => (pending = p.counts.byState.pending));
    metrics.setSampler(() => ({ itemsPending: pending, itemsQueued: executor.queued, quotaUsage: quotaUsageOf(executor.quotaState(), keyLimits, clock) }));
    metrics.observe({ type: 'concurrency', at: clock.now(), limit: config.concurrency });
    observers.push(metrics);
  }
  const unbridge = bridgeRunEvents({ clock, batch: batchEvents, executor: executor.events }, observers);
  batchEvents.on('progress', (p) => {
    const b = p.counts.byState;
    tracker.setCounts({ total: p.counts.total, succeeded: b.succeeded, failed: b.failed, cancelled: b.cancelled, pending: b.pending + b.running });
  });
  const statePath = config.state ?? defaultStatePath(s.input);
  let timelineFlush: ReturnType<typeof startTimelineFlush> | undefined;
  batchEvents.on('start', (e) => {
    runLog.event('info', 'run_start', { input: s.input, ...e, settings: publicSettings(config, s.keys) });
    try {
      const writer = SqliteTimelineWriter.open(statePath, { startedAt: recorder.finish().startedAt, bucketMs: timeline.bucketMs, info: { limitsWindowMs: s.limitsWindowMs ?? 60_000 } });
      timelineFlush = startTimelineFlush(timeline, writer, () => clock.now());
    } catch (error) {
      println(io.stderr, `sluice: warning: the report's time series cannot be stored (${(error as Error).message}); the run goes on`);
    }
  });
  batchEvents.on('reject', (e) => runLog.event('warn', 'reject', { file: s.input, line: e.line, reason: e.reason }));
  batchEvents.on('stopping', (e) => runLog.event('warn', 'stopping', e));
  // The one message on the terminal comes with the summary; the log has it at once.
  batchEvents.on('halted', (h) => runLog.event('error', 'run_halted', { ...h }, haltMessage(h, s.input)));
  batchEvents.on('inputChanged', (c) => {
    const message = c.appendOnly
      ? `input ${s.input} grew since the state was created (--force): the appended lines are ingested and run`
      : c.changes.length === 0
        ? `input ${s.input} changed since the state was created (--force), but no line already run differs`
        : `input ${s.input} changed in ${c.changes.length} line(s) already run (--force, --changed-lines ${c.policy ?? '?'}): ` +
          `${describeChanges(c.changes)}; ${c.policy === 'rerun' ? 'they run again and their old results are replaced' : 'their old results are kept'}`;
    println(io.stderr, `sluice: ${message}`);
    runLog.event('warn', 'input_changed', { appendOnly: c.appendOnly, changes: c.changes.length, policy: c.policy }, message);
  });
  executor.events.on('allKeysUnavailable', (e) =>
    runLog.event(
      'warn',
      'all_keys_unavailable',
      { waitMs: e.waitMs, keys: e.keys.map((k) => ({ keyName: k.key, state: k.state, waitMs: k.waitMs })) },
      `all keys unavailable; waiting ${(e.waitMs / 1000).toFixed(1)}s`),
  );
  const progress = new ProgressDisplay({ clock, tracker, stream: io.stderr, mode: config.progress, intervalMs: config.progressInterval });
  // Messages go above the live block, so that it is not drawn a second time below them.
  const shutdown = new Shutdown((m) => progress.print(m), config.gracePeriod);
  const batchExecutor: BatchExecutor = {
    run: (payload, o) =>
      executor.run(payload as Record<string, unknown>, {
        id: o.id,
        priority: o.priority,
        signal: o.signal,
        startAttempt: o.startAttempt,
        onAttemptStart: (i) => o.onAttemptStart({ attempt: i.attempt, key: i.key }),
        onAttemptEnd: (i) =>
          o.onAttemptEnd({
            attempt: i.attempt,
            key: i.key,
            ok: i.ok,
            ...(i.kind ? { kind: i.kind } : {}),
            ...(i.message ? { message: i.message } : {}),
            ...(i.status !== undefined ? { status: i.status } : {}),
          }),
      }),
  };
  progress.start();
  let summary: BatchSummary;
  try {
    summary = await runBatch({
      input: s.input,
      executor: batchExecutor,
      ...(config.template ? { template: config.template } : {}),
      ...(config.idColumn ? { idColumn: config.idColumn } : {}),
      ...(config.state ? { state: config.state } : {}),
      ...(config.output ? { output: config.output } : {}),
      ...(config.rejects ? { rejects: config.rejects } : {}),
      ...(s.window ? { window: s.window } : {}),
      ...(s.lock ? { lock: s.lock } : {}),
      ...(config.changedLines ? { changedLines: config.changedLines } : {}),
      maxConsecutiveFailures: config.maxConsecutiveFailures,
      settings: settingsToStore(config),
      quotaState: () => executor.quotaState(),
      force: config.force,
      signal: shutdown.signal,
      graceMs: config.gracePeriod,
      events: batchEvents,
      progressIntervalMs: Math.min(1000, config.progressInterval),
      clock,
      runOptions: publicSettings(config, s.keys),
    });
  } finally {
    progress.stop();
    shutdown.dispose();
    unbridge();
    try {
      await timelineFlush?.stop(clock.now(), true);
    } catch (error) {
      println(io.stderr, `sluice: warning: the report's time series cannot be stored (${(error as Error).message}); the run goes on`);
    }
    await executor.close({ graceMs: 0 }).catch(() => undefined);
    await metricsServer?.close();
  }
  const b = summary.counts.byState;
  const totals: RunTotals = {
    total: summary.counts.total,
    succeeded: b.succeeded,
    failed: b.failed,
    cancelled: b.cancelled,
    pending: b.pending + b.running,
    rejected: summary.rejected,
    durationMs: summary.durationMs,
    interrupted: summary.interrupted,
  };
  const run = recorder.finish(clock.now());
  // `--no-report`: none at the end (`sluice report` can still draw one from the state).
  const reportPath = runReportPath(io.cwd, s.input, config);
  if (reportPath !== undefined) {
    await writeReportFromState({
      state: summary.state,
      report: reportPath,
      prices,
      now: clock.now(),
      title: s.title,
      running: false,
      files: { input: s.input, output: summary.output, rejects: summary.rejects, state: summary.state, report: reportPath, ...(config.logFile ? { log: config.logFile } : {}) },
    });
  }
  // On a terminal the summary fits its width; in a file or pipe each line stays whole.
  const columns = io.stderr.isTTY ? (io.stderr as { columns?: number }).columns : undefined;
  println(io.stderr, formatSummary(totals, run, columns));
  println(io.stderr, `  output ${summary.output}\n  state  ${summary.state}${summary.rejected > 0 ? `\n  rejects ${summary.rejects}` : ''}`);
  println(io.stderr, `  report ${reportPath ?? 'none (--no-report)'}`);
  runLog.event(summary.interrupted ? 'warn' : 'info', 'run_end', { ...totals, output: summary.output, ...(reportPath !== undefined ? { report: reportPath } : {}) });
  log.close();
  if (summary.halted) println(io.stderr, `sluice: ${haltMessage(summary.halted, s.input)}`);
  let exitCode: ExitCodeValue = summary.interrupted || shutdown.requested ? ExitCode.interrupted : totals.failed > 0 ? ExitCode.someFailed : ExitCode.ok;
  if (totals.total === 0 && summary.rejected > 0) {
    println(io.stderr, `sluice: every line of ${s.input} was rejected (${summary.rejected}); see ${summary.rejects}`);
    exitCode = ExitCode.badInput;
  }
  return { exitCode, summary, reportPath };
}

/** The one message of a run that stopped itself: what repeats, and how to resume. */
export function haltMessage(h: NonNullable<BatchSummary['halted']>, input: string): string {
  return (
    `run paused after ${h.count} identical failures in a row (${h.kind}${h.status !== undefined ? ` ${h.status}` : ''}: ${h.message}; last on line ${h.line}). ` +
    `Nothing more was started. Fix the cause (often --model, --base-url or a key), then \`sluice retry-failed ${input} --kind ${h.kind}\` ` +
    'and run the same command again to resume (--max-consecutive-failures 0 turns this stop off)'
  );
}
