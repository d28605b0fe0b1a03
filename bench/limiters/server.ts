/**
 * The limiter bench's server: a separate process (`node --import tsx bench/limiters/server.ts`) on
 * 127.0.0.1 that answers `POST /v1/chat/completions` with a static `chat.completion` after a fixed
 * latency, behind one limiter from a package the project did not write (see gates.ts), keyed per
 * `Authorization: Bearer <key>`.
 *
 * Configuration: JSON {@link ServerConfig} in the environment variable SLUICE_LIMITER_SERVER.
 * On start it prints one line `{"port": n}` on stdout. `GET /__stats` answers the counts per key.
 * It stops on SIGTERM, or by itself when its parent goes away (stdin closes), so it never outlives the bench.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import { gate } from './gates.js';
import { ALGORITHMS, HEADER_MODES, type ServerConfig } from './scenarios.js';

interface KeyStats {
  requests: number;
  succeeded: number;
  rateLimited: number;
  other: number;
}

/** What GET /__stats answers. */
export interface ServerStats {
  requests: number;
  succeeded: number;
  rateLimited: number;
  other: number;
  keys: KeyStats[];
}

function readConfig(): ServerConfig {
  const text = process.env.SLUICE_LIMITER_SERVER;
  if (!text) throw new Error('SLUICE_LIMITER_SERVER must hold the server configuration as JSON');
  const config = JSON.parse(text) as ServerConfig;
  if (!ALGORITHMS.includes(config.algorithm)) throw new RangeError(`SLUICE_LIMITER_SERVER.algorithm must be one of ${ALGORITHMS.join(', ')}, got ${String(config.algorithm)}`);
  if (!HEADER_MODES.includes(config.mode)) throw new RangeError(`SLUICE_LIMITER_SERVER.mode must be one of ${HEADER_MODES.join(', ')}, got ${String(config.mode)}`);
  if (!(Number.isInteger(config.rate) && config.rate >= 1)) throw new RangeError(`SLUICE_LIMITER_SERVER.rate must be an integer >= 1, got ${String(config.rate)}`);
  if (!(Number.isInteger(config.windowSeconds) && config.windowSeconds >= 1)) throw new RangeError(`SLUICE_LIMITER_SERVER.windowSeconds must be an integer >= 1, got ${String(config.windowSeconds)}`);
  if (!(Array.isArray(config.secrets) && config.secrets.length >= 1)) throw new RangeError('SLUICE_LIMITER_SERVER.secrets must be a non-empty array');
  if (!(Number.isFinite(config.latencyMs) && config.latencyMs >= 0)) throw new RangeError(`SLUICE_LIMITER_SERVER.latencyMs must be >= 0, got ${String(config.latencyMs)}`);
  return config;
}

/** A `chat.completion` as OpenAI's API reference shows it, with usage. */
function completion(model: unknown, n: number): Record<string, unknown> {
  return {
    id: `chatcmpl-bench${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof model === 'string' ? model : 'gpt-4o-mini',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'A one-line summary.', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: {
      prompt_tokens: 14,
      completion_tokens: 5,
      total_tokens: 19,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_bench',
  };
}

function main(): void {
  const config = readConfig();
  const keys: KeyStats[] = config.secrets.map(() => ({ requests: 0, succeeded: 0, rateLimited: 0, other: 0 }));
  const keyIndex = new Map(config.secrets.map((s, i) => [s, i]));
  let served = 0;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/__stats', (_req, res) => {
    const sum = (f: keyof KeyStats): number => keys.reduce((s, k) => s + k[f], 0);
    const stats: ServerStats = { requests: sum('requests'), succeeded: sum('succeeded'), rateLimited: sum('rateLimited'), other: sum('other'), keys };
    res.json(stats);
  });
  // Authentication first, as an API does: an unknown key is 401 and never reaches the limiter.
  app.post('/v1/chat/completions', (req: Request, res: Response, next: NextFunction) => {
    const auth = req.headers.authorization ?? '';
    const index = keyIndex.get(auth.startsWith('Bearer ') ? auth.slice(7) : '');
    if (index === undefined) {
      res.status(401).json({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      return;
    }
    const stats = keys[index]!;
    stats.requests++;
    res.once('finish', () => {
      if (res.statusCode === 200) stats.succeeded++;
      else if (res.statusCode === 429) stats.rateLimited++;
      else stats.other++;
    });
    res.locals.keyIndex = index;
    next();
  });
  app.post('/v1/chat/completions', gate(config.algorithm, config.rate, config.windowSeconds, config.mode));
  app.post('/v1/chat/completions', express.json({ limit: '1mb' }), (req: Request, res: Response) => {
    const body = completion((req.body as { model?: unknown } | undefined)?.model, ++served);
    const send = (): void => void res.json(body);
    if (config.latencyMs > 0) setTimeout(send, config.latencyMs);
    else send();
  });

  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
  });
  server.keepAliveTimeout = 30_000;
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once('SIGTERM', stop);
  process.stdin.resume();
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
}

main();
