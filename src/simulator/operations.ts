import { VEO_FILTER_REASON } from './dialects/samples.js';
import type { Random } from './random.js';

/** How a simulated operation ends. */
export type OperationOutcome = 'video' | 'error' | 'filtered';

/** Which API's operation shape to answer with. */
export type OperationFamily = 'gemini' | 'vertex';

/** A fault the first poll of an operation answers with (a busy poll endpoint, not a failed video). */
export type PollFault = 'poll-429' | 'poll-503';

interface Operation {
  family: OperationFamily;
  /** Answered once, to the first poll. */
  pollFault?: PollFault | undefined;
  name: string;
  doneAt: number;
  outcome: OperationOutcome;
  id: string;
}

/** Most operations kept; the oldest are forgotten beyond it (their polls then get 404). */
const MAX_OPERATIONS = 100_000;

/**
 * Veo-style long-running operations: created by `predictLongRunning`, done after `durationMs`,
 * ending with a video, an error (google.rpc.Status) or a safety (RAI) filter.
 */
export class OperationStore {
  private readonly ops = new Map<string, Operation>();
  private counter = 0;

  constructor(
    private readonly durationMs: number,
    private readonly errorProbability: number,
    private readonly filteredProbability: number,
    private readonly random: Random,
  ) {}

  /**
   * Starts an operation at `now`; `forced` overrides the drawn outcome (prompt markers, schedule).
   * `modelPath` is the resource path of the model (`models/veo-3.0` or `projects/p/locations/l/publishers/google/models/veo-3.0`).
   */
  create(modelPath: string, now: number, forced?: OperationOutcome, family: OperationFamily = 'gemini', pollFault?: PollFault): string {
    const draw = this.random();
    const outcome: OperationOutcome =
      forced ?? (draw < this.errorProbability ? 'error' : draw < this.errorProbability + this.filteredProbability ? 'filtered' : 'video');
    const id = `sim${String(++this.counter).padStart(8, '0')}`;
    const name = `${modelPath}/operations/${id}`;
    this.ops.set(name, { family, name, doneAt: now + this.durationMs, outcome, id, pollFault });
    if (this.ops.size > MAX_OPERATIONS) this.ops.delete(this.ops.keys().next().value as string);
    return name;
  }

  /** The fault the operation's first poll gets, once (undefined for later polls and unknown names). */
  takePollFault(name: string): PollFault | undefined {
    const op = this.ops.get(name);
    const fault = op?.pollFault;
    if (op) op.pollFault = undefined;
    return fault;
  }

  /** The operation resource as `GET /v1beta/{name}` returns it, or undefined if unknown. */
  get(name: string, now: number, baseUrl: string): unknown {
    const op = this.ops.get(name);
    if (!op) return undefined;
    if (now < op.doneAt) return { name: op.name };
    if (op.outcome === 'error') {
      return { name: op.name, done: true, error: { code: 13, message: 'Video generation failed due to an internal error. Please try again.' } };
    }
    if (op.family === 'vertex') return { name: op.name, done: true, response: vertexVideoResponse(op) };
    const videoResponse =
      op.outcome === 'filtered'
        ? { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [FILTER_REASON] }
        : { generatedSamples: [{ video: { uri: `${baseUrl}/v1beta/files/${op.id}:download?alt=media` } }] };
    return {
      name: op.name,
      done: true,
      response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse: videoResponse },
    };
  }
}

/** Corpus veo-operation-done-rai-audio-filtered. */
const FILTER_REASON = VEO_FILTER_REASON;

/** Vertex AI's GenerateVideoResponse: `videos` (inline bytes when no storage URI was given) and the RAI counters. */
function vertexVideoResponse(op: Operation): unknown {
  const base = { '@type': 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse' };
  if (op.outcome === 'filtered') return { ...base, raiMediaFilteredCount: 1, raiMediaFilteredReasons: [FILTER_REASON] };
  return { ...base, raiMediaFilteredCount: 0, videos: [{ bytesBase64Encoded: Buffer.from(`SIMULATED-MP4 ${op.id}`).toString('base64'), mimeType: 'video/mp4' }] };
}
