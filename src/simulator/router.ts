import { ANTHROPIC_COUNT_TOKENS, ANTHROPIC_MESSAGES } from './endpoints/anthropic.js';
import { azureEndpoints, azureV1Endpoints } from './endpoints/azure.js';
import {
  GEMINI_BATCH_EMBED,
  GEMINI_COUNT_TOKENS,
  GEMINI_EMBED,
  GEMINI_FILE,
  GEMINI_GENERATE,
  GEMINI_OPERATION,
  GEMINI_PREDICT_LONG_RUNNING,
  GEMINI_STREAM,
  VERTEX_FETCH_OPERATION,
  VERTEX_GENERATE,
  VERTEX_PREDICT_LONG_RUNNING,
  VERTEX_COUNT_TOKENS,
  VERTEX_PREDICT_EMBEDDINGS,
  VERTEX_STREAM,
} from './endpoints/gemini.js';
import { OPENAI } from './endpoints/openai.js';
import type { Endpoint, RouteMatch } from './endpoints/types.js';

const AZURE_OPS = azureEndpoints();
const AZURE_V1 = azureV1Endpoints();

const EXACT_POST = new Map<string, RouteMatch>([
  ['/v1/chat/completions', { endpoint: OPENAI.chat }],
  ['/v1/responses', { endpoint: OPENAI.responses }],
  ['/v1/embeddings', { endpoint: OPENAI.embeddings }],
  ['/v1/images/generations', { endpoint: OPENAI.images }],
  ['/v1/messages', { endpoint: ANTHROPIC_MESSAGES }],
  ['/v1/messages/count_tokens', { endpoint: ANTHROPIC_COUNT_TOKENS }],
  ['/openai/responses', { endpoint: AZURE_OPS.responses }],
  ['/openai/v1/chat/completions', { endpoint: AZURE_V1.chat }],
  ['/openai/v1/responses', { endpoint: AZURE_V1.responses }],
  ['/openai/v1/embeddings', { endpoint: AZURE_V1.embeddings }],
  ['/openai/v1/images/generations', { endpoint: AZURE_V1.images }],
]);

const AZURE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings|images\/generations)$/;
const GEMINI = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents|countTokens|predictLongRunning)$/;
const VERTEX = /^\/v1(?:beta1)?\/(projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/:]+)):(generateContent|streamGenerateContent|countTokens|predict|predictLongRunning|fetchPredictOperation)$/;
const OPERATION = /^\/v1beta\/(models\/[^/]+\/operations\/[^/]+)$/;
const FILE = /^\/v1beta\/files\/([^/:]+):download$/;

const GEMINI_METHODS: Record<string, Endpoint> = {
  generateContent: GEMINI_GENERATE,
  streamGenerateContent: GEMINI_STREAM,
  embedContent: GEMINI_EMBED,
  batchEmbedContents: GEMINI_BATCH_EMBED,
  countTokens: GEMINI_COUNT_TOKENS,
  predictLongRunning: GEMINI_PREDICT_LONG_RUNNING,
};
const VERTEX_METHODS: Record<string, Endpoint> = {
  generateContent: VERTEX_GENERATE,
  streamGenerateContent: VERTEX_STREAM,
  countTokens: VERTEX_COUNT_TOKENS,
  predict: VERTEX_PREDICT_EMBEDDINGS,
  predictLongRunning: VERTEX_PREDICT_LONG_RUNNING,
  fetchPredictOperation: VERTEX_FETCH_OPERATION,
};
const AZURE_METHODS: Record<string, Endpoint> = {
  'chat/completions': AZURE_OPS.chat,
  embeddings: AZURE_OPS.embeddings,
  'images/generations': AZURE_OPS.images,
};

/** Finds the endpoint of a request, or undefined (404). */
export function matchRoute(method: string | undefined, path: string): RouteMatch | undefined {
  if (method === 'POST') {
    const exact = EXACT_POST.get(path);
    if (exact) return exact;
    let m = GEMINI.exec(path);
    if (m) return { endpoint: GEMINI_METHODS[m[2]!]!, pathModel: decode(m[1]!), modelPath: `models/${decode(m[1]!)}` };
    m = AZURE.exec(path);
    if (m) return { endpoint: AZURE_METHODS[m[2]!]!, pathModel: decode(m[1]!) };
    m = VERTEX.exec(path);
    if (m) return { endpoint: VERTEX_METHODS[m[3]!]!, pathModel: decode(m[2]!), modelPath: decode(m[1]!) };
  } else if (method === 'GET') {
    let m = OPERATION.exec(path);
    if (m) return { endpoint: GEMINI_OPERATION, resource: decode(m[1]!) };
    m = FILE.exec(path);
    if (m) return { endpoint: GEMINI_FILE, resource: decode(m[1]!) };
  }
  return undefined;
}

/** Like decodeURIComponent, but never throws on bad escapes. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
