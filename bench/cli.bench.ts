/**
 * CLI benchmark (issue 5): N requests through `sluice run` against the simulator with hidden per-key
 * limits (3 keys, each 600 requests/min and 100,000 tokens/min, no rate-limit headers; 429s carry a
 * Retry-After as real APIs do), in real time. Figures: completion time over the theoretical minimum
 * (N / aggregate rate; goal <= 1.05) and the share of requests answered 429 (goal < 1 %), next to peers
 * run the same way in the same process: p-limit + p-retry, p-queue with an interval cap, bottleneck with
 * a reservoir, and the `openai` client's own retries.
 *
 * Environment: BENCH_CLI_REQUESTS (default 600), BENCH_CLI_WINDOW_MS (the simulator's limit window,
 * default 6,000 ms with the limits scaled to the same rates: 60 requests and 10,000 tokens per 6 s per
 * key; 60000 reproduces the one-minute window exactly), BENCH_CLI_ONLY (comma list of contenders).
 * A short window keeps the start-up burst small, so a few hundred requests already measure the rate.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Bottleneck from 'bottleneck';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import pRetry, { AbortError } from 'p-retry';
import { startSimulator, type Simulator } from '../src/simulator/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const KEYS = 3;
const RPM = 600;
const TPM = 100_000;
const MAX_TOKENS = 100;

interface Figures {
  name: string;
  seconds: number;
  ratio: number;
  requests: number;
  r429: number;
  failed: number;
}

function body(i: number): Record<string, unknown> {
  return { model: 'gpt-4o-mini', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: `Summarise item ${i} in one line.` }] };
}

async function simulator(windowMs: number): Promise<{ sim: Simulator; secrets: string[] }> {
  const secrets = Array.from({ length: KEYS }, (_, i) => `sk-bench-${i + 1}-${Math.random().toString(36).slice(2)}`);
  const scale = windowMs / 60_000;
  const sim = await startSimulator({
    seed: 11,
    windowMs,
    rateLimitHeaders: false,
    keys: secrets.map((secret, i) => ({
      name: `key-${i + 1}`,
      secret,
      requestsPerMinute: Math.max(1, Math.round(RPM * scale)),
      tokensPerMinute: Math.max(1, Math.round(TPM * scale)),
    })),
    latency: { type: 'lognormal', mean: 80, p99: 300 },
  });
  return { sim, secrets };
}

/** POSTs one chat completion; throws an error with `status` (and `retryAfterMs`) on a non-2xx. */
async function call(url: string, secret: string, i: number): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body(i)),
  });
  await res.arrayBuffer();
  if (!res.ok) {
    const err = new Error(`HTTP ${res.status}`) as Error & { status: number; retryAfterMs?: number };
    err.status = res.status;
    const ra = Number(res.headers.get('retry-after'));
    if (Number.isFinite(ra) && ra > 0) err.retryAfterMs = ra * 1000;
    throw err;
  }
}

const retryable = (err: unknown): boolean => {
  const s = (err as { status?: number }).status;
  return s === undefined || s === 429 || s >= 500;
};

type Contender = (url: string, secrets: string[], n: number) => Promise<number>;

/** Sluice through its CLI: a JSONL file, keys from env, the documented limits per key. */
const sluiceCli: Contender = async (url, secrets, n) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-cli-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `r${i}`, payload: body(i) })).join('\n') + '\n');
  const dist = join(ROOT, 'dist', 'cli', 'main.js');
  const args = existsSync(dist) ? [dist] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  secrets.forEach((s, i) => (env[`BENCH_KEY_${i + 1}`] = s));
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...args, 'run', input, '--base-url', `${url}/v1`, '--keys-env', secrets.map((_, i) => `BENCH_KEY_${i + 1}`).join(','),
        '--requests-per-minute', String(RPM), '--tokens-per-minute', String(TPM), '--max-concurrency', '64', '--concurrency', '16', '--progress', 'off',
      ],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => {
      if (c !== 0) console.error(stderr);
      resolve(c);
    });
  });
  return code === 0 ? 0 : n; // failures are counted below from the simulator's statistics too
};

/** p-limit + p-retry, as their READMEs show: a concurrency limit and retries with exponential backoff. */
const pLimitRetry: Contender = async (url, secrets, n) => {
  const limit = pLimit(16);
  let failed = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      limit(() =>
        pRetry(
          async () => {
            try {
              await call(url, secrets[i % secrets.length]!, i);
            } catch (err) {
              if (!retryable(err)) throw new AbortError(err as Error);
              throw err;
            }
          },
          { retries: 10 },
        ).catch(() => void failed++),
      ),
    ),
  );
  return failed;
};

/** p-queue with an interval cap per key (the documented rate) and p-retry for 429s. */
const pQueueInterval: Contender = async (url, secrets, n) => {
  const queues = secrets.map(() => new PQueue({ interval: 1000, intervalCap: RPM / 60, concurrency: 16 }));
  let failed = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const k = i % secrets.length;
      return pRetry(() => queues[k]!.add(() => call(url, secrets[k]!, i)), {
        retries: 10,
        shouldRetry: ({ error }) => retryable(error),
      }).catch(() => void failed++);
    }),
  );
  return failed;
};

