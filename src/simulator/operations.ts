import type { Random } from './random.js';

/** How a simulated operation ends. */
export type OperationOutcome = 'video' | 'error' | 'filtered';

interface Operation {
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

  /** Starts an operation at `now`; `forced` overrides the drawn outcome (prompt markers, schedule). */
  create(model: string, now: number, forced?: OperationOutcome): string {
    const draw = this.random();
    const outcome: OperationOutcome =
      forced ?? (draw < this.errorProbability ? 'error' : draw < this.errorProbability + this.filteredProbability ? 'filtered' : 'video');
    const id = `sim${String(++this.counter).padStart(8, '0')}`;
    const name = `models/${model}/operations/${id}`;
    this.ops.set(name, { name, doneAt: now + this.durationMs, outcome, id });
    if (this.ops.size > MAX_OPERATIONS) this.ops.delete(this.ops.keys().next().value as string);
    return name;
  }

  /** The operation resource as `GET /v1beta/{name}` returns it, or undefined if unknown. */
  get(name: string, now: number, baseUrl: string): unknown {
    const op = this.ops.get(name);
    if (!op) return undefined;
    if (now < op.doneAt) return { name: op.name };
    if (op.outcome === 'error') {
      return { name: op.name, done: true, error: { code: 13, message: 'Video generation failed due to an internal error. Please try again.' } };
    }
    const videoResponse =
      op.outcome === 'filtered'
        ? {
            raiMediaFilteredCount: 1,
            raiMediaFilteredReasons: [
              "We encountered an issue with the audio for your prompt. You weren't charged for this request. Please try changing your prompt or use a different seed.",
            ],
          }
        : { generatedSamples: [{ video: { uri: `${baseUrl}/v1beta/files/${op.id}:download?alt=media` } }] };
    return {
      name: op.name,
      done: true,
      response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse: videoResponse },
    };
  }
}
