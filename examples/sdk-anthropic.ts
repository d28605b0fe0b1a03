/**
 * The official `@anthropic-ai/sdk` client under Sluice, with the SDK's retries off (`maxRetries: 0`).
 * A 529 overloaded_error or a 429 rate_limit_error thrown by the SDK is classified by Sluice
 * (overloaded / rate_limited, honouring `retry-after`) and retried by Sluice's policy only.
 *
 * Runs against the built-in simulator unless ANTHROPIC_API_KEY is set:
 *   npx tsx examples/sdk-anthropic.ts
 */
import Anthropic from '@anthropic-ai/sdk';
import { functionAdapter, keyedClients, createSluice } from 'sluice';
import type { ApiKey, CallContext } from 'sluice';
import { startSimulator } from 'sluice/simulator';

const realKey = process.env.ANTHROPIC_API_KEY;
const sim = realKey ? undefined : await startSimulator({ keys: [{ name: 'sim', secret: 'sk-ant-sim' }] });
const keys: ApiKey[] = [{ name: realKey ? 'env' : 'sim', secret: realKey ?? 'sk-ant-sim' }];

const client = keyedClients((key) => new Anthropic({ apiKey: key.secret, maxRetries: 0, ...(sim ? { baseURL: sim.url } : {}) }));

const messages = functionAdapter(
  async (params: Anthropic.MessageCreateParamsNonStreaming, { key, signal }: CallContext) => {
    const { data, response } = await client(key).messages.create(params, { signal }).withResponse();
    return { message: data, headers: response.headers };
  },
  {
    name: 'anthropic-sdk',
    provider: 'anthropic',
    extractUsage: (r) => ({ inputTokens: r.message.usage.input_tokens, outputTokens: r.message.usage.output_tokens }),
    extractHeaders: (r) => r.headers,
    estimateTokens: (p) => JSON.stringify(p.messages).length / 4 + p.max_tokens,
  },
);

const sluice = createSluice({ provider: messages, keys, limits: { requestsPerMinute: 50 } });
try {
  const r = await sluice.run({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hi' }] });
  const first = r.message.content[0];
  console.log(first?.type === 'text' ? first.text : first);
} finally {
  await sluice.close();
  await sim?.close();
}
