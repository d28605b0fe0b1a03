/**
 * The Redis backend in the CLI:
 * - `sluice worker [input]` processes a distributed run's jobs (on any number of machines) until it is done;
 * - `sluice run <input> --backend redis://…` enqueues the input and, unless `--enqueue-only`, processes
 *   like a worker too, then writes the results file from the store;
 * - `status` and `export` read the same run through {@link openRedisState}.
 * A run is named by `--run-name` (default: the input's file name) under `--redis-prefix` (default `sluice`).
 */
import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { exportResults } from '../../batch/commands.js';
import type { RedisJobStore } from '../../batch/redis/redis-store.js';
import type { RedisWorkerSummary } from '../../batch/redis/run-worker.js';
import type { BatchCounts } from '../../batch/store.js';
import type { KeyLimits } from '../../flow/limits.js';
import { buildProvider } from '../build-provider.js';
import type { ProviderAdapter } from '../../provider/types.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { loadKeys } from '../keys.js';
import type { SluiceConfig } from '../options.js';
import { shapingAdapter } from '../payload.js';
import { retryFor } from '../retry-presets.js';
import { Shutdown } from '../shutdown.js';
import type { ConfigSource } from '../config.js';
import { loadRedisSide } from '../redis-side-loader.js';
import type { OptionName } from '../options.js';
import { RunLog, createFileLogger } from '../run-log.js';
import { bridgeRunEvents } from '../observe-run.js';
import { keyLimitsFor } from '../key-limits.js';
import { systemClock } from '../../clock/system-clock.js';
import type { MetricsServer, SluiceMetrics } from '../../observe/metrics.js';
import { TimelineBuffer } from '../../observe/report/timeline.js';
import { loadPrices, usageModel, writeReportFromRedis } from './report.js';
import { observeUsage, quotaUsageOf, readWithin, startRunMetrics } from '../run-metrics.js';
import type { RunObserver } from '../../observe/report/run-events.js';
import type { RedisBatchWorker } from '../../batch/redis/worker.js';

/** Command-line options of the Redis backend (besides `--backend`). */
export interface RedisCliOptions {
  redisPrefix?: string;
  runName?: string;
  enqueueOnly?: boolean;
}

/** Adds `--redis-prefix` and `--run-name` (and, for `run`, `--enqueue-only`) to a command. */
export function addRedisOptions(cmd: Command, withEnqueueOnly = false): Command {
  cmd.option('--redis-prefix <prefix>', 'Redis key prefix of the run and the shared quota [env SLUICE_REDIS_PREFIX; default sluice]');
  cmd.option('--run-name <name>', 'name of a distributed run [env SLUICE_RUN_NAME; default: the input file name]');
  if (withEnqueueOnly) cmd.option('--enqueue-only', 'with --backend redis://: enqueue the input and return; workers process it');
  return cmd;
}

/** The run name and prefix, from flags, then SLUICE_RUN_NAME / SLUICE_REDIS_PREFIX, then defaults. */
export function redisRunOf(ctx: CliContext, opts: RedisCliOptions, input: string | undefined): { prefix: string; run: string } {
  const prefix = opts.redisPrefix ?? ctx.io.env.SLUICE_REDIS_PREFIX ?? 'sluice';
  if (!/^[A-Za-z0-9_.:{}-]+$/.test(prefix)) throw new CliError(`--redis-prefix must be letters, digits, _ . : { } - only, got ${JSON.stringify(prefix)}`, ExitCode.badConfig);
  const named = opts.runName ?? ctx.io.env.SLUICE_RUN_NAME;
  const run = named ?? (input ? basename(input).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200) : undefined);
  if (!run) throw new CliError('name the input file or give --run-name <name>', ExitCode.badConfig);
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(run)) throw new CliError(`--run-name must be 1-200 letters, digits, _ . - only, got ${JSON.stringify(run)}`, ExitCode.badConfig);
  return { prefix, run };
}

/** Opens the run's store on Redis for `status` / `export` (the caller closes it). Clear error when Redis does not answer. */
export async function openRedisState(config: Pick<SluiceConfig, 'backend'>, where: { prefix: string; run: string }): Promise<RedisJobStore> {
  const { RedisJobStore, RedisConnectError } = await loadRedisSide();
  try {
    return await RedisJobStore.connect(config.backend, where);
  } catch (err) {
    if (err instanceof RedisConnectError) throw new CliError(err.message, ExitCode.badState);
    throw err;
  }
}

