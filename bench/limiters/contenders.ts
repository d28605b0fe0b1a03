/**
 * The clients of the limiter bench. Each sends N chat completions over the keys (round robin) to the
 * limiter server and resolves the number that succeeded; none is told the limit unless its name says so.
 * Each stops when `signal` aborts (the bench's hard timeout), so that none outlives its row.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Bottleneck from 'bottleneck';
import OpenAI from 'openai';
import pLimit from 'p-limit';
import pRetry, { AbortError } from 'p-retry';
import { openAICompatibleAdapter } from '../../src/provider/index.js';
import { createSluice } from '../../src/scheduler/index.js';
import type { JobResult } from '../../src/scheduler/job.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What a contender is given for one row. */
export interface ContenderContext {
  /** The server's `/v1` root. */
  readonly baseUrl: string;
  readonly secrets: readonly string[];
  readonly n: number;
  /** The limit per key in requests per second: only contenders "told the limit" may read it. */
  readonly rate: number;
  /** Requests in flight per key the server allows, when it caps them (told-the-limit contenders only). */
  readonly concurrencyCap: number | undefined;
  /** Aborted at the bench's hard timeout. */
  readonly signal: AbortSignal;
}

export interface Contender {
  readonly name: string;
  /** A peer (not Sluice): the summary names the best of these. */
  readonly peer: boolean;
  /** Resolves how many of the N requests succeeded. */
  run(ctx: ContenderContext): Promise<number>;
}

export function body(i: number): { model: string; max_tokens: number; messages: { role: 'user'; content: string }[] } {
  return { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: `Summarise item ${i} in one line.` }] };
}

/** An HTTP failure as the hand-written peers see it: the status and the Retry-After in ms, if any. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

/** POSTs one chat completion with fetch; throws HttpError on a non-2xx. */
async function post(baseUrl: string, secret: string, i: number, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body(i)),
    signal,
  });
  await res.arrayBuffer();
  if (!res.ok) {
    const ra = Number(res.headers.get('retry-after'));
    throw new HttpError(res.status, Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined);
  }
}

const retryable = (err: unknown): boolean => !(err instanceof HttpError) || err.status === 429 || err.status >= 500;

/** Sluice as a library: `createSluice` with its defaults and the OpenAI-compatible adapter, told no limit. */
const sluiceLibrary: Contender = {
  name: 'sluice library',
  peer: false,
  async run(ctx) {
    const sluice = createSluice({
      provider: openAICompatibleAdapter({ baseUrl: ctx.baseUrl }),
      keys: ctx.secrets.map((secret, i) => ({ name: `key-${i + 1}`, secret })),
    });
    const stop = (): void => void sluice.close({ graceMs: 0 });
    const trail = new Map<unknown, string[]>();
    const t0 = Date.now();
    if (process.env.BENCH_LIMITERS_DEBUG) {
      sluice.events.on('retryScheduled', (e) => {
        const list = trail.get(e.jobId) ?? [];
        list.push(`${Date.now() - t0}ms ${e.key} ${e.reason}`);
        trail.set(e.jobId, list);
      });
    }
    ctx.signal.addEventListener('abort', stop, { once: true });
    try {
      const summary = await sluice.runAll(
        Array.from({ length: ctx.n }, (_, i) => body(i)),
        {
          signal: ctx.signal,
          // BENCH_LIMITERS_DEBUG=1 says why each lost item was given up (kind, attempts, last key).
          ...(process.env.BENCH_LIMITERS_DEBUG
            ? { onResult: (r: JobResult<unknown>) => void (r.ok || console.error(`  lost ${String(r.id)}: ${r.kind} after ${r.attempts} attempts, last key ${r.key ?? '-'}\n    ${(trail.get(r.id) ?? []).join('\n    ')}`)) }
            : {}),
        },
      );
      return summary.succeeded;
    } finally {
      ctx.signal.removeEventListener('abort', stop);
      await sluice.close({ graceMs: 0 });
    }
  },
};

/** Newest modification time under a folder, ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

let staleWarned = false;

/** `npx tsx bench/run.ts` skips the build that `npm run bench` does: say so when dist/ is older than src/. */
function warnIfStale(dist: string): void {
  if (staleWarned) return;
  staleWarned = true;
  if (statSync(dist).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    console.warn('warning: dist/ is older than src/: the CLI rows measure an old build (run `npm run build` first; `npm run bench` does)');
  }
}

