import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

/** Result of one CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `sluice <args>` from the sources (node --import tsx). `onStderr` sees output as it comes. */
export function spawnCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onStderr?: (text: string, child: ChildProcess) => void;
    onStdout?: (text: string, child: ChildProcess) => void;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI in this process (fast) with captured streams and the given environment. */
export async function runInProcess(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<CliRun> {
  const { runCli } = await import('../../src/cli/program.js');
  const { Writable } = await import('node:stream');
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): InstanceType<typeof Writable> =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const code = await runCli(['node', 'sluice', ...args], {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    env,
    cwd,
  });
  return { code, stdout, stderr };
}

/** The path of the CLI's entry point (for spawning it through a shell). */
export const CLI_MAIN = MAIN;