function limitsOf(config: SluiceConfig): KeyLimits {
  return {
    ...(config.requestsPerMinute !== undefined ? { requestsPerMinute: config.requestsPerMinute } : {}),
    ...(config.tokensPerMinute !== undefined ? { tokensPerMinute: config.tokensPerMinute } : {}),
    ...(config.minSpacing > 0 ? { minSpacingMs: config.minSpacing } : {}),
    ...(config.maxInFlight !== undefined ? { maxInFlight: config.maxInFlight } : {}),
    ...(config.requestsPerDay !== undefined ? { requestsPerDay: config.requestsPerDay } : {}),
  };
}

/**
 * Options `sluice worker` refuses when given on its command line: they belong to the enqueueing side
 * (`sluice run`: input, template, results and rejects files, the SQLite state) or to the terminal display
 * a worker does not have. A config file or `SLUICE_*` environment shared with `sluice run` may set them
 * (one environment usually serves both commands), and the worker ignores them there.
 */
const NOT_FOR_WORKER: readonly OptionName[] = ['template', 'output', 'rejects', 'state', 'force', 'changedLines', 'probe', 'maxConsecutiveFailures', 'progress', 'progressInterval', 'carryMaxChars'];

/** Refuses options a worker cannot honour, naming them. */
function refuseWorkerOptions(sources: Partial<Record<OptionName, ConfigSource>>): void {
  const given = NOT_FOR_WORKER.filter((name) => sources[name] === 'flag');
  if (given.length === 0) return;
  throw new CliError(
    `sluice worker does not take ${given.map((n) => `"${n}"`).join(', ')}: ${given.length === 1 ? 'it belongs' : 'they belong'} to \`sluice run\` ` +
      '(the enqueueing side: input, template, results, rejects, state) or to the terminal progress display; give it there, or remove it',
    ExitCode.badConfig,
  );
}

/** Logs, metrics and the report of a worker, from its events (the same observers as an embedded run). */
interface WorkerObservation {
  /** The worker's share of the run's time series (runRedisWorker adds it to the run's timeline on Redis). */
  timeline: TimelineBuffer;
  /** The provider, counting each response's tokens into the report (per model). */
  countTokens(provider: ProviderAdapter<Record<string, unknown>, unknown>): ProviderAdapter<Record<string, unknown>, unknown>;
  attach(worker: RedisBatchWorker, store: RedisJobStore): void;
  finish(summary: RedisWorkerSummary | undefined, where: { prefix: string; run: string }): Promise<void>;
  close(): Promise<void>;
}

async function observeWorker(ctx: CliContext, config: SluiceConfig, keyLimits: Readonly<Record<string, KeyLimits>>): Promise<WorkerObservation> {
  const keyNames = Object.keys(keyLimits);
  const clock = systemClock;
  const log = createFileLogger(config.logFile, config.logLevel);
  const runLog = new RunLog(log.logger, { alertLevels: config.alertLevels, quotaLogInterval: config.quotaLogInterval });
  const prices = loadPrices(ctx.io.cwd, config.prices);
  const timeline = new TimelineBuffer({ initialLimit: config.concurrency });
  const observers: RunObserver[] = [runLog, timeline];
  let metrics: SluiceMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      ({ metrics, server: metricsServer } = await startRunMetrics(config.metricsPort, keyNames, ctx.io.stderr));
    } catch (error) {
      log.close();
      throw error;
    }
    observers.push(metrics);
  }
  let unbridge: (() => void) | undefined;
  const startedAt = clock.now();
  return {
    timeline,
    countTokens: (provider) =>
      observeUsage<Record<string, unknown>, unknown>(provider, (usage, payload, keyName) => {
        timeline.addTokens(clock.now(), usageModel(payload, config.model), usage.inputTokens, usage.outputTokens, keyName);
        metrics?.recordUsage(keyName, usage);
      }),
    attach(worker, store) {
      // Read at each scrape, as for `run`: the fleet's items pending (one call to Redis; the last value read
      // when it does not answer within a second), queued in this worker's executor, quota use per key.
      const pending = readWithin(async () => (await store.runState()).pending, 1000, clock);
      metrics?.setSampler(async () => ({ itemsPending: await pending(), itemsQueued: worker.queued, quotaUsage: quotaUsageOf(worker.quotaState(), keyLimits, clock) }));
      metrics?.observe({ type: 'concurrency', at: clock.now(), limit: worker.concurrencyLimit });
      unbridge = bridgeRunEvents({ clock, batch: worker.batchEvents, executor: worker.executorEvents }, observers);
      runLog.event('info', 'run_start', { worker: true, keys: keyNames, concurrency: worker.concurrencyLimit });
    },
    async finish(summary, where) {
      unbridge?.();
      if (!summary) return;
      const b = summary.counts.byState;
      const totals = {
        total: summary.counts.total,
        succeeded: b.succeeded,
        failed: b.failed,
        cancelled: b.cancelled,
        pending: b.pending + b.running,
        rejected: 0,
        durationMs: clock.now() - startedAt,
        interrupted: !summary.finished,
      };
      runLog.event(summary.finished ? 'info' : 'warn', 'run_end', { ...totals, worker: true, attempts: summary.stats.attempts });
      if (config.report) {
        // The fleet's report: the run's counts and failed items, and the time series every worker stored in Redis.
        const store = await openRedisState(config, where);
        try {
          await writeReportFromRedis({ store, where, report: config.report, prices, now: clock.now(), running: !summary.finished, files: { report: config.report, ...(config.logFile ? { log: config.logFile } : {}) } });
        } finally {
          await store.close();
        }
        println(ctx.io.stderr, `  report ${config.report} (the fleet's run so far; \`sluice report\` draws it again at any time)`);
      }
    },
    async close() {
      unbridge?.();
      await metricsServer?.close();
      log.close();
    },
  };
}

