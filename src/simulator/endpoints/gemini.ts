import { geminiDialect, googleError, vertexDialect } from '../dialects/gemini.js';
import type { Dialect } from '../dialects/types.js';
import { jsonReply } from '../dialects/types.js';
import { replyFor } from '../text.js';
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
    // A blocked prompt is a 200 with promptFeedback.blockReason and no candidates.
    filtered: (ctx) =>
      jsonReply(
        200,
        { promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }, usageMetadata: { promptTokenCount: ctx.text.inputTokens, totalTokenCount: ctx.text.inputTokens }, modelVersion: ctx.model, responseId: `sim${ctx.id}` },
        { 'content-type': 'application/json; charset=UTF-8' },
      ),
  };
}

/** Gemini API `generateContent`. */
export const GEMINI_GENERATE = generateEndpoint(geminiDialect, 'gemini');
/** Vertex AI `generateContent`. */
export const VERTEX_GENERATE = generateEndpoint(vertexDialect, 'vertex');

/** `streamGenerateContent?alt=sse` (Gemini API and Vertex). */
function streamEndpoint(base: Endpoint): Endpoint {
  return { ...base, name: `${base.name.split('.')[0]!}.streamGenerateContent`, operation: 'streamGenerateContent', stream: generateContentStream, alwaysStream: true };
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

/** Gemini API `predictLongRunning` (Veo): answers the operation name; markers decide how the operation ends. */
export const GEMINI_PREDICT_LONG_RUNNING: Endpoint = {
  name: 'gemini.predictLongRunning',
  dialect: geminiDialect,
  operation: 'predictLongRunning',
  required: ['instances'],
  absorbs: ['operation-error', 'filtered'],
  success: (ctx) => {
    const forced = ctx.fault === 'operation-error' ? 'error' : ctx.fault === 'filtered' ? 'filtered' : undefined;
    return { name: ctx.operations.create(ctx.modelPath, ctx.now, forced) };
  },
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
  success: (ctx) => {
    const forced = ctx.fault === 'operation-error' ? 'error' : ctx.fault === 'filtered' ? 'filtered' : undefined;
    return { name: ctx.operations.create(ctx.modelPath, ctx.now, forced, 'vertex') };
  },
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
    const op = typeof name === 'string' ? ctx.operations.get(name, ctx.now, ctx.baseUrl) : undefined;
    return op === undefined ? googleError(404, 'NOT_FOUND', 'Requested entity was not found.') : jsonReply(200, op, { 'content-type': 'application/json; charset=UTF-8' });
  },
  filtered: () => googleError(404, 'NOT_FOUND', 'Requested entity was not found.'),
};
