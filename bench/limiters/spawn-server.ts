/** Starts the limiter server (server.ts) in its own process and reads its counts. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from './scenarios.js';
import type { ServerStats } from './server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER = join(HERE, 'server.ts');
/** `--import tsx` resolves from the working directory: the repository's root, wherever the bench is started from. */
const ROOT = join(HERE, '..', '..');
const START_TIMEOUT_MS = 20_000;

export interface LimiterServer {
  /** The `/v1` root, e.g. `http://127.0.0.1:40123/v1`. */
  readonly baseUrl: string;
  stats(): Promise<ServerStats>;
  /** Stops the process (SIGTERM, then SIGKILL after 2 s). */
  close(): Promise<void>;
}

export async function startLimiterServer(config: ServerConfig): Promise<LimiterServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, SLUICE_LIMITER_SERVER: JSON.stringify(config) },
    // stdin stays open: the server ends by itself when this process goes away.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const port = await readPort(child);
  const origin = `http://127.0.0.1:${port}`;
  return {
    baseUrl: `${origin}/v1`,
    async stats() {
      const res = await fetch(`${origin}/__stats`, { signal: AbortSignal.timeout(5000) });
      return (await res.json()) as ServerStats;
    },
    close: () => stop(child),
  };
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`limiter server did not start within ${START_TIMEOUT_MS} ms: ${err.trim()}`)), START_TIMEOUT_MS);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => fail(new Error(`limiter server exited (${code}) before listening: ${err.trim()}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