/** Runs a worker for the run with the configuration's provider, keys, limits and retry policy. */
async function work(ctx: CliContext, config: SluiceConfig, where: { prefix: string; run: string }): Promise<RedisWorkerSummary> {
  const keys = loadKeys({ keysEnv: config.keysEnv, keyFile: config.keyFile }, ctx.io.env);
  // keyLimits: each key's own limits over the common ones (its requestsPerDay is that key's fleet budget).
  const perKey = keyLimitsFor(config, keys);
  const observation = await observeWorker(ctx, config, perKey);
  const provider = observation.countTokens(shapingAdapter(buildProvider(config), config.provider, config));
  const shutdown = new Shutdown((m) => println(ctx.io.stderr, m), config.gracePeriod);
  const { runRedisWorker, reconnectMessage, RedisConnectError } = await loadRedisSide();
  let summary: RedisWorkerSummary | undefined;
  try {
    summary = await runRedisWorker({
      url: config.backend,
      ...where,
      provider,
      keys,
      limits: limitsOf(config),
      perKey,
      selection: config.selection,
      // The canonical presets (with their validator and give-up message), as on the embedded path.
      retry: retryFor(config),
      concurrency: config.adaptive ? { adaptive: true, initial: config.concurrency, min: config.minConcurrency, max: config.maxConcurrency } : config.concurrency,
      // As the embedded path (session.ts): --learn-rate / --cooldown decide what a bare 429 does to a key.
      learnRate: config.learnRate,
      ...(config.sharedBreaker !== 'off' ? { breaker: { scope: config.sharedBreaker } } : {}),
      // The quota story's options, as on the embedded path; with Redis the daily budget is the fleet's.
      quota: {
        monitoring: config.quotaMonitoring,
        alertLevels: [...config.alertLevels],
        pauseThreshold: config.quotaThreshold,
        pauseDurationMs: config.pauseDuration,
      },
      ...(config.cooldown !== undefined ? { defaultCooldownMs: config.cooldown } : {}),
      ...(config.attemptTimeout ? { attemptTimeoutMs: config.attemptTimeout } : {}),
      // On SIGINT/SIGTERM calls in flight get the grace period, as for `run`; the other items go back to the queue at once.
      shutdownGraceMs: config.gracePeriod,
      signal: shutdown.signal,
      onReconnect: (info) => println(ctx.io.stderr, `sluice: ${reconnectMessage(info)}`),
      onReconnected: () => println(ctx.io.stderr, 'sluice: Redis connection re-established; work continues'),
      onStart: (w, store) => {
        w.events.on('error', (e) => println(ctx.io.stderr, `sluice: worker: ${e.message}`));
        observation.attach(w, store);
      },
      timeline: { buffer: observation.timeline },
    });
    return summary;
  } catch (err) {
    if (err instanceof RedisConnectError) throw new CliError(err.message, ExitCode.badConfig);
    throw err;
  } finally {
    shutdown.dispose();
    await observation.finish(summary, where);
    await observation.close();
  }
}

