/**
 * The official `openai` client under Sluice: Sluice picks the key, spaces the calls and retries by error
 * kind; the SDK's own retries are off (`maxRetries: 0`) so that retries do not multiply.
 *
 * Runs against the built-in simulator unless OPENAI_API_KEY is set:
 *   npx tsx examples/sdk-openai.ts
 */
import OpenAI from 'openai';
import { functionAdapter, keyedClients, createSluice } from 'sluice';
import type { ApiKey, CallContext } from 'sluice';
import { startSimulator } from 'sluice/simulator';

const realKey = process.env.OPENAI_API_KEY;
const sim = realKey ? undefined : await startSimulator({ keys: [{ name: 'sim-a', secret: 'sk-sim-a' }, { name: 'sim-b', secret: 'sk-sim-b' }] });
const baseURL = sim ? `${sim.url}/v1` : undefined;
const keys: ApiKey[] = realKey ? [{ name: 'env', secret: realKey }] : [{ name: 'a', secret: 'sk-sim-a' }, { name: 'b', secret: 'sk-sim-b' }];

// One client per key, cached by key name: the key Sluice chose goes out, without a client per call.
const client = keyedClients((key) => new OpenAI({ apiKey: key.secret, maxRetries: 0, ...(baseURL ? { baseURL } : {}) }));

const chat = functionAdapter(
  async (params: OpenAI.ChatCompletionCreateParamsNonStreaming, { key, signal }: CallContext) => {
    // withResponse() exposes the headers, so x-ratelimit-* feed Sluice's quota view.
    const { data, response } = await client(key).chat.completions.create(params, { signal }).withResponse();
    return { completion: data, headers: response.headers };
  },
  {
    name: 'openai-sdk',
    provider: 'openai',
    extractUsage: (r) => ({ inputTokens: r.completion.usage?.prompt_tokens ?? 0, outputTokens: r.completion.usage?.completion_tokens ?? 0 }),
    extractHeaders: (r) => r.headers,
    estimateTokens: (p) => JSON.stringify(p.messages).length / 4 + (p.max_completion_tokens ?? 256),
  },
);

const sluice = createSluice({ provider: chat, keys, limits: { requestsPerMinute: 500 } });
try {
  const prompts = ['Say hi', 'Name a colour', 'Count to three'];
  const answers = await Promise.all(
    prompts.map((content) => sluice.run({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_completion_tokens: 50 })),
  );
  for (const a of answers) console.log(a.completion.choices[0]?.message.content);
} finally {
  await sluice.close();
  await sim?.close();
}
