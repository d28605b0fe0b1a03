/** `--id-column` and `sluice export --format csv` through the CLI (in process, against the simulator over loopback). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { runInProcess } from './helpers.js';

const SECRET = 'sk-idcolumn-secret-0123456789';
let sim: Simulator;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-idcol-'));
  sim = await startSimulator({ seed: 2, keys: [{ name: 'k', secret: SECRET, requestsPerMinute: 6000 }], latency: { type: 'fixed', ms: 1 } });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice run --id-column, sluice export --format csv', () => {
  it('joins the exported CSV to the input by the named column; a missing column exits 5; another column on resume needs --force', async () => {
    const input = join(dir, 'people.csv');
    writeFileSync(input, 'name,person\n"Lovelace, Ada",p-9\nBob,p-2\nCy,p-5\n');
    const env = { KEY: SECRET, SLUICE_PROGRESS: 'off' };
    const base = ['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY', '--model', 'gpt-4o-mini', '--template', 'Bio of {{name}}'];

    const missing = await runInProcess([...base, '--id-column', 'pid'], env, dir);
    expect(missing.code).toBe(ExitCode.badInput);
    expect(missing.stderr).toContain(`input file ${input} line 1: no column "pid" (--id-column) in the header (columns: "name", "person")`);
    expect(existsSync(`${input}.sluice.db`)).toBe(false);

    const ok = await runInProcess([...base, '--id-column', 'person'], env, dir);
    expect(ok.code, ok.stderr).toBe(ExitCode.ok);
    const exported = await runInProcess(['export', input, '--format', 'csv'], env, dir);
    expect(exported.code, exported.stderr).toBe(ExitCode.ok);
    const rows = parse(readFileSync(`${input}.export.csv`, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r['person'], r['status']])).toEqual([['p-9', 'succeeded'], ['p-2', 'succeeded'], ['p-5', 'succeeded']]);
    expect(rows[0]!['text']).toContain('Lovelace, Ada');
    const results = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; input: unknown; text: string });
    expect(results[0]).toMatchObject({ id: 'p-9', input: { name: 'Lovelace, Ada', person: 'p-9' } });
    expect(results[0]!.text).toContain('Lovelace, Ada');

    const changed = await runInProcess([...base, '--id-column', 'name'], env, dir);
    expect(changed.code).toBe(ExitCode.badConfig);
    expect(changed.stderr).toContain('idColumn was "person", now "name"');
  });
});
