import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_KINDS } from '../classify/kinds.js';
import { answeredRateLimited, KEY_STATE_NAMES, type RunEvent, type RunObserver } from './report/run-events.js';

/** One exposed metric: the list the code registers and docs/MONITORING.md's table is checked against. */
export interface MetricSpec {
  /** Name without the prefix (`sluice_` by default). */
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly string[];
  /** The HELP text, and the table's "meaning" column. */
  readonly help: string;
}

/**
 * Every metric of {@link SluiceMetrics}, named per Prometheus conventions (`_total` counters, base units,
 * `_ratio` for 0..1): attempts and items apart, tokens by type, latency per key. Labels carry key names only.
 */
export const METRICS = {
  attempts: { name: 'attempts_total', type: 'counter', labels: ['key', 'outcome'], help: 'Attempts ended, per key and outcome (success or the error kind).' },
  items: { name: 'items_total', type: 'counter', labels: ['outcome'], help: 'Items that reached a final state: succeeded, failed or cancelled.' },
  retries: { name: 'retries_total', type: 'counter', labels: ['kind'], help: 'Retries scheduled, by the error kind that caused them.' },
  rateLimited: { name: 'rate_limited_total', type: 'counter', labels: ['key'], help: 'Attempts answered 429 or rate_limited, per key.' },
  tokens: { name: 'tokens_total', type: 'counter', labels: ['key', 'type'], help: 'Tokens the responses reported as used, per key; type is input or output.' },
  cooldowns: { name: 'key_cooldowns_total', type: 'counter', labels: ['key', 'state'], help: 'Times a key stopped taking work: cooling, paused, parked or disabled.' },
  quotaAlerts: { name: 'quota_alerts_total', type: 'counter', labels: ['key', 'alert_level'], help: 'Quota alert levels crossed, per key.' },
  pending: { name: 'items_pending', type: 'gauge', labels: [], help: "Items not started yet: pending in the state (on Redis, the whole fleet's run), not handed to an executor; read at each scrape." },
  queued: { name: 'items_queued', type: 'gauge', labels: [], help: 'Items handed to the executor that wait to start (ready, or waiting for a retry time).' },
  inFlight: { name: 'attempts_in_flight', type: 'gauge', labels: [], help: 'Attempts in flight.' },
  concurrency: { name: 'concurrency_limit', type: 'gauge', labels: [], help: 'Current concurrency limit (adaptive or fixed).' },
  keyState: { name: 'key_state', type: 'gauge', labels: ['key', 'state'], help: '1 for the state each key is in, 0 for the others; every key from the start.' },
  quotaUsage: { name: 'quota_usage_ratio', type: 'gauge', labels: ['key'], help: 'Highest quota use of each key, 0..1 (rate-limit headers and daily budget), read at each scrape.' },
  paused: { name: 'paused', type: 'gauge', labels: [], help: '1 while the whole run is paused (no key can take work, quota, manual or shutdown).' },
  latency: { name: 'attempt_duration_seconds', type: 'histogram', labels: ['key', 'outcome'], help: 'Attempt latency, per key and outcome.' },
} as const satisfies Record<string, MetricSpec>;

/** Latency buckets, seconds. */
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Outcomes of an attempt: success or an error kind. */
const ATTEMPT_OUTCOMES: readonly string[] = ['success', ...ERROR_KINDS];
/** Final states of an item. */
const ITEM_OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const;

/** What is read at each scrape from the run (the CLI wires it to the batch counts and the executor). */
export interface MetricsSample {
  /** Items pending in the state (a Redis worker: the fleet's run's). */
  itemsPending?: number;
  /** Items waiting in the executor. */
  itemsQueued?: number;
  /** Highest quota use per key name (0..1). */
  quotaUsage?: Record<string, number>;
}

type Labels<S extends MetricSpec> = S['labels'][number];

/**
 * Prometheus metrics of a run, in their own prom-client `Registry` (never the global one, so two runs
 * in one process, or a host application's own metrics, do not collide). Labels carry key names only.
 * Series of every key declared with {@link setKeys} exist from the start (at 0), so `rate()` and
 * alerts work before a key's first event.
 */
export class SluiceMetrics implements RunObserver {
  /** The registry holding every Sluice metric. */
  readonly registry = new Registry();
  private readonly attempts: Counter<Labels<typeof METRICS.attempts>>;
  private readonly items: Counter<Labels<typeof METRICS.items>>;
  private readonly retries: Counter<Labels<typeof METRICS.retries>>;
  private readonly rateLimited: Counter<Labels<typeof METRICS.rateLimited>>;
  private readonly tokens: Counter<Labels<typeof METRICS.tokens>>;
  private readonly cooldowns: Counter<Labels<typeof METRICS.cooldowns>>;
  private readonly quotaAlerts: Counter<Labels<typeof METRICS.quotaAlerts>>;
  private readonly inFlight: Gauge;
  private readonly concurrency: Gauge;
  private readonly quotaUsage: Gauge<Labels<typeof METRICS.quotaUsage>>;
  private readonly keyState: Gauge<Labels<typeof METRICS.keyState>>;
  private readonly paused: Gauge;
  private readonly latency: Histogram<Labels<typeof METRICS.latency>>;
  private inFlightCount = 0;
  private sampler: (() => MetricsSample | Promise<MetricsSample>) | undefined;
  /** The sample of the scrape under way: every gauge of one scrape reads the same one (the sampler is called once). */
  private sampling: Promise<MetricsSample | undefined> | undefined;

