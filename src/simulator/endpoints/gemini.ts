import { geminiDialect, googleError, vertexDialect } from '../dialects/gemini.js';
import { GEMINI_STREAM_ERROR_CHUNK } from '../dialects/samples.js';
import type { Dialect, Reply } from '../dialects/types.js';
import type { OperationFamily, PollFault } from '../operations.js';
import { jsonReply } from '../dialects/types.js';
import { readRequestText, replyFor } from '../text.js';
import { embeddingFor } from './embedding.js';
import { generateContentStream } from './streams.js';
import type { Endpoint, SuccessContext } from './types.js';

const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' },
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
];

function usage(ctx: SuccessContext, output: number): Record<string, unknown> {
  return {
    promptTokenCount: ctx.text.inputTokens,
    candidatesTokenCount: output,
    totalTokenCount: ctx.text.inputTokens + output,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: ctx.text.inputTokens }],
  };
}

/** `models/{model}:generateContent` body. */
function generateContent(ctx: SuccessContext): unknown {
  const reply = replyFor(ctx.text.text, ctx.text.maxOutputTokens);
  return {
    candidates: [{ content: { parts: [{ text: reply.text }], role: 'model' }, finishReason: reply.truncated ? 'MAX_TOKENS' : 'STOP', index: 0 }],
    usageMetadata: usage(ctx, reply.tokens),
    modelVersion: ctx.model,
    responseId: `sim${ctx.id}`,
  };
}

function generateEndpoint(dialect: Dialect, prefix: string): Endpoint {
  return {
    name: `${prefix}.generateContent`,
    dialect,
    operation: 'generateContent',
    required: ['contents'],
    success: generateContent,
    // A blocked prompt is a 200 with promptFeedback.blockReason and no candidates (streamed: one such chunk).
    filtered: (ctx) => jsonReply(200, blockedPrompt(ctx), { 'content-type': 'application/json; charset=UTF-8' }),
    filteredStream: (ctx) => [`data: ${JSON.stringify(blockedPrompt(ctx))}\r\n\r\n`],
  };
}

function blockedPrompt(ctx: SuccessContext): unknown {
  return { promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }, usageMetadata: { promptTokenCount: ctx.text.inputTokens, totalTokenCount: ctx.text.inputTokens }, modelVersion: ctx.model, responseId: `sim${ctx.id}` };
}

/** Gemini API `generateContent`. */
export const GEMINI_GENERATE = generateEndpoint(geminiDialect, 'gemini');
/** Vertex AI `generateContent`. */
export const VERTEX_GENERATE = generateEndpoint(vertexDialect, 'vertex');

/** `streamGenerateContent?alt=sse` (Gemini API and Vertex). */
function streamEndpoint(base: Endpoint): Endpoint {
  return {
    ...base,
    name: `${base.name.split('.')[0]!}.streamGenerateContent`,
    operation: 'streamGenerateContent',
    stream: generateContentStream,
    alwaysStream: true,
    sseErrors: true,
    // A stream that breaks off ends with a bare google.rpc.Status chunk, not a `data:` line: `@google/genai`
    // throws it as "got status: UNAVAILABLE. {...}" (corpus gemini-stream-chunk-503-unavailable).
    midStreamError: () => GEMINI_STREAM_ERROR_CHUNK,
  };
}
/** Gemini API `streamGenerateContent`. */
export const GEMINI_STREAM = streamEndpoint(GEMINI_GENERATE);
/** Vertex AI `streamGenerateContent`. */
export const VERTEX_STREAM = streamEndpoint(VERTEX_GENERATE);

/** Gemini API `embedContent`. */
export const GEMINI_EMBED: Endpoint = {
  name: 'gemini.embedContent',
  dialect: geminiDialect,
  operation: 'embedContent',
  required: ['content'],
  success: (ctx) => ({ embedding: { values: embeddingFor(ctx.text.text, ctx.embeddingDimensions, ctx.seed) } }),
  filtered: () => googleError(400, 'INVALID_ARGUMENT', 'The content was blocked by safety filters.'),
};

/**
 * Gemini API `batchEmbedContents`, which `@google/genai`'s `models.embedContent` calls:
 * `{requests: [{model, content}]}` answered with one `{values}` per request, in order.
 */
export const GEMINI_BATCH_EMBED: Endpoint = {
  name: 'gemini.batchEmbedContents',
  dialect: geminiDialect,
  operation: 'batchEmbedContents',
  required: ['requests'],
  success: (ctx) => {
    const requests = Array.isArray(ctx.body['requests']) ? ctx.body['requests'] : [];
    return { embeddings: requests.map((r) => ({ values: embeddingFor(readRequestText(r).text, ctx.embeddingDimensions, ctx.seed) })) };
  },
  filtered: () => googleError(400, 'INVALID_ARGUMENT', 'The content was blocked by safety filters.'),
};

