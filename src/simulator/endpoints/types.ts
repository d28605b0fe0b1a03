import type { Dialect, ErrorContext, Reply } from '../dialects/types.js';
import type { OperationStore } from '../operations.js';
import type { FaultType } from '../options.js';
import type { RequestText } from '../text.js';

/** What a success builder gets. */
export interface SuccessContext {
  body: Record<string, unknown>;
  text: RequestText;
  model: string;
  /** Deterministic id suffix (the request's arrival number). */
  id: string;
  now: number;
  embeddingDimensions: number;
  seed: number;
  /** Base URL of the simulator, for URLs in bodies. */
  baseUrl: string;
  /** Long-running operations (Veo). */
  operations: OperationStore;
  /** Resource path of the model named in the URL (`models/x`, `projects/p/locations/l/publishers/google/models/x`). */
  modelPath: string;
  /** The fault decided for this request, when an endpoint turns it into its own outcome (Veo). */
  fault: FaultType | undefined;
}

/** Faults that break a stream off in the middle. */
export type MidStreamFault = Extract<FaultType, 'stream-error' | 'response-failed'>;

/** One simulated API operation. */
export interface Endpoint {
  /** Stable name used in stats, e.g. `openai.chat`. */
  readonly name: string;
  readonly dialect: Dialect;
  /** Operation id used in Azure messages. */
  readonly operation: string;
  /** Body fields that must be present (the provider's 400 otherwise). */
  readonly required: readonly string[];
  /** Success body. */
  success(ctx: SuccessContext): unknown;
  /** Server-sent events for `stream: true`, when the endpoint can stream: one string per event, sent as one body. */
  stream?(ctx: SuccessContext): string[];
  /**
   * The provider's error event of a stream that breaks off after `sent` events of {@link stream} (faults
   * `stream-error`, `response-failed`). Sent as its own write after a short pause, as it arrives from the real API.
   */
  midStreamError?(ctx: SuccessContext, fault: MidStreamFault, sent: number): string;
  /**
   * Error answers of this endpoint carry `content-type: text/event-stream` (Gemini `streamGenerateContent?alt=sse`:
   * the JSON error body comes under the stream's content type, so `@google/genai` wraps it as text in its message).
   */
  readonly sseErrors?: boolean;
  /** Always answer with {@link stream} (an endpoint that only streams, e.g. Gemini `streamGenerateContent`). */
  readonly alwaysStream?: boolean;
  /** When present, the whole answer (lets an endpoint answer 404 for an unknown resource). */
  answer?(ctx: SuccessContext): Reply;
  /** Faults this endpoint turns into its own successful outcome (Veo: an operation that ends badly). */
  readonly absorbs?: readonly FaultType[];
  /** The provider's safety/content-filter answer for this operation. */
  filtered(ctx: SuccessContext, err: ErrorContext): Reply;
  /** The same as stream events, where the provider streams a filtered answer (Claude's refusal, Gemini's blocked prompt). */
  filteredStream?(ctx: SuccessContext): string[];
}

/** A matched route: the endpoint and what the path carried. */
export interface RouteMatch {
  endpoint: Endpoint;
  /** Model or deployment named in the path. */
  pathModel?: string;
  /** Resource path of that model, for operation names. */
  modelPath?: string;
  /** GET routes: the resource named in the path (operation name, file id). */
  resource?: string;
}
