/**
 * Documentation that cannot drift: every code block of README.md and docs/*.md is run.
 *
 * - `ts` blocks: each is written to a module of its own, all are type-checked with the project's
 *   tsconfig (so `import … from 'sluice'` is the package, mapped to the sources), then each is run with
 *   tsx against a simulator started here. The environment points the SDKs at it: `OPENAI_BASE_URL`,
 *   `SLUICE_BASE_URL`, and simulator secrets in `OPENAI_API_KEY`, `OPENAI_KEY_A`, `OPENAI_KEY_B`.
 * - `sh` blocks: run by bash (`set -euo pipefail`) in a fresh folder per page holding `prompts.jsonl`,
 *   `keys.txt` and `run.log.jsonl`; `sluice` and `npx sluice` run the CLI from the sources. The docs' Redis
 *   at 127.0.0.1:6379 is replaced by a redis-server this test starts on its own port (the shared one is
 *   never touched). `<!-- doc-test: until "text" -->` marks a block that serves until stopped: it passes
 *   once its output shows the text, then gets SIGINT.
 * - `json` blocks parse; a config-file example is loaded by `sluice run --config … --dry-run`.
 * - `promql` blocks name only metrics that SluiceMetrics exposes.
 * - Plain blocks (sample output, folder trees) are text, not code.
 * - `<!-- not-run: reason -->` above a block skips it, and the reason is required.
 * Links of every page must stay inside the repository and name files that exist.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPTIONS } from '../../src/cli/options.js';
import { LOG_LINE_FIELDS, RETRY_LOG_EVENTS, RUN_LOG_EVENTS } from '../../src/observe/log-events.js';
import { SluiceMetrics } from '../../src/observe/metrics.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { codeBlocks, docPages, links, type CodeBlock } from './code-blocks.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
/** tsx by path: the shell blocks run in folders outside the repository. */
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const TS_LANGS = new Set(['ts', 'typescript']);
const SH_LANGS = new Set(['sh', 'bash', 'shell']);
const KNOWN_LANGS = new Set(['', ...TS_LANGS, ...SH_LANGS, 'json', 'promql']);
/** Generous: the machine is shared and tsx compiles on first use. */
const BLOCK_TIMEOUT_MS = 180_000;

const blocks: CodeBlock[] = docPages(ROOT).flatMap((page) => codeBlocks(ROOT, page));
const name = (b: CodeBlock): string => `${b.page}:${b.line}`;
const runnable = (langs: Set<string>): CodeBlock[] => blocks.filter((b) => langs.has(b.lang) && b.notRun === undefined);

let sim: Simulator;
let snippetDir: string;
let work: string;
let redis: ChildProcess | undefined;
let redisPort = 0;
let typeErrors = '';

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OPENAI_BASE_URL: `${sim.url}/v1`,
    SLUICE_BASE_URL: `${sim.url}/v1`,
    OPENAI_API_KEY: 'sim-doc-key-0',
    OPENAI_KEY_A: 'sim-doc-key-a',
    OPENAI_KEY_B: 'sim-doc-key-b',
    // As exported by the README's quick start, which later blocks follow.
    OPENAI_KEY_1: 'sim-doc-key-1',
    OPENAI_KEY_2: 'sim-doc-key-2',
    SLUICE_PROGRESS: 'off',
    ...extra,
  };
}

