import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KEY_STATE_NAMES, type RunEvent, type RunObserver } from './report/run-events.js';

/**
 * Prometheus metrics of a run, in their own prom-client `Registry` (never the global one, so two runs
 * in one process, or a host application's own metrics, do not collide). Labels carry key names only.
 */
export class SluiceMetrics implements RunObserver {
  /** The registry holding every Sluice metric. */
  readonly registry = new Registry();
  private readonly requests: Counter<'key'>;
  private readonly outcomes: Counter<'outcome'>;
  private readonly retries: Counter<'kind'>;
  private readonly rateLimited: Counter<'key'>;
  private readonly cooldowns: Counter<'key' | 'state'>;
  private readonly items: Counter<'state'>;
  private readonly inFlight: Gauge;
  private readonly concurrency: Gauge;
  private readonly quotaUsage: Gauge<'key'>;
  private readonly keyState: Gauge<'key' | 'state'>;
  private readonly quotaAlerts: Counter<'key' | 'alert_level'>;
  private readonly paused: Gauge;
  private readonly latency: Histogram<'outcome'>;
  private inFlightCount = 0;

  constructor(options: { prefix?: string } = {}) {
    const p = options.prefix ?? 'sluice_';
    const registers = [this.registry];
    this.requests = new Counter({ name: `${p}requests_total`, help: 'Attempts started, per key.', labelNames: ['key'], registers });
    this.outcomes = new Counter({
      name: `${p}attempt_outcomes_total`,
      help: 'Attempts ended, by outcome: success or the error kind.',
      labelNames: ['outcome'],
      registers,
    });
    this.retries = new Counter({ name: `${p}retries_total`, help: 'Retries scheduled, by the kind that caused them.', labelNames: ['kind'], registers });
    this.rateLimited = new Counter({ name: `${p}rate_limited_total`, help: 'Attempts answered 429 / rate_limited, per key.', labelNames: ['key'], registers });
    this.cooldowns = new Counter({
      name: `${p}key_cooldowns_total`,
      help: 'Times a key entered a non-active state (cooling, parked, disabled).',
      labelNames: ['key', 'state'],
      registers,
    });
    this.items = new Counter({ name: `${p}items_total`, help: 'Items that reached a final state.', labelNames: ['state'], registers });
    this.inFlight = new Gauge({ name: `${p}in_flight`, help: 'Attempts in flight now.', registers });
    this.concurrency = new Gauge({ name: `${p}concurrency_limit`, help: 'Current concurrency limit (adaptive).', registers });
    this.quotaUsage = new Gauge({ name: `${p}quota_usage_ratio`, help: 'Quota used per key (0..1), from rate-limit headers.', labelNames: ['key'], registers });
    this.keyState = new Gauge({ name: `${p}key_state`, help: '1 for the state each key is in.', labelNames: ['key', 'state'], registers });
    this.quotaAlerts = new Counter({ name: `${p}quota_alerts_total`, help: 'Quota alert levels crossed.', labelNames: ['key', 'alert_level'], registers });
    this.paused = new Gauge({ name: `${p}paused`, help: '1 while the whole run is paused (all keys unavailable or quota).', registers });
    this.latency = new Histogram({
      name: `${p}request_duration_seconds`,
      help: 'Attempt latency, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
  }

  /** Declares the run's keys: each gets `key_state{state="active"} 1` (and 0 for the others) from the start, not at its first change. */
  setKeys(names: readonly string[]): void {
    for (const key of names) for (const s of KEY_STATE_NAMES) this.keyState.set({ key, state: s }, s === 'active' ? 1 : 0);
  }

  observe(e: RunEvent): void {
    switch (e.type) {
      case 'attempt_start':
        this.requests.inc({ key: e.key ?? 'none' });
        this.inFlight.set(++this.inFlightCount);
        break;
      case 'attempt_end': {
        this.inFlight.set((this.inFlightCount = Math.max(0, this.inFlightCount - 1)));
        const outcome = e.ok ? 'success' : (e.kind ?? 'unknown');
        this.outcomes.inc({ outcome });
        if (!e.ok && (e.kind === 'rate_limited' || e.status === 429)) this.rateLimited.inc({ key: e.key ?? 'none' });
        if (e.latencyMs !== undefined) this.latency.observe({ outcome }, e.latencyMs / 1000);
        break;
      }
      case 'retry':
        this.retries.inc({ kind: e.kind });
        break;
      case 'item':
        if (e.state !== 'pending') this.items.inc({ state: e.state });
        break;
      case 'key_state':
        for (const s of KEY_STATE_NAMES) this.keyState.set({ key: e.key, state: s }, s === e.state ? 1 : 0);
        if (e.state !== 'active') this.cooldowns.inc({ key: e.key, state: e.state });
        break;
      case 'concurrency':
        this.concurrency.set(e.limit);
        break;
      case 'quota':
        this.quotaUsage.set({ key: e.key }, e.usage);
        break;
      case 'quota_alert':
        this.quotaAlerts.inc({ key: e.key, alert_level: String(e.alertLevel) });
        this.quotaUsage.set({ key: e.key }, e.usage);
        break;
      case 'pause':
        this.paused.set(1);
        break;
      case 'resume':
        this.paused.set(0);
        break;
    }
  }

  /** The exposition text (what `/metrics` serves). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://127.0.0.1:<port>/metrics` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `http://127.0.0.1:<port>/metrics` (port 0 picks a free one). Loopback only. */
export async function startMetricsServer(metrics: SluiceMetrics, port: number): Promise<MetricsServer> {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`metrics: port must be an integer 0..65535, got ${port}`);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics error: ${String(err)}\n`),
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/metrics`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