/** bottleneck with a reservoir per key refreshed every minute (its README's rate-limit recipe) and its retry hook. */
const bottleneckReservoir: Contender = async (url, secrets, n) => {
  const limiters = secrets.map(() => {
    const l = new Bottleneck({ reservoir: RPM, reservoirRefreshAmount: RPM, reservoirRefreshInterval: 60_000, maxConcurrent: 16 });
    l.on('failed', (err: unknown, info: { retryCount: number }) => {
      if (retryable(err) && info.retryCount < 10) return (err as { retryAfterMs?: number }).retryAfterMs ?? 1000 * 2 ** info.retryCount;
      return undefined;
    });
    return l;
  });
  let failed = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const k = i % secrets.length;
      return limiters[k]!.schedule(() => call(url, secrets[k]!, i)).catch(() => void failed++);
    }),
  );
  await Promise.all(limiters.map((l) => l.disconnect()));
  return failed;
};

/** The official `openai` client with its own retries (maxRetries 10), 16 calls in flight. */
const openaiRetries: Contender = async (url, secrets, n) => {
  const clients = secrets.map((apiKey) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 10 }));
  const limit = pLimit(16);
  let failed = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      limit(() =>
        clients[i % clients.length]!.chat.completions
          .create(body(i) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
          .then(() => undefined, () => void failed++),
      ),
    ),
  );
  return failed;
};

const CONTENDERS: [string, Contender][] = [
  ['sluice CLI', sluiceCli],
  ['p-limit + p-retry', pLimitRetry],
  ['p-queue interval cap', pQueueInterval],
  ['bottleneck reservoir', bottleneckReservoir],
  ['openai maxRetries', openaiRetries],
];

/** Runs every contender against a fresh simulator and prints the table. */
export async function benchCli(): Promise<void> {
  const n = Number(process.env.BENCH_CLI_REQUESTS ?? 600);
  const windowMs = Number(process.env.BENCH_CLI_WINDOW_MS ?? 6000);
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`BENCH_CLI_REQUESTS must be an integer > 0, got ${process.env.BENCH_CLI_REQUESTS}`);
  if (!(Number.isInteger(windowMs) && windowMs >= 1000)) throw new RangeError(`BENCH_CLI_WINDOW_MS must be an integer >= 1000`);
  const only = process.env.BENCH_CLI_ONLY?.split(',').map((s) => s.trim());
  const rate = (KEYS * RPM) / 60; // requests per second, aggregate
  const minimum = n / rate;
  // A sliding window admits a full window's worth at once: a client that bursts can finish in
  // (ceil(n / capacity) - 1) windows, below n / rate. Printed so that ratios under 1 make sense.
  const capacity = KEYS * Math.max(1, Math.round((RPM * windowMs) / 60_000));
  const burstMinimum = ((Math.ceil(n / capacity) - 1) * windowMs) / 1000;
  console.log(
    `${n} requests, ${KEYS} keys x ${RPM} req/min and ${TPM} tokens/min (simulator window ${windowMs / 1000} s, limits scaled to it), ` +
      `no rate-limit headers; theoretical minimum n/rate ${minimum.toFixed(1)} s ` +
      `(a client bursting each window's allowance could end at ${burstMinimum.toFixed(1)} s; the CLI figure includes process start and ingestion) (set BENCH_CLI_REQUESTS=10000 BENCH_CLI_WINDOW_MS=60000 for the full run)`,
  );
  const rows: Figures[] = [];
  for (const [name, run] of CONTENDERS) {
    if (only && !only.some((o) => name.startsWith(o))) continue;
    const { sim, secrets } = await simulator(windowMs);
    const t0 = performance.now();
    let failed: number;
    try {
      failed = await run(sim.url, secrets, n);
    } finally {
      await sim.close().catch(() => undefined);
    }
    const seconds = (performance.now() - t0) / 1000;
    const stats = sim.stats({ log: false });
    const r429 = Object.values(stats.keys).reduce((s, k) => s + k.rateLimited, 0);
    const succeeded = Object.values(stats.keys).reduce((s, k) => s + k.successes, 0);
    rows.push({ name, seconds, ratio: seconds / minimum, requests: stats.requests, r429, failed: Math.max(failed, n - succeeded) });
    const r = rows[rows.length - 1]!;
    console.log(
      `${name.padEnd(22)} ${seconds.toFixed(1).padStart(7)} s  time/min ${r.ratio.toFixed(3)}  requests ${String(r.requests).padStart(6)}  ` +
        `429s ${String(r429).padStart(5)} (${((100 * r429) / Math.max(1, r.requests)).toFixed(2)} %)  failed ${r.failed}`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchCli().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
