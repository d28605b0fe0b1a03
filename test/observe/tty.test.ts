/**
 * The live display of a real `sluice run` in a real pseudo-terminal (tmux, a private server on its own
 * socket): at 60 and 160 columns no line is wider than the terminal (tmux's `capture-pane -J` joins
 * wrapped rows, so a line that wrapped shows as one too long); after resizing there is one block, not a
 * stale copy; after Ctrl-C the block is drawn once, then the message and the summary.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const SOCKET = `sluice-tty-test-${process.pid}`;
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

let sim: Simulator;
let dir: string;

/** tmux's own config: a screen cleared from the top is not pushed into the history (tmux 3.3's `scroll-on-clear`), so the history shows what the user saw scroll by. */
let tmuxConf = '';
const tmux = (...args: string[]): string => execFileSync('tmux', ['-u', '-L', SOCKET, '-f', tmuxConf, ...args], { encoding: 'utf8' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The pane's text with wrapped rows joined, trailing blanks dropped; with the history above it, or only
 * what is on screen (after a resize, a re-wrapping terminal pushes rows of the old block into the history,
 * which the user does not see as part of the display).
 */
function capture(session: string, history = true): string[] {
  return tmux('capture-pane', '-p', '-J', ...(history ? ['-S', '-'] : []), '-t', session)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l, i, all) => l !== '' || all.slice(i).some((x) => x.trim() !== ''));
}

async function waitFor(session: string, test: (lines: string[]) => boolean, history = true, ms = 120_000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const lines = capture(session, history);
    if (test(lines)) return lines;
    if (Date.now() > end) throw new Error(`timed out; pane:\n${lines.join('\n')}`);
    await sleep(200);
  }
}

/** Lines of the block's first row: one per drawn block that is still on screen. */
const blockHeads = (lines: string[]): string[] => lines.filter((l) => /^sluice (\[|\d)/.test(l));

beforeAll(async () => {
  // Slow enough to watch: 2 keys at 60 requests per 3 s window (40/s together), 600 items.
  sim = await startSimulator({ seed: 5, windowMs: 3000, limits: { requestsPerMinute: 60 }, latency: { type: 'fixed', ms: 50 } });
  dir = mkdtempSync(join(tmpdir(), 'sluice-tty-'));
  tmuxConf = join(dir, 'tmux.conf');
  writeFileSync(tmuxConf, 'set -g scroll-on-clear off\n');
  const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify({ id: `row-${i + 1}-with-a-long-identifier`, model: 'gpt-4o-mini', prompt: `line ${i}` }));
  writeFileSync(join(dir, 'in.jsonl'), `${lines.join('\n')}\n`);
});

afterAll(async () => {
  if (hasTmux) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

function startRun(session: string, columns: number, input: string): void {
  const env = `SK_1=sim-tty-1 SK_2=sim-tty-2 PATH=${JSON.stringify(process.env.PATH ?? '')} HOME=${JSON.stringify(process.env.HOME ?? '')}`;
  const run =
    `cd ${JSON.stringify(dir)} && env -i ${env} TERM=xterm-256color LANG=C.UTF-8 node --import ${TSX} ${JSON.stringify(MAIN)} run ${input} ` +
    `--base-url ${sim.url}/v1 --keys-env SK_1,SK_2 --state ${input}.${columns}.db --output ${input}.${columns}.results.jsonl --report ${input}.${columns}.html; echo "EXITED $?"; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', String(columns), '-y', '30', run);
}

describe.skipIf(!hasTmux)('live display in a pseudo-terminal', () => {
  it.each([60, 160])('fits %i columns: no line wider, one block, drawn once after Ctrl-C', async (columns) => {
    const session = `w${columns}`;
    startRun(session, columns, 'in.jsonl');
    const mid = await waitFor(session, (l) => l.some((x) => /^\s*rate [\d.]+\/s/.test(x)) && l.some((x) => /in flight \d+ of limit/.test(x)));
    await sleep(1500);
    const running = capture(session);
    for (const l of [...mid, ...running]) expect(l.length, `wider than ${columns}: ${l}`).toBeLessThanOrEqual(columns);
    expect(blockHeads(running), running.join('\n')).toHaveLength(1);
    expect(running.join('\n')).toMatch(/429s \d+/);
    // Resize: narrower and back. Still one block, still within the width.
    const other = columns === 60 ? 160 : 60;
    tmux('resize-window', '-t', session, '-x', String(other));
    await sleep(1200);
    const resized = capture(session, false);
    for (const l of resized) expect(l.length, `wider than ${other}: ${l}`).toBeLessThanOrEqual(other);
    expect(blockHeads(resized), resized.join('\n')).toHaveLength(1);
    tmux('resize-window', '-t', session, '-x', String(columns));
    await sleep(800);
    tmux('send-keys', '-t', session, 'C-c');
    const end = await waitFor(session, (l) => l.some((x) => x.startsWith('EXITED')), false);
    expect(blockHeads(end), end.join('\n')).toHaveLength(1);
    // The final block.
    const block = end.slice(end.findIndex((l) => blockHeads([l]).length === 1), end.findIndex((l) => l.startsWith('Interrupted')));
    expect(block.length).toBeGreaterThanOrEqual(5);
    for (const l of block) expect(l.length, `wider than ${columns}: ${l}`).toBeLessThanOrEqual(columns);
    expect(end.some((l) => l.startsWith('Interrupted')), end.join('\n')).toBe(true);
    // The summary below it is wrapped to the terminal too (the file paths after it are whole words).
    const summary = end.slice(end.findIndex((l) => l.startsWith('Interrupted')), end.findIndex((l) => l.startsWith('  output ')));
    expect(summary.length).toBeGreaterThanOrEqual(2);
    for (const l of summary) expect(l.length, `summary wider than ${columns}: ${l}`).toBeLessThanOrEqual(columns);
    expect(end.find((l) => l.startsWith('EXITED'))).toBe('EXITED 130');
    tmux('kill-session', '-t', session);
  });
});
