/**
 * Limiter bench (issue 10): N requests per key against rate limiters the project did not write
 * (express-rate-limit, rate-limiter-flexible, limiter, rolling-rate-limiter; see bench/limiters/), each in
 * its own server process on 127.0.0.1 in front of a static chat completion, with the limiter's own
 * headers ("headers") or none ("blind"), with 1 and 3 keys. Every contender gets a fresh server:
 * Sluice as a library and `sluice run` end to end, both told no limit, and the peers (p-limit + p-retry,
 * openai-node with maxRetries, bottleneck told the limit).
 *
 * Per row: time / (N / aggregate rate), the share of requests answered 429, items lost (N minus
 * successes) and the server's request count; per scenario, the best peer.
 *
 * Environment:
 * - BENCH_LIMITERS_N: requests per key (default 60; the issue's full size: 400).
 * - BENCH_LIMITERS_RATE: limit per key, requests/s (default 20).
 * - BENCH_LIMITERS_WINDOW: fixed-window length in s (default 1; the issue's: 5). A window holds RATE * WINDOW.
 * - BENCH_LIMITERS_LATENCY_MS: time the answer takes (default 50; the concurrency cap scenario uses CAP / RATE).
 * - BENCH_LIMITERS_FILTER: regex on scenario names `<algorithm>/<mode>/<k>key` (default: a quick set; `.` = all).
 * - BENCH_LIMITERS_CONTENDERS: regex on contender names (default: all).
 * - BENCH_LIMITERS_TIMEOUT: hard timeout per row as a multiple of the minimum (default 10; at least 15 s).
 */
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CONTENDERS, sluiceCli, type Contender } from './limiters/contenders.js';
import { ALGORITHMS, ALGORITHM_INFO, CONCURRENCY_CAP, type Algorithm, type HeaderMode } from './limiters/scenarios.js';
import { startLimiterServer } from './limiters/spawn-server.js';

/** The scenarios of a plain `npm run bench`: one per algorithm family, a few minutes in all. */
const QUICK_FILTER = '^(fixed-window-ietf/(headers|blind)/1key|leaky-bucket/blind/1key|token-bucket/blind/3key|sliding-window/headers/1key)$';

interface Scenario {
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly mode: HeaderMode;
  readonly keys: number;
}

interface Row {
  readonly contender: string;
  readonly peer: boolean;
  readonly seconds: number;
  readonly ratio: number;
  readonly requests: number;
  readonly rateLimited: number;
  readonly lost: number;
  readonly timedOut: boolean;
}

function envNumber(name: string, fallback: number, valid: (n: number) => boolean, range: string): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!valid(n)) throw new RangeError(`${name} must be ${range}, got ${JSON.stringify(text)}`);
  return n;
}

