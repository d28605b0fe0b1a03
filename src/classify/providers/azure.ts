/**
 * Azure OpenAI: OpenAI's shape with Azure's twists. `error.code` is often the status as a string
 * (`"429"`, `"401"`) or a PascalCase code (`DeploymentNotFound`); content-filter blocks carry
 * `innererror.code = ResponsibleAIPolicyViolation`; the API Management front door answers
 * `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 26 seconds."}`.
 * See https://learn.microsoft.com/azure/ai-services/openai/reference.
 */
import type { ProviderClassifier, Verdict } from '../failure.js';
import { field, isRecord, messageText, numberField, stringField } from '../json.js';
import { openAIVerdict, readOpenAIError } from './openai.js';

/** Headers only Azure sends; with them an OpenAI-shaped body is Azure's. */
const AZURE_HEADERS = ['apim-request-id', 'x-ms-region', 'azureml-model-session', 'x-ms-deployment-name'];

/** Recognises Azure OpenAI and Azure API Management error bodies. */
export const classifyAzure: ProviderClassifier = (f) => {
  const apim = readApimError(f.status, f.body);
  if (apim) return apim;
  const fields = readOpenAIError(f.status, f.body);
  if (!fields) return undefined;
  const err = field(f.body, 'error');
  const inner = field(err, 'innererror');
  // A string status code is Azure's; OpenRouter sends a number.
  const rawCode = field(err, 'code');
  const numericCode = typeof rawCode === 'string' && /^\d{3}$/.test(rawCode);
  const azureCode = fields.code !== undefined && /^[A-Z][a-zA-Z]+$/.test(fields.code);
  const fromHeaders = AZURE_HEADERS.some((h) => f.headers.has(h));
  if (!numericCode && !azureCode && !isRecord(inner) && !fromHeaders) return undefined;

  const innerCode = stringField(inner, 'code');
  const status = f.status ?? (numericCode ? Number(fields.code) : undefined);
  const base = (kind: Verdict['kind']): Verdict => ({ kind, provider: 'azure', code: innerCode ?? fields.code, message: fields.message });
  if (innerCode === 'ResponsibleAIPolicyViolation' || fields.code === 'content_filter') return base('content_filtered');
  if (fields.code === 'DeploymentNotFound' || fields.code === 'ModelNotFound') return base('not_found');
  // Azure answers a spent quota with the same 429 as a rate limit; a wait of an hour or more ("Please retry
  // after 86400 seconds") parks the key (classify/http.ts, PARK_AFTER_WAIT_MS).
  const verdict = openAIVerdict({ ...fields, status }, 'azure');
  // A numeric code is only the status again; keep the more telling inner code if there is one.
  return innerCode ? { ...verdict, code: innerCode } : verdict;
};

/** `{"statusCode":429,"message":"..."}` from Azure API Management. */
function readApimError(status: number | undefined, body: unknown): Verdict | undefined {
  const statusCode = numberField(body, 'statusCode');
  const message = messageText(field(body, 'message'));
  if (statusCode === undefined || message === undefined || field(body, 'error') !== undefined) return undefined;
  const verdict = openAIVerdict({ status: status ?? statusCode, code: undefined, type: undefined, message }, 'azure');
  return { ...verdict, code: String(statusCode) };
}
