/**
 * The Prometheus endpoint of a CLI run (`--metrics-port`): started in one place, with one message for a
 * port that cannot be used, and wired to what a scrape reads (items pending and queued, quota use per key;
 * {@link readWithin} for a count read from Redis)
 * and to the tokens each response reports.
 */
import type { Clock } from '../clock/clock.js';
import { QuotaMonitor } from '../flow/quota/quota-monitor.js';
import type { QuotaRecord } from '../flow/backend.js';
import type { KeyLimits } from '../flow/limits.js';
import type { MetricsServer, SluiceMetrics } from '../observe/metrics.js';
import type { ProviderAdapter, Usage } from '../provider/types.js';
import { CliError, ExitCode } from './exit-codes.js';
import { println } from './io.js';

/** A started endpoint: the metrics to feed and the server to close. */
export interface RunMetrics {
  metrics: SluiceMetrics;
  server: MetricsServer;
}

/**
 * Starts the endpoint on 127.0.0.1:`port` (0: a free one) with every key's series present from the start,
 * and prints `metrics: <url>` on `stderr`. A port in use or refused is a {@link CliError} (exit 2) naming it.
 */
export async function startRunMetrics(port: number, keyNames: readonly string[], stderr: NodeJS.WritableStream): Promise<RunMetrics> {
  // prom-client is loaded only for a run that serves metrics (it is a tenth of the CLI's start-up).
  const { SluiceMetrics, startMetricsServer } = await import('../observe/metrics.js');
  const metrics = new SluiceMetrics();
  metrics.setKeys(keyNames);
  let server: MetricsServer;
  try {
    server = await startMetricsServer(metrics, port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'EADDRINUSE'
        ? `metrics port ${port} on 127.0.0.1 is in use (EADDRINUSE): give another --metrics-port, or 0 for any free port`
        : `metrics port ${port}: cannot listen (${code ?? (error as Error).message})`,
      ExitCode.badConfig,
    );
  }
  println(stderr, `metrics: ${server.url}`);
  return { metrics, server };
}

/**
 * Each key's highest quota use (0..1) from the executor's saved quota state (`executor.quotaState()`:
 * the latest rate-limit snapshot and the day's requests), computed by the flow layer's `QuotaMonitor`
 * (the one place that knows how usage is read), without alerts or pauses.
 */
export function quotaUsageOf(states: Record<string, unknown>, limits: Readonly<Record<string, KeyLimits>>, clock: Clock): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, state] of Object.entries(states)) {
    const perDay = limits[key]?.requestsPerDay;
    const monitor = new QuotaMonitor({ key, clock, monitoring: false, ...(perDay !== undefined ? { requestsPerDay: perDay } : {}) });
    monitor.restore(state as QuotaRecord);
    out[key] = monitor.maxUsage();
    monitor.close();
  }
  return out;
}

/**
 * The adapter, with `onUsage` told the tokens every response reports (its `usage`), with the payload and the
 * key's name: the one place the CLI reads usage, for the metrics and the report's timeline alike. Responses a
 * validator refuses later count too: they were used.
 */
export function observeUsage<P, R>(provider: ProviderAdapter<P, R>, onUsage: (usage: Usage, payload: P, keyName: string) => void): ProviderAdapter<P, R> {
  return {
    name: provider.name,
    call: async (payload, ctx) => {
      const res = await provider.call(payload, ctx);
      if (res.usage) onUsage(res.usage, payload, ctx.key.name);
      return res;
    },
    ...(provider.estimateTokens ? { estimateTokens: provider.estimateTokens.bind(provider) } : {}),
  };
}

/**
 * A reader, for a scrape, of a count that lives elsewhere (a Redis worker's fleet pending count): each call
 * reads it afresh; when the read fails or takes longer than `timeoutMs` (Redis away), the last value read
 * (0 before any) is given, so a scrape always answers.
 */
export function readWithin(read: () => Promise<number>, timeoutMs: number, clock: Clock): () => Promise<number> {
  let last = 0;
  return async () => {
    let cancel: (() => void) | undefined;
    const late = new Promise<number>((resolve) => (cancel = clock.setTimer(timeoutMs, () => resolve(last))));
    try {
      return await Promise.race([read().then((v) => (last = v)), late]);
    } catch {
      return last;
    } finally {
      cancel?.();
    }
  };
}
