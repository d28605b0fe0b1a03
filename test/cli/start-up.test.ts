/**
 * What the CLI loads (docs/PERFORMANCE.md, "CLI fixed cost"): every command is built at start-up, so a
 * static import in one command is paid by all. A `sluice run` of a JSONL file without --log-file loads
 * neither the simulator nor pino, csv-parse or csv-stringify; `sluice --help` loads neither the executor
 * nor the report's page. Each CLI runs in a fresh process from the sources whose loader hook
 * (scripts/record-module-loads.mjs) writes down every module it resolves.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const SECRET = 'sk-start-up-secret-0123456789';
let sim: Simulator;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-start-up-'));
  sim = await startSimulator({ seed: 5, keys: [{ name: 'k', secret: SECRET, requestsPerMinute: 6000 }], latency: { type: 'fixed', ms: 1 } });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `sluice <args>` from src/ and returns the modules it loaded: npm package names and paths under src/. */
async function loadedBy(name: string, args: string[]): Promise<{ packages: Set<string>; sources: string[] }> {
  const out = join(dir, `${name}.txt`);
  await run(process.execPath, ['--import', './scripts/record-module-loads.mjs', '--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, SLUICE_RECORD_LOADS: out, START_UP_KEY: SECRET },
  });
  const packages = new Set<string>();
  const sources: string[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m?.[1]) packages.add(m[1]);
    const s = /\/src\/(.+)$/.exec(line);
    if (s?.[1] && !line.includes('/node_modules/')) sources.push(s[1]);
  }
  return { packages, sources };
}

describe('CLI start-up', () => {
  it('sluice run of a JSONL file loads neither the simulator nor pino, csv-parse, csv-stringify (and still runs it)', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, `${JSON.stringify({ id: 'a', payload: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } })}\n`);
    const output = join(dir, 'out.jsonl');
    const { packages, sources } = await loadedBy('run', ['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'START_UP_KEY', '--output', output, '--progress', 'off']);
    expect(readFileSync(output, 'utf8')).toContain('"status":"succeeded"');
    expect(existsSync(join(dir, 'out.report.html'))).toBe(true);
    for (const name of ['pino', 'csv-parse', 'csv-stringify', 'ioredis', 'bullmq']) expect(packages, name).not.toContain(name);
    expect(sources.filter((s) => s.startsWith('simulator/'))).toEqual([]);
    // The control: the recorder sees what the run does load.
    for (const name of ['better-sqlite3', 'undici', 'commander']) expect(packages, name).toContain(name);
    expect(sources).toContain('scheduler/executor.ts');
  });

  it('sluice --help loads neither the executor nor the report page', async () => {
    const { sources } = await loadedBy('help', ['--help']);
    expect(sources).toContain('cli/program.ts');
    for (const s of ['cli/session.ts', 'scheduler/executor.ts', 'observe/report/page.ts', 'observe/report/report-data.ts', 'simulator/index.ts']) {
      expect(sources, s).not.toContain(s);
    }
  });
});