/** Sluice end to end: `sluice run <jsonl>` from dist/ (the bench builds first), told no limit. */
export const sluiceCli: Contender = {
  name: 'sluice run (CLI)',
  peer: false,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-limiters-'));
    try {
      const input = join(dir, 'in.jsonl');
      const output = join(dir, 'out.jsonl');
      writeFileSync(input, Array.from({ length: ctx.n }, (_, i) => JSON.stringify({ id: `r${i}`, payload: body(i) })).join('\n') + '\n');
      const dist = join(ROOT, 'dist', 'cli', 'main.js');
      if (!existsSync(dist)) throw new Error('dist/cli/main.js is missing: run `npm run build` first (`npm run bench` does)');
      warnIfStale(dist);
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
      ctx.secrets.forEach((s, i) => (env[`BENCH_LIMITER_KEY_${i + 1}`] = s));
      const keysEnv = ctx.secrets.map((_, i) => `BENCH_LIMITER_KEY_${i + 1}`).join(',');
      await new Promise<void>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [dist, 'run', input, '--base-url', ctx.baseUrl, '--keys-env', keysEnv, '--output', output, '--progress', 'off'],
          { env, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
        const kill = (): void => void child.kill('SIGKILL');
        ctx.signal.addEventListener('abort', kill, { once: true });
        child.on('error', reject);
        child.on('close', (code) => {
          ctx.signal.removeEventListener('abort', kill);
          // 3 = some items failed: counted from the output below.
          if (code !== 0 && code !== 3 && !ctx.signal.aborted) console.error(`sluice run exited ${code}: ${stderr.trim()}`);
          resolve();
        });
      });
      if (!existsSync(output)) return 0;
      return readFileSync(output, 'utf8')
        .split('\n')
        .filter((line) => line.includes('"status":"succeeded"')).length;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** p-limit(16) + p-retry (10 retries, its default exponential backoff from 1 s), as their READMEs show. */
const pLimitRetry: Contender = {
  name: 'p-limit + p-retry',
  peer: true,
  async run(ctx) {
    const limit = pLimit(16);
    let ok = 0;
    await Promise.all(
      Array.from({ length: ctx.n }, (_, i) =>
        limit(() =>
          pRetry(
            async () => {
              try {
                await post(ctx.baseUrl, ctx.secrets[i % ctx.secrets.length]!, i, ctx.signal);
              } catch (err) {
                if (!retryable(err)) throw new AbortError(err as Error);
                throw err;
              }
            },
            { retries: 10, signal: ctx.signal },
          ).then(() => void ok++, () => undefined),
        ),
      ),
    );
    return ok;
  },
};

/** The official `openai` client with its own retries (maxRetries 10: honours Retry-After), p-limit(8). */
const openaiRetries: Contender = {
  name: 'openai maxRetries 10',
  peer: true,
  async run(ctx) {
    const clients = ctx.secrets.map((apiKey) => new OpenAI({ apiKey, baseURL: ctx.baseUrl, maxRetries: 10 }));
    const limit = pLimit(8);
    let ok = 0;
    await Promise.all(
      Array.from({ length: ctx.n }, (_, i) =>
        limit(() =>
          clients[i % clients.length]!.chat.completions.create(body(i), { signal: ctx.signal }).then(() => void ok++, () => undefined),
        ),
      ),
    );
    return ok;
  },
};

/** bottleneck told the limit: per key, one start every 1/r s (or, against a concurrency cap, the cap in flight), retrying 429s. */
const bottleneckTold: Contender = {
  name: 'bottleneck (told)',
  peer: true,
  async run(ctx) {
    const limiters = ctx.secrets.map(() => {
      const l = new Bottleneck(ctx.concurrencyCap ? { maxConcurrent: ctx.concurrencyCap } : { minTime: 1000 / ctx.rate });
      l.on('failed', (err: unknown, info: { retryCount: number }) => {
        if (ctx.signal.aborted || !retryable(err) || info.retryCount >= 10) return undefined;
        return err instanceof HttpError && err.retryAfterMs !== undefined ? err.retryAfterMs : 250 * 2 ** info.retryCount;
      });
      return l;
    });
    const stop = (): void => limiters.forEach((l) => void l.stop({ dropWaitingJobs: true }).catch(() => undefined));
    ctx.signal.addEventListener('abort', stop, { once: true });
    let ok = 0;
    try {
      await Promise.all(
        Array.from({ length: ctx.n }, (_, i) => {
          const k = i % ctx.secrets.length;
          return limiters[k]!.schedule(() => post(ctx.baseUrl, ctx.secrets[k]!, i, ctx.signal)).then(() => void ok++, () => undefined);
        }),
      );
    } finally {
      ctx.signal.removeEventListener('abort', stop);
      await Promise.all(limiters.map((l) => l.disconnect()));
    }
    return ok;
  },
};

export const CONTENDERS: readonly Contender[] = [sluiceLibrary, sluiceCli, pLimitRetry, openaiRetries, bottleneckTold];