function envRegex(name: string, fallback: string): RegExp {
  const text = process.env[name] || fallback;
  try {
    return new RegExp(text);
  } catch (err) {
    throw new SyntaxError(`${name} must be a regular expression, got ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

function scenarios(filter: RegExp): Scenario[] {
  const out: Scenario[] = [];
  for (const algorithm of ALGORITHMS) {
    for (const mode of ALGORITHM_INFO[algorithm].modes) {
      for (const keys of [1, 3]) {
        const name = `${algorithm}/${mode}/${keys}key`;
        if (filter.test(name)) out.push({ name, algorithm, mode, keys });
      }
    }
  }
  return out;
}

function secret(i: number): string {
  return `sk-bench-${i + 1}-${Math.random().toString(36).slice(2)}`;
}

/** Runs one contender against a fresh server; a row that passes the hard timeout is cut and marked. */
async function runRow(
  contender: Contender,
  scenario: Scenario,
  sizes: { n: number; rate: number; windowSeconds: number; latencyMs: number; timeoutFactor: number },
): Promise<Row> {
  const secrets = Array.from({ length: scenario.keys }, (_, i) => secret(i));
  const latencyMs = scenario.algorithm === 'concurrency' ? (1000 * CONCURRENCY_CAP) / sizes.rate : sizes.latencyMs;
  const server = await startLimiterServer({
    algorithm: scenario.algorithm,
    mode: scenario.mode,
    rate: sizes.rate,
    windowSeconds: sizes.windowSeconds,
    secrets,
    latencyMs,
  });
  const total = sizes.n * scenario.keys;
  const minimum = sizes.n / sizes.rate;
  const controller = new AbortController();
  // Every request in flight (and each of its retries) listens to the row's signal.
  setMaxListeners(0, controller.signal);
  const timeoutMs = Math.max(15_000, minimum * 1000 * sizes.timeoutFactor);
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const t0 = performance.now();
  let ok = 0;
  try {
    ok = await contender.run({
      baseUrl: server.baseUrl,
      secrets,
      n: total,
      rate: sizes.rate,
      concurrencyCap: scenario.algorithm === 'concurrency' ? CONCURRENCY_CAP : undefined,
      signal: controller.signal,
    });
  } catch (err) {
    if (!controller.signal.aborted) console.error(`${contender.name} on ${scenario.name} threw:`, err);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const stats = await server.stats().catch(() => undefined);
  await server.close();
  return {
    contender: contender.name,
    peer: contender.peer,
    seconds,
    ratio: seconds / minimum,
    requests: stats?.requests ?? 0,
    rateLimited: stats?.rateLimited ?? 0,
    lost: total - ok,
    timedOut: controller.signal.aborted,
  };
}

function formatRow(scenario: Scenario, r: Row): string {
  const share = (100 * r.rateLimited) / Math.max(1, r.requests);
  return (
    `${r.contender.padEnd(22)} ${scenario.name.padEnd(34)} ${(r.timedOut ? 'TIMEOUT' : r.ratio.toFixed(2) + 'x').padStart(8)}` +
    ` ${r.seconds.toFixed(1).padStart(6)} s  429s ${share.toFixed(1).padStart(5)} % (${String(r.rateLimited).padStart(4)})` +
    `  lost ${String(r.lost).padStart(4)}  requests ${String(r.requests).padStart(5)}`
  );
}

/** One cell: the ratio (or TIMEOUT), the share answered 429 and the items lost. */
function cell(r: Row | undefined): string {
  if (!r) return '—';
  const share = ((100 * r.rateLimited) / Math.max(1, r.requests)).toFixed(1);
  return `${r.timedOut ? 'TIMEOUT' : r.ratio.toFixed(2) + 'x'}, ${share} % 429, lost ${r.lost}`;
}

const MARKDOWN_HEADER = '| scenario | sluice library | sluice run (CLI) | best peer |\n|---|---|---|---|';

/** The scenario's line of the markdown table printed at the end (the one docs/PERFORMANCE.md shows). */
function markdownRow(scenario: Scenario, rows: readonly Row[], best: Row | undefined): string {
  const find = (name: string): Row | undefined => rows.find((r) => r.contender === name);
  return `| ${scenario.name} | ${cell(find('sluice library'))} | ${cell(find('sluice run (CLI)'))} | ${best ? `${best.contender}: ${cell(best)}` : '—'} |`;
}

/** The best peer: fewest lost items first, then the shortest time. */
function bestPeer(rows: readonly Row[]): Row | undefined {
  return rows.filter((r) => r.peer).sort((a, b) => a.lost - b.lost || a.seconds - b.seconds)[0];
}

/**
 * The CLI rows include the process start, the input's ingestion into SQLite and the final report: this is
 * that fixed cost, measured as one request against a server whose limit never binds.
 */
async function printCliStartup(latencyMs: number): Promise<void> {
  const secrets = [secret(0)];
  const server = await startLimiterServer({ algorithm: 'fixed-window-ietf', mode: 'blind', rate: 1000, windowSeconds: 1, secrets, latencyMs });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  const t0 = performance.now();
  try {
    const ok = await sluiceCli.run({ baseUrl: server.baseUrl, secrets, n: 1, rate: 1000, concurrencyCap: undefined, signal: controller.signal });
    console.log(`sluice run fixed cost (start, ingest, 1 request, report; included in every CLI row): ${(performance.now() - t0).toFixed(0)} ms${ok === 1 ? '' : ' (the request failed)'}`);
  } finally {
    clearTimeout(timer);
    await server.close();
  }
}

export async function benchLimiters(): Promise<void> {
  const n = envNumber('BENCH_LIMITERS_N', 60, (v) => Number.isInteger(v) && v >= 1 && v <= 100_000, 'an integer 1..100000');
  const rate = envNumber('BENCH_LIMITERS_RATE', 20, (v) => Number.isInteger(v) && v >= 1 && v <= 1000, 'an integer 1..1000');
  const windowSeconds = envNumber('BENCH_LIMITERS_WINDOW', 1, (v) => Number.isInteger(v) && v >= 1 && v <= 600, 'an integer 1..600');
  const latencyMs = envNumber('BENCH_LIMITERS_LATENCY_MS', 50, (v) => Number.isFinite(v) && v >= 0 && v <= 10_000, 'a number 0..10000');
  const timeoutFactor = envNumber('BENCH_LIMITERS_TIMEOUT', 10, (v) => Number.isFinite(v) && v >= 1 && v <= 1000, 'a number 1..1000');
  const filter = envRegex('BENCH_LIMITERS_FILTER', QUICK_FILTER);
  const only = envRegex('BENCH_LIMITERS_CONTENDERS', '.');
  const chosen = scenarios(filter);
  const contenders = CONTENDERS.filter((c) => only.test(c.name));
  if (chosen.length === 0) throw new RangeError(`BENCH_LIMITERS_FILTER ${filter} matches no scenario; names look like fixed-window-ietf/headers/1key`);
  console.log(
    `${n} requests per key at ${rate} req/s per key (minimum n/rate = ${(n / rate).toFixed(1)} s), fixed windows of ${windowSeconds} s, ` +
      `answer latency ${latencyMs} ms; hard timeout ${timeoutFactor}x the minimum (at least 15 s). ` +
      `Full size of issue 10: BENCH_LIMITERS_N=400 BENCH_LIMITERS_WINDOW=5 BENCH_LIMITERS_FILTER=.`,
  );
  if (contenders.includes(sluiceCli)) await printCliStartup(latencyMs);
  const table: string[] = [];
  for (const scenario of chosen) {
    const info = ALGORITHM_INFO[scenario.algorithm];
    console.log(`\n-- ${scenario.name}: ${info.limit(rate, windowSeconds)}; ${info.implementation}`);
    const rows: Row[] = [];
    for (const contender of contenders) {
      const row = await runRow(contender, scenario, { n, rate, windowSeconds, latencyMs, timeoutFactor });
      rows.push(row);
      console.log(formatRow(scenario, row));
    }
    const best = bestPeer(rows);
    table.push(markdownRow(scenario, rows, best));
    const sluice = rows.filter((r) => !r.peer).map((r) => `${r.contender} ${r.timedOut ? 'TIMEOUT' : r.ratio.toFixed(2) + 'x'}`);
    if (best) {
      console.log(
        `summary ${scenario.name}: best peer ${best.contender} ${best.timedOut ? 'TIMEOUT' : best.ratio.toFixed(2) + 'x'} ` +
          `(429s ${((100 * best.rateLimited) / Math.max(1, best.requests)).toFixed(1)} %, lost ${best.lost}); ${sluice.join(', ')}`,
      );
    }
  }
  console.log(`\n${MARKDOWN_HEADER}\n${table.join('\n')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchLimiters().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
