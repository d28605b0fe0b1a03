/**
 * Simulator throughput: simple chat completions over loopback keep-alive connections, client and
 * server in this one process (so the figure is a lower bound of what the server alone sustains).
 * Target: >= 5,000 requests/s on 2 cores. Prints figures, asserts nothing.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { startSimulator, type SimulatorOptions } from '../src/simulator/index.js';

/** Figures of one scenario. */
export interface SimulatorBenchResult {
  scenario: string;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  statuses: Record<string, number>;
}

/** A target under test: its URL, a count of what it served, a reset and a close. */
interface Target {
  url: string;
  served(): number;
  reset(): void;
  close(): Promise<void>;
}

/** The smallest possible node:http server answering a constant JSON body: the ceiling on this machine right now. */
async function bareServer(): Promise<Target> {
  let served = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      served++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    reset: () => (served = 0),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function simulatorTarget(options: SimulatorOptions): Promise<Target> {
  const sim = await startSimulator(options);
  return { url: sim.url, served: () => sim.stats({ log: false }).requests, reset: () => sim.resetStats(), close: () => sim.close() };
}

async function runScenario(scenario: string, sim: Target, total: number, concurrency: number): Promise<SimulatorBenchResult> {
  const pool = new Pool(sim.url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say hello to the simulator.' }] });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    }
  };
  // Warm up connections and the JIT on a tenth of the count, then measure.
  const measured = total;
  total = Math.ceil(measured / 10);
  await Promise.all(Array.from({ length: concurrency }, worker));
  next = 0;
  total = measured;
  for (const k of Object.keys(statuses)) delete statuses[k];
  sim.reset();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const served = sim.served();
  await pool.close();
  await sim.close();
  return { scenario, requests: served, seconds, requestsPerSecond: served / seconds, statuses };
}

/**
 * The same closed loop in a worker thread, so the server has the main thread to itself (a second core
 * when the machine has one free). Plain CommonJS evaluated in the worker: no TypeScript loader needed.
 */
const WORKER_LOOP = `
const { Pool } = require('undici');
const { parentPort, workerData } = require('node:worker_threads');
const { url, total, concurrency, body, headers } = workerData;
const pool = new Pool(url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30000 });
const statuses = {};
let next = 0;
let limit = Math.ceil(total / 10);
async function worker() {
  while (next < limit) {
    next++;
    const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
    await res.body.dump();
    statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
  }
}
(async () => {
  await Promise.all(Array.from({ length: concurrency }, worker));
  parentPort.postMessage({ warm: true });
  await new Promise((resolve) => parentPort.once('message', resolve));
  next = 0; limit = total; for (const k of Object.keys(statuses)) delete statuses[k];
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  parentPort.postMessage({ seconds, statuses });
})();
`;

async function runInWorker(scenario: string, sim: Target, total: number, concurrency: number): Promise<SimulatorBenchResult> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say hello to the simulator.' }] });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const worker = new Worker(WORKER_LOOP, { eval: true, workerData: { url: sim.url, total, concurrency, body, headers } });
  try {
    const result = await new Promise<{ seconds: number; statuses: Record<string, number> }>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (m: { warm?: boolean; seconds?: number; statuses?: Record<string, number> }) => {
        if (m.warm) {
          sim.reset();
          worker.postMessage('go');
        } else resolve({ seconds: m.seconds ?? NaN, statuses: m.statuses ?? {} });
      });
    });
    const served = sim.served();
    return { scenario, requests: served, seconds: result.seconds, requestsPerSecond: served / result.seconds, statuses: result.statuses };
  } finally {
    await worker.terminate();
    await sim.close();
  }
}

/** Runs the simulator throughput scenarios and prints requests per second. */
export async function benchSimulator(): Promise<SimulatorBenchResult[]> {
  const total = Number(process.env.SIM_BENCH_REQUESTS ?? 20_000);
  const results = [
    await runScenario('baseline: bare node:http, constant body', await bareServer(), total, 32),
    await runScenario('open keys, no limits', await simulatorTarget({}), total, 32),
    await runScenario(
      'known key, RPM/TPM limits + headers, 1% faults',
      await simulatorTarget({
        keys: [{ name: 'bench', secret: 'sk-bench', requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000 }],
        faults: { probabilities: { '500': 0.005, '503': 0.005 } },
      }),
      total,
      32,
    ),
    await runInWorker('open keys, client in a worker thread', await simulatorTarget({}), total, 32),
  ];
  for (const r of results) {
    console.log(
      `simulator ${r.scenario}: ${r.requests} requests in ${r.seconds.toFixed(2)} s = ${Math.round(r.requestsPerSecond)} req/s (statuses ${JSON.stringify(r.statuses)})`,
    );
  }
  return results;
}

// Direct run: `npx tsx bench/simulator.bench.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  await benchSimulator();
}
