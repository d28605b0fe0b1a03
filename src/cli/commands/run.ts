import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { acquireFileLocks, dryRun, readRunMeta, runLockTargets } from '../../batch/index.js';
import { buildProvider } from '../build-provider.js';
import { configFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { addConfigOptions } from '../flags.js';
import { println } from '../io.js';
import { loadKeys } from '../keys.js';
import type { SluiceConfig } from '../options.js';
import { shapePayload, shapingAdapter } from '../payload.js';
import { reuseProbeAnswer } from '../probe-answer.js';
import { preflight } from '../preflight.js';
import { describeChange, resumeConfig, storedSettings } from '../run-settings.js';
import { keyLimitsFor } from '../key-limits.js';
import { loadSession } from '../lazy-modules.js';
import { runReportPath } from './report.js';
import { addRedisOptions, runOnRedis, type RedisCliOptions } from './worker.js';

/** `sluice run <input> [--dry-run]`: runs (or resumes) a batch from a JSONL or CSV file. */
export function runCommand(ctx: CliContext): Command {
  const cmd = new Command('run')
    .description('Run a batch (JSONL or CSV) as fast as the quotas allow; run it again to resume')
    .argument('<input>', 'input file: JSONL (one request per line) or CSV with --template')
    .option('--dry-run', 'parse the input and estimate requests, tokens and time; call nothing');
  addConfigOptions(cmd);
  addRedisOptions(cmd, true);
  cmd.action(async (inputArg: string, opts: { dryRun?: boolean } & RedisCliOptions) => {
    const loaded = configFor(ctx, cmd);
    const input = resolve(ctx.io.cwd, inputArg);
    checkInput(input);
    if (opts.dryRun) {
      await dryRunAction(ctx, input, loaded.config);
      return;
    }
    if (loaded.config.backend !== 'sqlite') {
      await runOnRedis(ctx, loaded.config, input, opts);
      return;
    }
    // One writer per file: the state, results, rejects and report are locked before anything is read.
    const files = runFiles(ctx.io.cwd, input, loaded.config);
    const lock = acquireFileLocks(runLockTargets(files.state, files.output, files.rejects, files.report));
    try {
      // A resume takes the settings it is not given from the state, and refuses a changed destination.
      const prior = await readRunMeta(files.state);
      const { config, changes } = resumeConfig(loaded, storedSettings(prior));
      for (const c of changes) println(ctx.io.stderr, `sluice: --force: ${describeChange(c)}`);
      const keys = loadKeys({ keysEnv: config.keysEnv, keyFile: config.keyFile }, ctx.io.env);
      const adapter = buildProvider(config);
      keyLimitsFor(config, keys);
      // The session's modules load while the probe waits for its answer (see loadSession).
      const session = loadSession();
      const probed = await preflight({ config, input, keys, adapter });
      // The probe's answer is the first item's: its first call takes it instead of paying again.
      const provider = reuseProbeAnswer(shapingAdapter(adapter, config.provider, config), probed);
      const { runSession } = await session;
      const result = await runSession({
        io: ctx.io,
        // files.report is none with --no-report: the session then writes none.
        config: { ...config, ...files, report: files.report ?? false },
        input,
        keys,
        provider,
        title: `Sluice run: ${inputArg}`,
        lock,
        ...(prior?.quotaState ? { quotaState: prior.quotaState } : {}),
      });
      ctx.exitCode = result.exitCode;
    } finally {
      lock.release();
    }
  });
  return cmd;
}

/** The files of a run, as absolute paths: `--state` etc., else beside the input. */
export function runFiles(cwd: string, input: string, config: SluiceConfig): { state: string; output: string; rejects: string; report: string | undefined } {
  const at = (p: string | undefined, suffix: string): string => (p ? resolve(cwd, p) : `${input}${suffix}`);
  return {
    state: at(config.state, '.sluice.db'),
    output: at(config.output, '.results.jsonl'),
    rejects: at(config.rejects, '.rejects.jsonl'),
    report: runReportPath(cwd, input, config),
  };
}

/** A missing, unreadable or non-file input is one clear message with the bad-input exit code. */
export function checkInput(path: string): void {
  try {
    if (!statSync(path).isFile()) throw new CliError(`input ${path} is not a file`, ExitCode.badInput);
    accessSync(path, constants.R_OK);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read input file ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`, ExitCode.badInput);
  }
}

async function dryRunAction(ctx: CliContext, input: string, config: SluiceConfig): Promise<void> {
  const keyCount = Math.max(1, (config.keysEnv?.length ?? 0) + (config.keyFile ? 1 : 0));
  const adapter = buildProvider(config);
  const report = await dryRun({
    input,
    ...(config.template ? { template: config.template } : {}),
    ...(config.idColumn ? { idColumn: config.idColumn } : {}),
    ...(config.requestsPerMinute ? { requestsPerMinute: config.requestsPerMinute * keyCount } : {}),
    ...(config.tokensPerMinute ? { tokensPerMinute: config.tokensPerMinute * keyCount } : {}),
    defaultMaxOutputTokens: config.maxOutputTokens,
    shapePayload: (p: unknown) => shapePayload(config.provider, p as Record<string, unknown>, config),
    ...(adapter.estimateTokens ? { estimateTokens: (p: unknown) => adapter.estimateTokens!(p as Record<string, unknown>) } : {}),
  });
  const out = ctx.io.stdout;
  println(out, `requests            ${report.requests}`);
  println(out, `rejected lines      ${report.rejected}${Object.keys(report.rejectReasons).length ? ` (${Object.entries(report.rejectReasons).map(([r, n]) => `${r}: ${n}`).join(', ')})` : ''}`);
  println(out, `input tokens (est.) ${report.estimatedInputTokens}`);
  println(out, `output tokens (max) ${report.estimatedOutputTokens}`);
  if (report.estimatedMs !== undefined) {
    println(out, `time at the limits  ${(report.estimatedMs / 60_000).toFixed(1)} min with ${keyCount} key(s); binding limit: ${report.bindingLimit}`);
  } else {
    println(out, 'time                unknown: give --requests-per-minute and/or --tokens-per-minute (per key) to estimate it');
  }
}
