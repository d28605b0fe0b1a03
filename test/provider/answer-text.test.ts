import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerText } from '../../src/provider/answer-text.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

describe('answerText', () => {
  it('reads the answer of each API shape, and nothing from shapes without text', () => {
    expect(answerText({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.' } }, { message: { content: 'other' } }] })).toBe('Paris.');
    expect(answerText({ choices: [{ message: { content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] } }] })).toBe('ab');
    expect(answerText({ object: 'text_completion', choices: [{ text: 'legacy' }] })).toBe('legacy');
    expect(answerText({ choices: [{ message: { content: null, tool_calls: [] } }] })).toBeUndefined();
    expect(answerText({ object: 'response', output_text: 'sdk' })).toBe('sdk');
    expect(
      answerText({
        object: 'response',
        output: [
          { type: 'reasoning', summary: [] },
          { type: 'message', content: [{ type: 'output_text', text: 'Hel' }, { type: 'refusal', refusal: 'no' }, { type: 'output_text', text: 'lo' }] },
        ],
      }),
    ).toBe('Hello');
    expect(answerText({ type: 'message', role: 'assistant', content: [{ type: 'thinking', thinking: '…' }, { type: 'text', text: 'Claude' }, { type: 'tool_use', id: 't' }] })).toBe('Claude');
    expect(answerText({ candidates: [{ content: { parts: [{ text: 'plan', thought: true }, { text: 'Gem' }, { text: 'ini' }] } }] })).toBe('Gemini');
    expect(answerText({ candidates: [{ finishReason: 'SAFETY' }] })).toBeUndefined();
    expect(answerText({ data: { choices: [{ message: { content: 'wrapped' } }] }, response: {} })).toBe('wrapped');
    expect(answerText('plain')).toBe('plain');
    for (const none of [null, undefined, 42, [], { object: 'list', data: [{ embedding: [0.1] }] }, { data: [{ url: 'x' }] }, { name: 'operations/1', done: true }]) {
      expect(answerText(none)).toBeUndefined();
    }
  });
});

describe('answerText on the simulator\'s answers (real HTTP over loopback)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3, keys: [{ name: 'k', secret: 'sim-secret-1' }] });
  });
  afterAll(async () => {
    await sim.close();
  });
  const post = async (path: string, body: unknown, headers: Record<string, string>): Promise<unknown> => {
    const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return res.json();
  };

  it('OpenAI chat and Responses, Anthropic messages, Gemini generateContent: a non-empty text', async () => {
    const bearer = { authorization: 'Bearer sim-secret-1' };
    const bodies = [
      await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name a river.' }] }, bearer),
      await post('/v1/responses', { model: 'gpt-4o-mini', input: 'Name a river.' }, bearer),
      await post('/v1/messages', { model: 'claude-3-5-haiku-latest', max_tokens: 50, messages: [{ role: 'user', content: 'Name a river.' }] }, { 'x-api-key': 'sim-secret-1', 'anthropic-version': '2023-06-01' }),
      await post('/v1beta/models/gemini-2.0-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'Name a river.' }] }] }, { 'x-goog-api-key': 'sim-secret-1' }),
    ];
    for (const body of bodies) {
      const text = answerText(body);
      expect(typeof text, JSON.stringify(body).slice(0, 200)).toBe('string');
      expect(text!.length).toBeGreaterThan(0);
    }
  });
});
