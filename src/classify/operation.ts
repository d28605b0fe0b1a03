/**
 * Finished long-running operations (Veo video generation) that failed without an HTTP error: the poll
 * answers 200 with `done: true`, and the safety filter removed every video.
 */
import type { Classification } from './kinds.js';
import { field, isRecord, numberField } from './json.js';
import { cleanMessage } from './message.js';

/**
 * Classifies a finished Veo operation whose every video was removed by the safety filter: `done: true`, no
 * `error`, no video in `response` (Gemini API: `response.generateVideoResponse.generatedSamples`; Vertex:
 * `response.videos`) and a `raiMediaFilteredCount` above 0 or `raiMediaFilteredReasons` (corpus
 * veo-operation-done-rai-audio-filtered). Returns `content_filtered` (not retried: the same prompt is
 * filtered again, and another attempt would pay for another video), with the filter's reasons in the message;
 * `undefined` for any other value (still running, failed with an `error`, or with videos).
 */
export function classifyVeoOperation(operation: unknown): Classification | undefined {
  if (!isRecord(operation) || field(operation, 'done') !== true) return undefined;
  const error = field(operation, 'error');
  if (error !== undefined && error !== null) return undefined;
  const response = field(operation, 'response');
  const inner = field(response, 'generateVideoResponse') ?? response;
  if (!isRecord(inner)) return undefined;
  const samples = field(inner, 'generatedSamples') ?? field(inner, 'generatedVideos') ?? field(inner, 'videos');
  if (Array.isArray(samples) && samples.length > 0) return undefined;
  const count = numberField(inner, 'raiMediaFilteredCount') ?? 0;
  const reasons = field(inner, 'raiMediaFilteredReasons');
  const why = Array.isArray(reasons) ? reasons.filter((r): r is string => typeof r === 'string').slice(0, 4).join('; ') : '';
  if (count <= 0 && why === '') return undefined;
  return {
    kind: 'content_filtered',
    retryable: false,
    status: 200,
    code: 'rai_media_filtered',
    message: cleanMessage(`every video was removed by the safety filter${why ? `: ${why}` : ''}`),
  };
}
