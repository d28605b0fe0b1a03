/** `sluice run` pays for its probe request once: the first item's run takes the probe's answer (in process, simulator over loopback). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { runInProcess } from './helpers.js';

const SECRET = 'sk-probe-answer-secret-0123456789';
let sim: Simulator;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-probe-'));
  sim = await startSimulator({ seed: 3, keys: [{ name: 'k', secret: SECRET, requestsPerMinute: 6000 }], latency: { type: 'fixed', ms: 1 } });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the probe request', () => {
  it('is the first item\'s answer: N items cost N requests, and every item has its result', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `p${i + 1}`, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i + 1}` }] })).join('\n') + '\n');
    const before = sim.stats({ log: false }).requests;
    const res = await runInProcess(['run', input, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY'], { KEY: SECRET, SLUICE_PROGRESS: 'off' }, dir);
    expect(res.code, res.stderr).toBe(0);
    expect(sim.stats({ log: false }).requests - before).toBe(12);
    const rows = readFileSync(`${input}.results.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string; text?: string });
    expect(rows.map((r) => r.id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i + 1}`).sort());
    expect(rows.every((r) => r.status === 'succeeded' && typeof r.text === 'string' && r.text.length > 0)).toBe(true);
    // With --no-probe there is no probe to reuse: still N requests.
    const again = join(dir, 'again.jsonl');
    writeFileSync(again, readFileSync(input, 'utf8'));
    const mid = sim.stats({ log: false }).requests;
    expect((await runInProcess(['run', again, '--base-url', `${sim.url}/v1`, '--keys-env', 'KEY', '--no-probe'], { KEY: SECRET, SLUICE_PROGRESS: 'off' }, dir)).code).toBe(0);
    expect(sim.stats({ log: false }).requests - mid).toBe(12);
  });
});
