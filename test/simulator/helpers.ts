import { request } from 'undici';
import type { Simulator } from '../../src/simulator/index.js';

/** An answer read in full. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** Sends a request to the simulator and reads the whole answer. */
export async function send(sim: Simulator, path: string, options: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const res = await request(`${sim.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** An OpenAI chat body. */
export const chat = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  ...extra,
});

/** Bearer auth header. */
export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/** Waits (in real event-loop turns, bounded) until `condition` holds; throws if it never does. */
export async function until(condition: () => boolean, maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('condition not met');
}
