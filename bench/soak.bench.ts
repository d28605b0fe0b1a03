/**
 * Kill -9 soak (`BENCH=soak npm run bench`): the built CLI (`dist/cli/main.js run`) against the
 * simulator with faults (503, 500, connection resets, slow bodies) over loopback, SIGKILLed at random
 * moments — during ingestion, mid-run, while results are written — and started again each time, then
 * run to the end. It checks, and prints:
 * - exactly one well-formed line per item in the results file (0 lost, 0 duplicated, 0 corrupt);
 * - `sluice status --json` agrees with the file (total, succeeded, failed, written);
 * - how many requests the kills cost (calls answered but not committed before a kill run again).
 *
 * Bounded: SOAK_KILLS kills (default 20) over SOAK_ITEMS items (default 5,000), each run capped at 60 s;
 * it stops by itself. SOAK_SEED fixes the random kill points (printed, to replay a failure).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../src/simulator/index.js';
import { mulberry32 } from '../src/simulator/random.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUN_CAP_MS = 60_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI; `kill` decides (polled every 2 ms) when to SIGKILL it. */
function runCli(args: string[], env: NodeJS.ProcessEnv, kill?: (elapsedMs: number) => boolean): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const started = performance.now();
  const poll = setInterval(() => {
    const elapsed = performance.now() - started;
    if (elapsed > RUN_CAP_MS || kill?.(elapsed)) child.kill('SIGKILL');
  }, 2);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

export async function benchSoak(): Promise<void> {
  const items = Number(process.env.SOAK_ITEMS ?? 5000);
  const kills = Number(process.env.SOAK_KILLS ?? 20);
  const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 1e6));
  // Seeded, so the kill points of a run can be replayed (SOAK_SEED).
  const rnd = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-soak-'));
  const secrets = ['sk-soak-a-1111', 'sk-soak-b-2222', 'sk-soak-c-3333'];
  const sim = await startSimulator({
    seed: seed % 1000,
    keys: secrets.map((secret, i) => ({ name: `k${i}`, secret, requestsPerMinute: 600_000 })),
    latency: { type: 'uniform', min: 1, max: 8 },
    faults: { probabilities: { '503': 0.02, '500': 0.01, reset: 0.005, slow: 0.005 } },
  });
  try {
    const input = join(dir, 'prompts.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= items; i++) {
      lines.push(JSON.stringify({ id: `p${i}`, messages: [{ role: 'user', content: `prompt ${i}` }], max_tokens: 8 }));
    }
    writeFileSync(input, lines.join('\n') + '\n');
    const env = { SOAK_A: secrets[0], SOAK_B: secrets[1], SOAK_C: secrets[2] };
    const args = [
      'run', input,
      '--base-url', `${sim.url}/v1`, '--model', 'gpt-4o-mini', '--keys-env', 'SOAK_A,SOAK_B,SOAK_C',
      '--attempts', '50', '--concurrency', '16', '--max-concurrency', '32', '--progress', 'off', '--grace-period', '0', '--no-probe',
    ];
    const started = performance.now();
    let killed = 0;
    let finishedEarly = false;
    const killPoints: string[] = [];
    for (let k = 0; k < kills; k++) {
      const before = sim.stats({ log: false }).requests;
      // One kill in four at a random time from the start (ingestion, resume, first requests); the others
      // after a random number of requests (mid-run, while results are being written).
      const byTime = rnd() < 0.25;
      const atMs = 50 + rnd() * 1500;
      const atRequests = 40 + Math.floor(rnd() * 180);
      const exit = await runCli(args, env, (elapsed) => (byTime ? elapsed >= atMs : sim.stats({ log: false }).requests - before >= atRequests));
      if (exit.signal === 'SIGKILL') {
        killed++;
        killPoints.push(byTime ? `${Math.round(atMs)}ms` : `+${atRequests}req`);
      } else {
        if (exit.code !== 0) throw new Error(`soak: run ended with ${exit.code} before the kills were done: ${exit.stderr}`);
        finishedEarly = true;
        break;
      }
    }
    const last = await runCli(args, env);
    const elapsedS = (performance.now() - started) / 1000;
    if (last.code !== 0) throw new Error(`soak: the final run exited ${last.code} (seed ${seed}, kills ${killPoints.join(' ')}): ${last.stderr}`);

    // Exactly once: every line parses, one per id, every id present.
    const text = readFileSync(`${input}.results.jsonl`, 'utf8');
    const rows = text.split('\n').filter((l) => l !== '');
    let corrupt = 0;
    const counts = new Map<string, number>();
    let succeeded = 0;
    let failed = 0;
    for (const row of rows) {
      try {
        const r = JSON.parse(row) as { id: string; status: string };
        counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
        if (r.status === 'succeeded') succeeded++;
        else if (r.status === 'failed') failed++;
      } catch {
        corrupt++;
      }
    }
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    let lost = 0;
    for (let i = 1; i <= items; i++) if (!counts.has(`p${i}`)) lost++;
    // `status` reads the state: it must describe the same file.
    const status = spawnSync(process.execPath, [CLI, 'status', input, '--json'], { encoding: 'utf8' });
    const st = JSON.parse(status.stdout) as { total: number; written: number; byState: Record<string, number> };
    const statusMatches =
      st.total === items && st.written === rows.length && st.byState.succeeded === succeeded && (st.byState.failed ?? 0) === failed && st.byState.pending === 0;
    const stats = sim.stats({ log: false });
    const successes = Object.values(stats.keys).reduce((n, k) => n + k.successes, 0);
    console.log(`items ${items}, kills ${killed}${finishedEarly ? ' (the run finished before the last kill point)' : ''}, seed ${seed}, ${elapsedS.toFixed(1)} s in all`);
    console.log(`kill points: ${killPoints.join(' ')}`);
    console.log(`results: ${rows.length} lines, ${succeeded} succeeded, ${failed} failed; lost ${lost}, duplicated ${duplicated}, corrupt ${corrupt}`);
    console.log(`status --json: total ${st.total}, written ${st.written}, succeeded ${st.byState.succeeded}, failed ${st.byState.failed ?? 0} -> ${statusMatches ? 'matches the file' : 'DOES NOT MATCH the file'}`);
    console.log(`simulator: ${stats.requests} requests, ${successes} successes (${successes - succeeded} answered calls re-run after kills, ${(((successes - succeeded) / Math.max(1, killed))).toFixed(1)} per kill)`);
    if (lost > 0 || duplicated > 0 || corrupt > 0 || !statusMatches || rows.length !== items) {
      throw new Error(`soak FAILED (seed ${seed}): lost ${lost}, duplicated ${duplicated}, corrupt ${corrupt}, status matches ${statusMatches}`);
    }
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