/** Runs a process to its end; resolves with its code and output. */
function run(cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; until?: string }): Promise<{ code: number | null; out: string; sawUntil: boolean }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let sawUntil = false;
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), BLOCK_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (options.until && !sawUntil && out.includes(options.until)) {
        sawUntil = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, sawUntil });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise<number>((done) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => done(port));
        });
      }),
  );
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 3 });
  // Snippets live inside the repository so that tsconfig's `paths` map `sluice` to the sources.
  // Folders left by an interrupted run of this test (their process is gone) are removed first.
  for (const old of readdirSync(join(ROOT, 'test', 'docs')).filter((f) => /^\.snippets-\d+$/.test(f))) {
    if (!isAlive(Number(old.slice('.snippets-'.length)))) rmSync(join(ROOT, 'test', 'docs', old), { recursive: true, force: true });
  }
  snippetDir = join(ROOT, 'test', 'docs', `.snippets-${process.pid}`);
  mkdirSync(snippetDir, { recursive: true });
  for (const b of runnable(TS_LANGS)) writeFileSync(join(snippetDir, `${b.page.replace(/\W/g, '_')}_${b.line}.ts`), `${b.code}\nexport {};\n`);
  writeFileSync(join(snippetDir, 'tsconfig.json'), JSON.stringify({ extends: '../../../tsconfig.json', include: ['./*.ts'] }));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(snippetDir, 'tsconfig.json'), '--noEmit'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: BLOCK_TIMEOUT_MS,
  });
  typeErrors = `${tsc.stdout}${tsc.stderr}`;
  work = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
  redisPort = await freePort();
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // A log of a real run, for the pages' jq queries.
  const fixture = join(work, 'fixture');
  mkdirSync(fixture);
  writePrompts(fixture);
  const logRun = await run(process.execPath, ['--import', TSX, MAIN, 'run', 'prompts.jsonl', '--keys-env', 'OPENAI_KEY_A', '--log-file', 'run.log.jsonl', '--log-level', 'debug'], {
    cwd: fixture,
    env: env(),
  });
  if (logRun.code !== 0) throw new Error(`fixture run failed: ${logRun.out}`);
}, BLOCK_TIMEOUT_MS);

