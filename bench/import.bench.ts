/**
 * Import bench (issue 12): the cost of `import … from 'sluice'` and of each subpath, from the built
 * package (dist/, as a user's program loads it: by package name, through package.json's `exports`).
 * Each entry is imported in fresh Node processes; figures: the median time of the dynamic `import()`
 * measured inside the process, the median wall time of the whole process next to a bare `node -e ""`,
 * and which heavy packages got loaded (scripts/record-module-loads.mjs: ESM loader hook + require.cache).
 * Goal: `sluice` loads none of better-sqlite3, ioredis, bullmq (and not pino, undici, js-tiktoken
 * until first use).
 * Then the CLI from start to exit (dist/cli/main.js, docs/PERFORMANCE.md "CLI fixed cost"): `sluice --help`,
 * and `sluice run` of a 1-item JSONL file against the simulator in this process (1 ms answers; start,
 * ingest, the probe, 1 request, report), each as the median wall time of fresh processes, with the
 * modules it loaded. Printed, not asserted.
 *
 * Environment: BENCH_IMPORT_RUNS (processes per entry, default 7); BENCH_IMPORT_ROOT (a folder holding a
 * built copy of the package, package.json + dist/ + node_modules, to measure another build; default: this repo).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSimulator } from '../src/simulator/index.js';

const run = promisify(execFile);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = process.env.BENCH_IMPORT_ROOT ?? REPO;
const ENTRIES = ['sluice', 'sluice/batch', 'sluice/redis', 'sluice/simulator', 'sluice/testing'];
/** Packages whose loading the bench reports (the issue's list, plus the other runtime dependencies). */
const WATCHED = ['better-sqlite3', 'ioredis', 'bullmq', 'pino', 'undici', 'js-tiktoken', 'zod', 'csv-parse', 'prom-client', 'commander'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** One fresh process importing `entry`: the in-process import time (ms) and the wall time of the process (ms). */
async function timeOnce(entry: string | undefined): Promise<{ importMs: number; wallMs: number }> {
  const code = entry ? `const t = performance.now(); await import(${JSON.stringify(entry)}); console.log(performance.now() - t);` : 'console.log(0);';
  const started = performance.now();
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT });
  return { importMs: Number(stdout.trim()), wallMs: performance.now() - started };
}

/** The watched packages a fresh process loads when it imports `entry`. */
async function loadedBy(entry: string, dir: string): Promise<{ watched: string[]; modules: number }> {
  return loadedByArgs(entry, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], dir);
}

/** The watched packages and the module count of a fresh `node <args>` process. */
async function loadedByArgs(name: string, args: readonly string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ watched: string[]; modules: number }> {
  const out = join(dir, `${name.replace(/\W/g, '_')}.txt`);
  await run(process.execPath, ['--import', join(REPO, 'scripts/record-module-loads.mjs'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, SLUICE_RECORD_LOADS: out },
  });
  const lines = new Set(readFileSync(out, 'utf8').split('\n').filter(Boolean));
  const packages = new Set<string>();
  for (const line of lines) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m?.[1]) packages.add(m[1]);
  }
  return { watched: WATCHED.filter((p) => packages.has(p)), modules: [...lines].filter((l) => !l.startsWith('node:')).length };
}

export async function benchImport(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('import bench: dist/ is missing; run `npm run build` (npm run bench does)');
  const runs = Number(process.env.BENCH_IMPORT_RUNS ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-import-bench-'));
  try {
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) bare.push((await timeOnce(undefined)).wallMs);
    console.log(`bare node -e "": wall ${median(bare).toFixed(0)} ms (median of ${runs})`);
    console.log('entry              import ms  wall ms  modules  heavy packages loaded');
    for (const entry of ENTRIES) {
      const imports: number[] = [];
      const walls: number[] = [];
      // An older build (BENCH_IMPORT_ROOT) may not export every subpath.
      if (!(await timeOnce(entry).then(() => true, () => false))) {
        console.log(`${entry.padEnd(18)} (not exported by this build)`);
        continue;
      }
      for (let i = 0; i < runs; i++) {
        const t = await timeOnce(entry);
        imports.push(t.importMs);
        walls.push(t.wallMs);
      }
      const { watched, modules } = await loadedBy(entry, dir);
      console.log(
        `${entry.padEnd(18)} ${median(imports).toFixed(1).padStart(9)}  ${median(walls).toFixed(0).padStart(7)}  ${String(modules).padStart(7)}  ${watched.join(', ') || '(none)'}`,
      );
    }
    await benchCliStartToExit(runs, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `sluice --help` and a 1-item `sluice run` of the build, start to exit (see the module comment). */
async function benchCliStartToExit(runs: number, dir: string): Promise<void> {
  const main = join(ROOT, 'dist/cli/main.js');
  const secret = 'sk-import-bench-0123456789';
  const sim = await startSimulator({ seed: 1, keys: [{ name: 'k', secret, requestsPerMinute: 1_000_000 }], latency: { type: 'fixed', ms: 1 } });
  try {
    const input = join(dir, 'one.jsonl');
    writeFileSync(input, `${JSON.stringify({ id: 'a', payload: { model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } })}\n`);
    const env = { BENCH_IMPORT_KEY: secret };
    // A fresh state each time (--state, --output and --report in the scratch folder): every run ingests and runs the item.
    const runArgs = (i: number): string[] => {
      const at = (suffix: string): string => join(dir, `run-${i}${suffix}`);
      return [main, 'run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'BENCH_IMPORT_KEY', '--progress', 'off', '--state', at('.db'), '--output', at('.jsonl'), '--report', at('.html')];
    };
    const commands: { name: string; args: (i: number) => string[] }[] = [
      { name: 'sluice --help', args: () => [main, '--help'] },
      { name: 'sluice run (1 item)', args: runArgs },
    ];
    console.log('\nCLI start to exit   wall ms (median, range)  modules  heavy packages loaded');
    for (const c of commands) {
      const walls: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        await run(process.execPath, c.args(i), { cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
        walls.push(performance.now() - started);
      }
      const { watched, modules } = await loadedByArgs(c.name, c.args(runs), dir, env);
      const range = `${Math.min(...walls).toFixed(0)}-${Math.max(...walls).toFixed(0)}`;
      console.log(`${c.name.padEnd(19)} ${`${median(walls).toFixed(0)} (${range})`.padStart(22)}  ${String(modules).padStart(7)}  ${watched.join(', ') || '(none)'}`);
    }
  } finally {
    await sim.close();
  }
}