  constructor(options: { prefix?: string } = {}) {
    const p = options.prefix ?? 'sluice_';
    const registers = [this.registry];
    const config = <S extends MetricSpec>(s: S) => ({ name: `${p}${s.name}`, help: s.help, labelNames: s.labels as Labels<S>[], registers });
    this.attempts = new Counter(config(METRICS.attempts));
    this.items = new Counter(config(METRICS.items));
    this.retries = new Counter(config(METRICS.retries));
    this.rateLimited = new Counter(config(METRICS.rateLimited));
    this.tokens = new Counter(config(METRICS.tokens));
    this.cooldowns = new Counter(config(METRICS.cooldowns));
    this.quotaAlerts = new Counter(config(METRICS.quotaAlerts));
    // (undefined: the sampler failed; the gauge keeps its last value)
    const sample = (): Promise<MetricsSample | undefined> => this.sample();
    new Gauge({ ...config(METRICS.pending), async collect() { const s = await sample(); if (s) this.set(s.itemsPending ?? 0); } });
    new Gauge({ ...config(METRICS.queued), async collect() { const s = await sample(); if (s) this.set(s.itemsQueued ?? 0); } });
    this.inFlight = new Gauge(config(METRICS.inFlight));
    this.concurrency = new Gauge(config(METRICS.concurrency));
    this.keyState = new Gauge(config(METRICS.keyState));
    this.quotaUsage = new Gauge({
      ...config(METRICS.quotaUsage),
      async collect() {
        for (const [key, usage] of Object.entries((await sample())?.quotaUsage ?? {})) this.set({ key }, usage);
      },
    });
    this.paused = new Gauge(config(METRICS.paused));
    this.latency = new Histogram({ ...config(METRICS.latency), buckets: LATENCY_BUCKETS });
    for (const outcome of ITEM_OUTCOMES) this.items.inc({ outcome }, 0);
    for (const kind of ERROR_KINDS) this.retries.inc({ kind }, 0);
  }

  /**
   * Declares the run's keys: each gets its series from the start, at 0 (`key_state{state="active"} 1`),
   * not at its first event.
   */
  setKeys(names: readonly string[]): void {
    for (const key of names) {
      for (const s of KEY_STATE_NAMES) {
        this.keyState.set({ key, state: s }, s === 'active' ? 1 : 0);
        if (s !== 'active') this.cooldowns.inc({ key, state: s }, 0);
      }
      for (const outcome of ATTEMPT_OUTCOMES) this.attempts.inc({ key, outcome }, 0);
      this.latency.zero({ key, outcome: 'success' });
      this.rateLimited.inc({ key }, 0);
      this.tokens.inc({ key, type: 'input' }, 0);
      this.tokens.inc({ key, type: 'output' }, 0);
      this.quotaUsage.set({ key }, 0);
    }
  }

  /**
   * What to read at each scrape: items pending and queued, quota use per key. It may read elsewhere
   * (a Redis worker asks the fleet's pending count): it is called once per scrape, and a sampler that
   * fails leaves the gauges at their last values.
   */
  setSampler(sampler: () => MetricsSample | Promise<MetricsSample>): void {
    this.sampler = sampler;
  }

  private sample(): Promise<MetricsSample | undefined> {
    // The gauges of one scrape are collected in the same turn: the first asks, the others share its answer.
    this.sampling ??= (async () => {
      try {
        return (await this.sampler?.()) ?? {};
      } catch {
        return undefined;
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  /** Counts the tokens one response reported, on its key. */
  recordUsage(key: string, usage: { inputTokens: number; outputTokens: number }): void {
    if (usage.inputTokens > 0) this.tokens.inc({ key, type: 'input' }, usage.inputTokens);
    if (usage.outputTokens > 0) this.tokens.inc({ key, type: 'output' }, usage.outputTokens);
  }

  observe(e: RunEvent): void {
    switch (e.type) {
      case 'attempt_start':
        this.inFlight.set(++this.inFlightCount);
        break;
      case 'attempt_end': {
        this.inFlight.set((this.inFlightCount = Math.max(0, this.inFlightCount - 1)));
        const key = e.key ?? 'none';
        const outcome = e.ok ? 'success' : (e.kind ?? 'unknown');
        this.attempts.inc({ key, outcome });
        if (answeredRateLimited(e)) this.rateLimited.inc({ key });
        if (e.latencyMs !== undefined) this.latency.observe({ key, outcome }, e.latencyMs / 1000);
        break;
      }
      case 'retry':
        this.retries.inc({ kind: e.kind });
        break;
      case 'item':
        if (e.state !== 'pending') this.items.inc({ outcome: e.state });
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
