import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { StateInUseError, batchStatus, readRunMeta } from '../../batch/index.js';
import type { RedisJobStore } from '../../batch/redis/redis-store.js';
import { acquireRunLock } from '../../batch/run-lock.js';
import type { BatchCounts } from '../../batch/store.js';
import { readFailedItems, readTimeline, readTimelineSessions } from '../../batch/timeline-store.js';
import { BUILTIN_PRICES, PriceFileError, parsePriceFile, type PriceTable } from '../../observe/report/prices.js';
import type { FailedItemRow, StoredTimeline, TimelineSession } from '../../observe/report/timeline.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { withLibraryNames } from '../library-options.js';
import { loadReportDrawing } from '../lazy-modules.js';
import { loadRedisSide } from '../redis-side-loader.js';
import type { SluiceConfig } from '../options.js';
import { statePathFor } from './state-path.js';
import { addRedisOptions, openRedisState, redisRunOf, type RedisCliOptions } from './worker.js';

/** The model a response's tokens are counted under in the report: the payload's `model`, else `--model`, else `unknown`. */
export function usageModel(payload: Record<string, unknown>, configured: string | undefined): string {
  return typeof payload.model === 'string' && payload.model ? payload.model : (configured ?? 'unknown');
}

/** Most failed items listed in the report (the rest are counted; `sluice export` has them all). */
export const REPORT_FAILED_ITEMS = 500;

/**
 * The report file of a run: `--report`, else beside the state named after it (`runs/a.db` and
 * `runs/a.sluice.db` give `runs/a.report.html`), else after the output (`out/x.jsonl` and
 * `out/x.results.jsonl` give `out/x.report.html`), else `<input>.report.html`. Two runs with different
 * states or outputs so never share a report.
 */
export function reportPathFor(cwd: string, input: string | undefined, config: Partial<Pick<SluiceConfig, 'report' | 'state' | 'output'>>): string {
  // `--no-report` (false) only stops a run writing one at its end: `sluice report` draws it here.
  if (config.report) return resolve(cwd, config.report);
  if (config.state) return `${resolve(cwd, config.state).replace(/(\.sluice)?\.(db|sqlite3?)$/i, '')}.report.html`;
  if (config.output) return `${resolve(cwd, config.output).replace(/(\.results)?\.jsonl?$/i, '')}.report.html`;
  if (input) return `${resolve(cwd, input)}.report.html`;
  throw new CliError('name the input file or give --state <path> (or --report <path>)', ExitCode.badConfig);
}

/** The report a run writes at its end: {@link reportPathFor}, or none with `--no-report` (`report: false`). */
export function runReportPath(cwd: string, input: string, config: Partial<Pick<SluiceConfig, 'report' | 'state' | 'output'>>): string | undefined {
  return config.report === false ? undefined : reportPathFor(cwd, input, config);
}

/** The price table of `--prices`, else the built-in one. A bad file is a CliError naming the file and the field. */
export function loadPrices(cwd: string, path: string | undefined): PriceTable {
  if (!path) return BUILTIN_PRICES;
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`prices file ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : (code ?? String(error))})`, ExitCode.badConfig);
  }
  try {
    return parsePriceFile(file, text);
  } catch (error) {
    if (error instanceof PriceFileError) throw new CliError(error.message, ExitCode.badConfig);
    throw error;
  }
}

/** What drawing a report needs besides the run it is drawn from. */
interface ReportTarget {
  /** The page to write. */
  report: string;
  prices: PriceTable;
  now: number;
  title?: string;
  /** Whether the batch still runs (a process or worker); default: asked of the run's store. */
  running?: boolean;
  /** Paths shown in the report (default: those the run stored). */
  files?: Record<string, string>;
}

/** What {@link writeReportFromState} needs: the state file, asked of its lock whether a process still runs it. */
export interface StateReportOptions extends ReportTarget {
  state: string;
}

/**
 * Draws the report from what the state file holds (counts, failed items, the stored time series) and
 * writes it atomically (temporary file, then rename): the page is the same at the end of a run and later.
 */
export async function writeReportFromState(o: StateReportOptions): Promise<string> {
  if (!existsSync(o.state)) throw new CliError(`state file ${o.state}: does not exist (run the batch first)`, ExitCode.badInput);
  // A state without run metadata (a run that stopped before it wrote any) still has counts to show.
  const meta = await readRunMeta(o.state);
  const input = meta?.fingerprint?.path;
  return drawReport({
    report: o.report,
    prices: o.prices,
    now: o.now,
    title: o.title ?? `Sluice run: ${input ? basename(input) : basename(o.state)}`,
    running: o.running ?? isRunning(o.state),
    sessions: readTimelineSessions(o.state),
    readTimeline: (resolution) => readTimeline(o.state, resolution),
    counts: await batchStatus({ state: o.state }),
    failed: readFailedItems(o.state, REPORT_FAILED_ITEMS),
    // A state written before the options took the library's names shows them in the new names.
    settings: withLibraryNames(meta?.options ?? {}),
    files: o.files ?? {
      ...(input ? { input } : {}),
      ...(meta?.outputPath ? { output: meta.outputPath } : {}),
      state: o.state,
      report: o.report,
    },
  });
}

