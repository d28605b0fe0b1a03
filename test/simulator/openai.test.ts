import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  sim = await startSimulator(options);
  return sim;
}

async function post(s: Simulator, path: string, body: unknown, headers: Record<string, string> = { authorization: 'Bearer sk-a' }) {
  const res = await request(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: (): Record<string, unknown> => JSON.parse(text) as Record<string, unknown> };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

describe('simulator: OpenAI', () => {
  it('answers chat completions with usage counted from the request text', async () => {
    const s = await start({ keys: [{ name: 'a', secret: 'sk-a' }] });
    const res = await post(s, '/v1/chat/completions', chat('x'.repeat(40), { max_tokens: 100 }));
    expect(res.status).toBe(200);
    const body = res.json() as { object: string; choices: { message: { content: string } }[]; usage: Record<string, number> };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toContain('xxxx');
    expect(body.usage['prompt_tokens']).toBe(10);
    expect(body.usage['total_tokens']).toBe(body.usage['prompt_tokens']! + body.usage['completion_tokens']!);
  });

  it('answers responses, embeddings (float and base64) and images', async () => {
    const s = await start();
    const r = (await post(s, '/v1/responses', { model: 'gpt-4.1', input: 'hello there' })).json() as { output: { content: { text: string }[] }[]; usage: { input_tokens: number } };
    expect(r.output[0]!.content[0]!.text).toContain('hello there');
    expect(r.usage.input_tokens).toBe(3);
    const e = (await post(s, '/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] })).json() as { data: { embedding: number[] }[] };
    expect(e.data).toHaveLength(2);
    expect(e.data[0]!.embedding).toHaveLength(8);
    const b = (await post(s, '/v1/embeddings', { model: 'm', input: 'a', encoding_format: 'base64' })).json() as { data: { embedding: string }[] };
    expect(Buffer.from(b.data[0]!.embedding, 'base64').length).toBe(8 * 4);
    const i = (await post(s, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat' })).json() as { data: { b64_json: string }[] };
    expect(i.data[0]!.b64_json.length).toBeGreaterThan(10);
  });

  it('gives OpenAI 401 shapes for a missing or unknown key, and 400 shapes for bad bodies', async () => {
    const s = await start({ keys: [{ name: 'a', secret: 'sk-a' }] });
    const none = await post(s, '/v1/chat/completions', chat('hi'), {});
    expect(none.status).toBe(401);
    expect(none.json()).toMatchObject({ error: { type: 'invalid_request_error', code: null } });
    const bad = await post(s, '/v1/chat/completions', chat('hi'), { authorization: 'Bearer sk-nope' });
    expect(bad.status).toBe(401);
    expect(bad.json()).toEqual({ error: { message: expect.stringContaining('Incorrect API key') as unknown, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    expect(bad.text).not.toContain('sk-nope');
    const garbage = await post(s, '/v1/chat/completions', '{"model":');
    expect(garbage.status).toBe(400);
    expect(garbage.json()).toMatchObject({ error: { message: expect.stringContaining('could not parse the JSON body') as unknown, type: 'invalid_request_error' } });
    const noMessages = await post(s, '/v1/chat/completions', { model: 'gpt-4o' });
    expect(noMessages.json()).toEqual({ error: { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' } });
  });
});
