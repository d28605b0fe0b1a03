/**
 * The provider simulator: an HTTP server imitating OpenAI, Azure OpenAI, Anthropic, Gemini/Vertex and Veo,
 * with per-key limits, injected faults and statistics. Start it with {@link startSimulator}.
 *
 * Routes (POST unless noted):
 * - OpenAI (`Authorization: Bearer`): `/v1/chat/completions` and `/v1/responses` (both also `stream: true`),
 *   `/v1/embeddings` (float or base64), `/v1/images/generations`
 * - Azure (`api-key` or Bearer): `/openai/deployments/{d}/chat/completions`, `/embeddings`, `/images/generations` and
 *   `/openai/responses` (`?api-version=` required); `/openai/v1/chat/completions`, `/responses`, `/embeddings`,
 *   `/images/generations` (the v1 API, no api-version)
 * - Anthropic (`x-api-key`, `anthropic-version`): `/v1/messages` (also `stream: true`), `/v1/messages/count_tokens`
 * - Gemini API (`x-goog-api-key` or `?key=`): `/v1beta/models/{m}:generateContent`, `:streamGenerateContent`, `:embedContent`,
 *   `:batchEmbedContents`, `:countTokens`, `:predictLongRunning` (Veo); GET `/v1beta/models/{m}/operations/{id}`;
 *   GET `/v1beta/files/{id}:download`
 * - Vertex (`Authorization: Bearer`): `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`,
 *   `:streamGenerateContent`, `:countTokens`, `:predict` (text embeddings), `:predictLongRunning`, `:fetchPredictOperation`
 *
 * Error bodies are copies of corpus samples (`dialects/samples.ts`, each with its sample id).
 * - Control: GET `/_sluice/stats` (`?log=0` without the per-request log), POST `/_sluice/reset`
 *
 * Order of checks per request: body size (413) -> key (401/403) -> revoked (401) -> required headers ->
 * JSON and required fields (400) -> limits (429: per day, concurrency, per minute requests, tokens) ->
 * fault (marker `[[fault:<type>]]`, then schedule, then probability) -> latency -> answer.
 */
export { startSimulator } from './server.js';
export type { Simulator } from './server.js';
export { FAULT_TYPES, simulatorOptionsSchema, resolveOptions } from './options.js';
export type { FaultType, SimulatorOptions, LatencyOptions } from './options.js';
export type { SimulatorStats, KeyStats, RequestLogEntry } from './stats.js';
export { mulberry32 } from './random.js';