afterAll(async () => {
  rmSync(snippetDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  redis?.kill('SIGTERM');
  await sim?.close();
});

function writePrompts(dir: string): void {
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `p${i + 1}`, model: 'gpt-4o-mini', prompt: `Write one line about the number ${i + 1}.` }));
  writeFileSync(join(dir, 'prompts.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'keys.txt'), 'doc-key-1=sim-doc-key-1\ndoc-key-2=sim-doc-key-2\n');
}

/** The folder a page's shell blocks share (in page order, so `status` sees the run before it). */
function pageDir(page: string): string {
  const dir = join(work, page.replace(/\W/g, '_'));
  if (!existsSync(dir)) {
    mkdirSync(dir);
    writePrompts(dir);
    spawnSync('cp', [join(work, 'fixture', 'run.log.jsonl'), dir]);
  }
  return dir;
}

describe('docs', () => {
  it('every code block has a known language, and every skipped block says why', () => {
    expect(blocks.length).toBeGreaterThan(20);
    for (const b of blocks) {
      expect(KNOWN_LANGS.has(b.lang), `${name(b)}: unknown language "${b.lang}"`).toBe(true);
      if (b.notRun !== undefined) expect(b.notRun.length, `${name(b)}: not-run needs a reason`).toBeGreaterThan(10);
    }
  });

  it('links stay inside the repository and name files that exist', () => {
    for (const page of docPages(ROOT)) {
      for (const { line, target } of links(ROOT, page)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const file = resolve(ROOT, dirname(page), target.split('#')[0]!);
        expect(file.startsWith(`${ROOT}/`), `${page}:${line}: ${target} points outside the repository`).toBe(true);
        expect(existsSync(file), `${page}:${line}: ${target} does not exist`).toBe(true);
      }
    }
  });

  it('TypeScript blocks type-check as modules importing sluice', () => {
    expect(typeErrors).toBe('');
  });

  it.each(runnable(TS_LANGS).map((b) => [name(b), b] as const))('%s runs against the simulator', async (_n, b) => {
    const file = join(snippetDir, `${b.page.replace(/\W/g, '_')}_${b.line}.ts`);
    const r = await run(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env: env() });
    expect(r.code, r.out).toBe(0);
  });

  it.each(runnable(SH_LANGS).map((b) => [name(b), b] as const))('%s runs in a shell', async (_n, b) => {
    const prelude = [
      'set -euo pipefail',
      `sluice() { node --import ${TSX} ${JSON.stringify(MAIN)} "$@"; }`,
      'npx() { if [ "${1:-}" = sluice ]; then shift; sluice "$@"; else command npx "$@"; fi; }',
    ].join('\n');
    const code = b.code.replaceAll('127.0.0.1:6379', `127.0.0.1:${redisPort}`);
    // Each block starts from an empty Redis of its own (this test's server, never the shared one).
    if (code !== b.code) spawnSync('redis-cli', ['-p', String(redisPort), 'flushall']);
    const r = await run('bash', ['-c', `${prelude}\n${code}`], { cwd: pageDir(b.page), env: env(), ...(b.until ? { until: b.until } : {}) });
    if (b.until) expect(r.sawUntil, r.out).toBe(true);
    else expect(r.code, r.out).toBe(0);
  });

  it.each(runnable(new Set(['json'])).map((b) => [name(b), b] as const))('%s is valid JSON (and a valid config file)', async (_n, b) => {
    const value = JSON.parse(b.code) as unknown;
    const isConfig = typeof value === 'object' && value !== null && Object.keys(value).every((k) => k in OPTIONS);
    if (!isConfig) return;
    const dir = pageDir(b.page);
    const config = join(dir, `config-${b.line}.json`);
    writeFileSync(config, b.code);
    const r = await run(process.execPath, ['--import', TSX, MAIN, 'run', 'prompts.jsonl', '--config', config, '--dry-run'], { cwd: dir, env: env() });
    expect(r.code, r.out).toBe(0);
  });

  it.each(runnable(new Set(['promql'])).map((b) => [name(b), b] as const))('%s names only metrics that exist', async (_n, b) => {
    const text = await new SluiceMetrics().text();
    const exposed = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)/gm)) {
      exposed.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(`${m[1]}${s}`);
    }
    const used = [...new Set(b.code.match(/\bsluice_[a-z_]+/g) ?? [])];
    expect(used.length).toBeGreaterThan(0);
    for (const metric of used) expect(exposed.has(metric), `${name(b)}: ${metric} is not exposed`).toBe(true);
  });

  it('the log event tables of docs/MONITORING.md are the code\'s lists', () => {
    const page = readFileSync(join(ROOT, 'docs', 'MONITORING.md'), 'utf8');
    const table = (header: string): Record<string, string[]> => {
      const start = page.indexOf(header);
      expect(start, header).toBeGreaterThan(-1);
      const rows: Record<string, string[]> = {};
      for (const line of page.slice(start).split('\n').slice(2)) {
        if (!line.startsWith('|')) break;
        const cells = line.split('|').map((c) => c.trim());
        const fields = cells[3]!.replace(/\([^)]*\)/g, '').split(',').map((f) => f.trim()).filter((f) => /^[A-Za-z_]+$/.test(f));
        rows[cells[1]!.replace(/`/g, '')] = fields;
      }
      return rows;
    };
    const asLists = (o: Record<string, readonly string[]>): Record<string, string[]> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v]]));
    expect(table('| event | level | fields | when |')).toEqual(asLists(RUN_LOG_EVENTS));
    expect(table('| event_type | level | fields |')).toEqual(asLists(RETRY_LOG_EVENTS));
  });

  it('a real run logs only listed events, each with only its listed fields', () => {
    const lines = readFileSync(join(work, 'fixture', 'run.log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const seen = new Set<string>();
    for (const line of lines) {
      const event = line.event as keyof typeof RUN_LOG_EVENTS;
      expect(Object.keys(RUN_LOG_EVENTS), JSON.stringify(line)).toContain(event);
      seen.add(event);
      const allowed = new Set<string>([...LOG_LINE_FIELDS, 'event', ...RUN_LOG_EVENTS[event]]);
      for (const field of Object.keys(line)) expect(allowed.has(field), `${event} has unlisted field ${field}`).toBe(true);
    }
    for (const e of ['run_start', 'attempt_start', 'run_end']) expect(seen).toContain(e);
  });

  it('the metrics table of docs/MONITORING.md lists exactly the metrics exposed', async () => {
    const page = readFileSync(join(ROOT, 'docs', 'MONITORING.md'), 'utf8');
    const documented = [...page.matchAll(/^\| `(sluice_[a-z_]+)` \|/gm)].map((m) => m[1]!).sort();
    const exposed = [...(await new SluiceMetrics().text()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!).sort();
    expect(documented).toEqual(exposed);
  });
});
