import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ keys: [{ name: 'k', secret: 'sk-stream' }] });
});
afterAll(async () => {
  await sim.close();
});

describe('simulator: streaming read by the official SDKs', () => {
  it('streams OpenAI chat completion chunks with usage', async () => {
    const client = new OpenAI({ apiKey: 'sk-stream', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me a fairly long answer please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toContain('stream me a fairly long answer please');
    expect(usage?.prompt_tokens).toBe(10);
  });

  it('streams Anthropic message events', async () => {
    const client = new Anthropic({ apiKey: 'sk-stream', baseURL: sim.url, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 200, messages: [{ role: 'user', content: 'hello streaming claude' }] });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text' });
    expect((final.content[0] as { text: string }).text).toContain('hello streaming claude');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(final.stop_reason).toBe('end_turn');
  });
});

describe('simulator: Gemini read by @google/genai', () => {
  it('answers generateContent and streams streamGenerateContent', async () => {
    const { GoogleGenAI } = await import('@google/genai');
    const ai = new GoogleGenAI({ apiKey: 'sk-stream', httpOptions: { baseUrl: sim.url } });
    const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello gemini sdk' });
    expect(res.text).toContain('hello gemini sdk');
    expect(res.usageMetadata?.promptTokenCount).toBe(4);
    let text = '';
    let chunks = 0;
    let total: number | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'stream a longer gemini answer please' })) {
      chunks++;
      text += chunk.text ?? '';
      total = chunk.usageMetadata?.totalTokenCount ?? total;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toContain('stream a longer gemini answer please');
    expect(total).toBeGreaterThan(9);
  });
});
