/**
 * The official `@google/genai` client under Sluice.
 *
 * Retries: in @google/genai 1.x, `models.*` calls do not retry unless `httpOptions.retryOptions` is set,
 * so leave it unset. (Setting `retryOptions: { attempts: 1 }` turns the SDK's fetch into a p-retry call
 * that replaces the ApiError of a 429/5xx with a bare "Retryable HTTP Error" and loses the status and
 * the google.rpc.Status body that Sluice classifies.) The attempt's signal goes in `config.abortSignal`.
 *
 * Runs against the built-in simulator unless GEMINI_API_KEY is set:
 *   npx tsx examples/sdk-genai.ts
 */
import { GoogleGenAI, type GenerateContentParameters } from '@google/genai';
import { functionAdapter, keyedClients, createSluice } from 'sluice';
import type { ApiKey, CallContext } from 'sluice';
import { startSimulator } from 'sluice/simulator';

const realKey = process.env.GEMINI_API_KEY;
const sim = realKey ? undefined : await startSimulator({ keys: [{ name: 'sim', secret: 'AIza-sim' }] });
const keys: ApiKey[] = [{ name: realKey ? 'env' : 'sim', secret: realKey ?? 'AIza-sim' }];

const client = keyedClients((key) => new GoogleGenAI({ apiKey: key.secret, ...(sim ? { httpOptions: { baseUrl: sim.url } } : {}) }));

const generate = functionAdapter(
  (params: GenerateContentParameters, { key, signal }: CallContext) =>
    client(key).models.generateContent({ ...params, config: { ...params.config, abortSignal: signal } }),
  {
    name: 'genai-sdk',
    provider: 'gemini',
    extractUsage: (r) => ({ inputTokens: r.usageMetadata?.promptTokenCount ?? 0, outputTokens: r.usageMetadata?.candidatesTokenCount ?? 0 }),
    extractHeaders: (r) => r.sdkHttpResponse?.headers,
  },
);

const sluice = createSluice({ provider: generate, keys, limits: { requestsPerMinute: 15 } });
try {
  const r = await sluice.run({ model: 'gemini-2.5-flash', contents: 'Say hi' });
  console.log(r.text);
} finally {
  await sluice.close();
  await sim?.close();
}