/** `countTokens` of the Gemini API (`totalTokens` and the per-modality details) and of Vertex (plus billable characters). */
function countTokensEndpoint(dialect: Dialect, prefix: string): Endpoint {
  return {
    name: `${prefix}.countTokens`,
    dialect,
    operation: 'countTokens',
    required: [],
    success: (ctx) => {
      const counted: Record<string, unknown> = { totalTokens: ctx.text.inputTokens };
      if (prefix === 'vertex') counted['totalBillableCharacters'] = ctx.text.text.replace(/\s/g, '').length;
      counted['promptTokensDetails'] = [{ modality: 'TEXT', tokenCount: ctx.text.inputTokens }];
      return counted;
    },
    filtered: () => googleError(400, 'INVALID_ARGUMENT', 'The content was blocked by safety filters.'),
  };
}
/** Gemini API `countTokens`. */
export const GEMINI_COUNT_TOKENS = countTokensEndpoint(geminiDialect, 'gemini');
/** Vertex AI `countTokens`. */
export const VERTEX_COUNT_TOKENS = countTokensEndpoint(vertexDialect, 'vertex');

/**
 * Vertex AI `predict` of a text-embedding model (what `@google/genai` calls for `models.embedContent` on Vertex):
 * `{instances: [{content}]}` answered with `predictions[].embeddings` (values and statistics) and billable characters.
 */
export const VERTEX_PREDICT_EMBEDDINGS: Endpoint = {
  name: 'vertex.predict',
  dialect: vertexDialect,
  operation: 'predict',
  required: ['instances'],
  success: (ctx) => {
    const instances = Array.isArray(ctx.body['instances']) ? ctx.body['instances'] : [];
    let billable = 0;
    const predictions = instances.map((instance) => {
      const text = readRequestText(instance);
      billable += text.text.length;
      return { embeddings: { statistics: { truncated: false, token_count: text.inputTokens }, values: embeddingFor(text.text, ctx.embeddingDimensions, ctx.seed) } };
    });
    return { predictions, metadata: { billableCharacterCount: billable } };
  },
  filtered: () => googleError(400, 'INVALID_ARGUMENT', 'The content was blocked by safety filters.'),
};

/** Starts a Veo operation; the request's fault decides how it ends (`operation-error`, `filtered`) or how its first poll answers. */
function createOperation(ctx: SuccessContext, family: OperationFamily): string {
  const f = ctx.fault;
  const outcome = f === 'operation-error' ? 'error' : f === 'filtered' ? 'filtered' : undefined;
  const pollFault = f === 'poll-429' || f === 'poll-503' ? f : undefined;
  return ctx.operations.create(ctx.modelPath, ctx.now, outcome, family, pollFault);
}

/** Gemini API `predictLongRunning` (Veo): answers the operation name; markers decide how the operation ends. */
export const GEMINI_PREDICT_LONG_RUNNING: Endpoint = {
  name: 'gemini.predictLongRunning',
  dialect: geminiDialect,
  operation: 'predictLongRunning',
  required: ['instances'],
  absorbs: ['operation-error', 'filtered', 'poll-429', 'poll-503'],
  success: (ctx) => ({ name: createOperation(ctx, 'gemini') }),
  filtered: () => googleError(400, 'INVALID_ARGUMENT', 'The prompt was blocked by safety filters.'),
};

/** Pseudo-endpoint for stats and auth of `GET /v1beta/{operation}` polls. */
export const GEMINI_OPERATION: Endpoint = {
  name: 'gemini.operation',
  dialect: geminiDialect,
  operation: 'getOperation',
  required: [],
  success: () => ({}),
  filtered: () => googleError(404, 'NOT_FOUND', 'Requested entity was not found.'),
};

/** Pseudo-endpoint of `GET /v1beta/files/{id}:download` (the generated video). */
export const GEMINI_FILE: Endpoint = { ...GEMINI_OPERATION, name: 'gemini.file', operation: 'download' };

/** Vertex AI `predictLongRunning` (Veo): operation names under the project and location. */
export const VERTEX_PREDICT_LONG_RUNNING: Endpoint = {
  ...GEMINI_PREDICT_LONG_RUNNING,
  name: 'vertex.predictLongRunning',
  dialect: vertexDialect,
  success: (ctx) => ({ name: createOperation(ctx, 'vertex') }),
};

/** Vertex AI `fetchPredictOperation`: the poll of a Veo operation, a POST naming it in the body. */
export const VERTEX_FETCH_OPERATION: Endpoint = {
  name: 'vertex.fetchPredictOperation',
  dialect: vertexDialect,
  operation: 'fetchPredictOperation',
  required: ['operationName'],
  success: () => ({}),
  answer: (ctx) => {
    const name = ctx.body['operationName'];
    const pollFault = typeof name === 'string' ? ctx.operations.takePollFault(name) : undefined;
    if (pollFault) return pollFaultReply(vertexDialect, pollFault, ctx.model);
    const op = typeof name === 'string' ? ctx.operations.get(name, ctx.now, ctx.baseUrl) : undefined;
    return op === undefined ? googleError(404, 'NOT_FOUND', 'Requested entity was not found.') : jsonReply(200, op, { 'content-type': 'application/json; charset=UTF-8' });
  },
  filtered: () => googleError(404, 'NOT_FOUND', 'Requested entity was not found.'),
};

/** The answer of a faulted poll: the dialect's 429 (with its wait hint) or 503. */
export function pollFaultReply(dialect: Dialect, fault: PollFault, model: string, retryAfterMs = 1000): Reply {
  if (fault === 'poll-503') return dialect.overloaded(503);
  const rejection = { kind: 'requests' as const, limit: 60, used: 60, requested: 1, retryAfterMs };
  return dialect.rateLimited({ rejection, hint: true }, { model, operation: 'getOperation', apiVersion: undefined }, 0);
}