function exitCodeOf(counts: BatchCounts, finished: boolean): ExitCodeValue {
  if (counts.byState.failed > 0) return ExitCode.someFailed;
  return finished ? ExitCode.ok : ExitCode.interrupted;
}

function printSummary(ctx: CliContext, where: { prefix: string; run: string }, counts: BatchCounts, extra = ''): void {
  const s = counts.byState;
  println(ctx.io.stdout, `run ${where.prefix}:${where.run}: ${counts.total} items: succeeded ${s.succeeded}, failed ${s.failed}, cancelled ${s.cancelled}, pending ${s.pending}, running ${s.running}${extra}`);
}

/** `sluice worker [input]`: processes a distributed run until it is done. */
export function workerCommand(ctx: CliContext): Command {
  const cmd = new Command('worker')
    .description('Process a distributed run from Redis (--backend redis://host:port); start one per machine or core')
    .argument('[input]', 'input file of the run (names the run; not read)');
  addConfigOptions(cmd);
  addRedisOptions(cmd);
  cmd.action(async (input: string | undefined, opts: RedisCliOptions) => {
    const { config, sources } = configFor(ctx, cmd);
    if (config.backend === 'sqlite') throw new CliError('sluice worker needs --backend redis://host:port (or SLUICE_BACKEND)', ExitCode.badConfig);
    refuseWorkerOptions(sources);
    const where = redisRunOf(ctx, opts, input);
    const summary = await work(ctx, config, where);
    printSummary(ctx, where, summary.counts, `; this worker: ${summary.stats.attempts} attempts, ${summary.stats.succeeded} succeeded`);
    ctx.exitCode = exitCodeOf(summary.counts, summary.finished);
  });
  return cmd;
}

/** `sluice run <input> --backend redis://…`: enqueue, process unless `--enqueue-only`, write the results file. */
export async function runOnRedis(ctx: CliContext, config: SluiceConfig, input: string, opts: RedisCliOptions): Promise<void> {
  const where = redisRunOf(ctx, opts, input);
  const { connectRedis, RedisConnectError, RedisJobStore, openRunQueue, enqueueBatch, redactRedisUrl } = await loadRedisSide();
  let connection;
  try {
    connection = await connectRedis(config.backend);
  } catch (err) {
    if (err instanceof RedisConnectError) throw new CliError(err.message, ExitCode.badConfig);
    throw err;
  }
  const store = new RedisJobStore(connection, where);
  const queue = openRunQueue(connection, where.prefix, where.run);
  try {
    const enq = await enqueueBatch({
      input,
      store,
      queue,
      force: config.force,
      ...(config.template ? { template: config.template } : {}),
      ...(config.idColumn ? { idColumn: config.idColumn } : {}),
      ...(config.rejects ? { rejects: resolve(ctx.io.cwd, config.rejects) } : {}),
      ...(config.carryMaxChars !== undefined ? { carryMaxChars: config.carryMaxChars } : {}),
      runOptions: { backend: redactRedisUrl(config.backend), provider: config.provider, requestsPerMinute: config.requestsPerMinute, tokensPerMinute: config.tokensPerMinute },
    });
    println(ctx.io.stdout, `run ${where.prefix}:${where.run}: ${enq.resumed ? 'resumed' : 'created'}; ${enq.total} items, ${enq.enqueued} enqueued, ${enq.rejected} rejected lines`);
    if (opts.enqueueOnly) {
      println(ctx.io.stdout, `start workers with: sluice worker ${basename(input)} --backend ${redactRedisUrl(config.backend)} --run-name ${where.run}`);
      return;
    }
    const summary = await work(ctx, config, where);
    const output = config.output ? resolve(ctx.io.cwd, config.output) : `${input}.results.jsonl`;
    const lines = await exportResults({ state: store, output });
    printSummary(ctx, where, summary.counts, `; ${lines} results in ${output}`);
    ctx.exitCode = exitCodeOf(summary.counts, summary.finished);
  } finally {
    await queue.close().catch(() => undefined);
    await store.close();
    await connection.quit().catch(() => connection.disconnect());
  }
}
