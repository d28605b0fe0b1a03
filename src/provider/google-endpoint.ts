import { baseUrl as checkBaseUrl, requiredString } from './common.js';

/** Where a Google model lives: the Gemini API (`generativelanguage`) or Vertex AI. */
export interface GoogleEndpointOptions {
  /** `gemini` (default) or `vertex`. */
  backend?: 'gemini' | 'vertex';
  /** Base URL. Default `https://generativelanguage.googleapis.com` or `https://{location}-aiplatform.googleapis.com`. */
  baseUrl?: string;
  /** API version path segment. Default `v1beta` (Gemini) or `v1` (Vertex). */
  apiVersion?: string;
  /** Vertex project id (required for Vertex unless `auth` is `api-key`, express mode). */
  project?: string;
  /** Vertex location. Default `us-central1`. */
  location?: string;
  /** `api-key` (`x-goog-api-key`, default for Gemini) or `bearer` (an OAuth access token as the key's secret, default for Vertex). */
  auth?: 'api-key' | 'bearer';
}

/** A resolved endpoint: builds model URLs and auth headers. */
export interface GoogleEndpoint {
  backend: 'gemini' | 'vertex';
  /** `{root}/{version}/.../models/{model}:{method}` */
  modelUrl(model: string, method: string): string;
  /** `{root}/{version}/{resourceName}` for operation names returned by the API. */
  resourceUrl(name: string): string;
  authHeaders(secret: string): Record<string, string>;
}

/** Validates the options (errors name `field`) and resolves the endpoint. */
export function googleEndpoint(field: string, o: GoogleEndpointOptions): GoogleEndpoint {
  const backend = o.backend ?? 'gemini';
  if (backend !== 'gemini' && backend !== 'vertex') throw new TypeError(`${field}.backend must be "gemini" or "vertex", got ${JSON.stringify(backend)}`);
  const auth = o.auth ?? (backend === 'vertex' ? 'bearer' : 'api-key');
  if (auth !== 'api-key' && auth !== 'bearer') throw new TypeError(`${field}.auth must be "api-key" or "bearer", got ${JSON.stringify(auth)}`);
  const location = o.location ?? 'us-central1';
  const version = o.apiVersion ?? (backend === 'vertex' ? 'v1' : 'v1beta');
  const defaultRoot = backend === 'vertex' ? `https://${location}-aiplatform.googleapis.com` : 'https://generativelanguage.googleapis.com';
  const root = `${checkBaseUrl(`${field}.baseUrl`, o.baseUrl, defaultRoot)}/${version}`;
  let modelPrefix = `${root}/models`;
  if (backend === 'vertex') {
    if (o.project !== undefined || auth === 'bearer') {
      const project = encodeURIComponent(requiredString(`${field}.project`, o.project));
      modelPrefix = `${root}/projects/${project}/locations/${encodeURIComponent(location)}/publishers/google/models`;
    } else {
      modelPrefix = `${root}/publishers/google/models`; // Vertex express mode (API key, no project)
    }
  }
  return {
    backend,
    modelUrl: (model, method) => `${modelPrefix}/${encodeURIComponent(stripModelsPrefix(model))}:${method}`,
    resourceUrl: (name) => `${root}/${name.replace(/^\/+/, '')}`,
    authHeaders: (secret): Record<string, string> => (auth === 'bearer' ? { authorization: `Bearer ${secret}` } : { 'x-goog-api-key': secret }),
  };
}

/** Accepts `gemini-2.5-flash` and `models/gemini-2.5-flash` alike. */
function stripModelsPrefix(model: string): string {
  return model.replace(/^models\//, '');
}