/** What {@link writeReportFromRedis} needs. */
export interface RedisReportOptions extends ReportTarget {
  /** The run's store (the caller opens and closes it); a worker still runs it while a session of its timeline is open and written lately. */
  store: RedisJobStore;
  where: { prefix: string; run: string };
}

/**
 * Draws the report of a distributed run from Redis (counts and failed items from its store, the fleet's
 * time series from its timeline keys, see batch/redis/timeline.ts), as {@link writeReportFromState} does
 * from a state file. A run that is not on Redis is refused ({@link RunNotFoundError}, exit 6).
 */
export async function writeReportFromRedis(o: RedisReportOptions): Promise<string> {
  const { checkRun, readRedisFailedItems, readRedisTimeline, readRedisTimelineSessions, redisTimelineRunning } = await loadRedisSide();
  const meta = await checkRun(o.store);
  const { redis, base } = o.store;
  const input = meta.fingerprint?.path;
  return drawReport({
    report: o.report,
    prices: o.prices,
    now: o.now,
    title: o.title ?? `Sluice run: ${o.where.prefix}:${o.where.run}`,
    running: o.running ?? (await redisTimelineRunning(redis, base, o.now)),
    sessions: await readRedisTimelineSessions(redis, base),
    readTimeline: (resolution) => readRedisTimeline(redis, base, resolution),
    counts: await o.store.counts(),
    failed: await readRedisFailedItems(o.store, REPORT_FAILED_ITEMS),
    settings: { ...withLibraryNames(meta.options ?? {}), run: o.where.run, prefix: o.where.prefix },
    files: o.files ?? { ...(input ? { input } : {}), report: o.report },
  });
}

/** A run's parts, read from whichever store holds it: what {@link drawReport} draws. */
interface ReportParts {
  report: string;
  prices: PriceTable;
  now: number;
  title: string;
  running: boolean;
  sessions: readonly TimelineSession[];
  /** The stored time series, its one-second buckets added up to `resolution`'s step as they are read. */
  readTimeline: (resolution: { origin: number; stepMs: number } | undefined) => StoredTimeline | Promise<StoredTimeline>;
  counts: BatchCounts;
  failed: { total: number; items: FailedItemRow[] };
  settings: Record<string, unknown>;
  files: Record<string, string>;
}

/** Builds the page's data from a run's parts and writes the page atomically; returns its path. */
async function drawReport(o: ReportParts): Promise<string> {
  const { buildReportData, displayResolution, writeReportPage } = await loadReportDrawing();
  // The one-second buckets are added up to the page's step as they are read (a long run has many).
  const resolution = displayResolution(o.sessions, o.now, o.running);
  const b = o.counts.byState;
  const data = buildReportData({
    title: o.title,
    timeline: await o.readTimeline(resolution),
    ...(resolution ? { minStepMs: resolution.stepMs } : {}),
    counts: { total: o.counts.total, succeeded: b.succeeded, failed: b.failed, cancelled: b.cancelled, pending: b.pending, running: b.running },
    failed: o.failed,
    prices: o.prices,
    settings: o.settings,
    files: o.files,
    generatedAt: o.now,
    running: o.running,
  });
  return writeReportPage(o.report, data);
}

/** Whether a live process holds the state's lock (the lock is taken and released at once when free). */
function isRunning(state: string): boolean {
  try {
    acquireRunLock(state)();
    return false;
  } catch (error) {
    if (error instanceof StateInUseError) return true;
    return false;
  }
}

/** `sluice report [input]`: draws the HTML report from the state file or the Redis run, at any time (during a run too). */
export function reportCommand(ctx: CliContext): Command {
  const cmd = new Command('report')
    .description('Write the HTML report of a run from its state file, or from Redis with --backend redis:// (any time, also while it runs)')
    .argument('[input]', 'input file of the run (its state file is beside it; on Redis it names the run)');
  addConfigOptions(cmd, ['files', 'report']);
  addRedisOptions(cmd);
  cmd.action(async (input: string | undefined, opts: RedisCliOptions) => {
    const { config } = configFor(ctx, cmd);
    const prices = loadPrices(ctx.io.cwd, config.prices);
    if (config.backend !== 'sqlite') {
      // A distributed run: named by --run-name (default: the input's name) under --redis-prefix.
      const where = redisRunOf(ctx, opts, input);
      const report = input || config.report || config.output ? reportPathFor(ctx.io.cwd, input, config) : resolve(ctx.io.cwd, `${where.run}.report.html`);
      const store = await openRedisState(config, where);
      try {
        println(ctx.io.stdout, await writeReportFromRedis({ store, where, report, prices, now: Date.now() }));
      } finally {
        await store.close();
      }
      return;
    }
    const state = statePathFor(ctx.io.cwd, input, config);
    const report = reportPathFor(ctx.io.cwd, input, config);
    const path = await writeReportFromState({ state, report, prices, now: Date.now() });
    println(ctx.io.stdout, path);
  });
  return cmd;
}
