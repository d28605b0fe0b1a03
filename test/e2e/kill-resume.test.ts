/**
 * End to end: the CLI (`node --import tsx src/cli/main.ts run ...`: runBatch + createSluice + the
 * OpenAI-compatible adapter + SQLite) against the simulator over real HTTP, killed with SIGKILL at
 * several moments of its run and started again each time. At the end every item has exactly one line in the output, none is
 * missing, and the simulator saw no more successful calls than items plus the calls in flight at kills.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../../src/simulator/server.js';
import type { Simulator } from '../../src/simulator/server.js';
import { DEFAULT_WINDOW } from '../../src/batch/runner.js';

const ITEMS = 300;
const KILLS = 4;
/**
 * Items one process holds at once (the runBatch window the CLI uses): a kill can lose at most these
 * (called, or answered but not yet committed), so at most these run again per kill.
 */
const WINDOW = DEFAULT_WINDOW;
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let dir: string;
let sim: Simulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  sim = await startSimulator({
    seed: 5,
    keys: [
      { name: 'a', secret: 'sk-e2e-a' },
      { name: 'b', secret: 'sk-e2e-b' },
    ],
    latency: { type: 'uniform', min: 2, max: 15 },
    faults: { probabilities: { '503': 0.03 } },
  });
});

afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts `sluice run`; `killAtRequests` (if given) SIGKILLs it once the simulator has seen that many requests. */
function runWorker(args: string[], killAtRequests?: number): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', ...args], {
    env: { ...process.env, E2E_KEY_A: 'sk-e2e-a', E2E_KEY_B: 'sk-e2e-b' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let poll: NodeJS.Timeout | undefined;
  if (killAtRequests !== undefined) {
    poll = setInterval(() => {
      if (sim.stats({ log: false }).requests >= killAtRequests) child.kill('SIGKILL');
    }, 2);
  }
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

describe('kill -9 at random moments, then resume', () => {
  it('ends with exactly one result per item and none missing', async () => {
    const input = join(dir, 'prompts.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= ITEMS; i++) {
      lines.push(JSON.stringify({ id: `p${i}`, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `prompt ${i}` }], max_tokens: 16 }));
    }
    writeFileSync(input, lines.join('\n') + '\n');
    const output = join(dir, 'results.jsonl');
    // Attempts persist across restarts, so the budget covers the reruns of kills as well as injected 503s.
    const args = [
      input,
      ...['--provider', 'openai-compatible', '--base-url', `${sim.url}/v1`, '--keys-env', 'E2E_KEY_A,E2E_KEY_B'],
      ...['--state', join(dir, 'state.db'), '--output', output, '--attempts', '20', '--concurrency', '8'],
    ];
    // Kill points spread over the run, at random offsets (logged so a failure can be replayed).
    const seed = Math.floor(Math.random() * 1000);
    const killed: number[] = [];
    let previous = 0;
    for (let k = 1; k <= KILLS; k++) {
      const target = previous + 20 + ((seed * 7919 * k) % 50);
      const exit = await runWorker(args, target);
      previous = sim.stats({ log: false }).requests;
      if (exit.signal === 'SIGKILL') killed.push(target);
      else {
        // The run finished before the kill point: nothing more to kill.
        expect(exit.code, exit.stderr).toBe(0);
        break;
      }
    }
    // The kill points come early enough that the worker is always killed mid-run.
    expect(killed.length, `kills at ${killed.join(',')}`).toBe(KILLS);
    const last = await runWorker(args);
    expect(last.code, `kills at ${killed.join(',')} (seed ${seed}): ${last.stderr}`).toBe(0);

    const results = readFileSync(output, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { id: string; status: string });
    const ids = results.map((r) => r.id);
    expect(ids).toHaveLength(ITEMS);
    expect(new Set(ids).size).toBe(ITEMS);
    for (let i = 1; i <= ITEMS; i++) expect(ids).toContain(`p${i}`);
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);

    const stats = sim.stats({ log: false });
    const successes = Object.values(stats.keys).reduce((n, k) => n + k.successes, 0);
    expect(successes).toBeGreaterThanOrEqual(ITEMS);
    // Only items in the window at a kill can have been answered and then run again.
    expect(successes).toBeLessThanOrEqual(ITEMS + killed.length * WINDOW);
  }, 180_000); // five spawned CLI runs: under a full parallel `npm test` on two cores this takes minutes
});
