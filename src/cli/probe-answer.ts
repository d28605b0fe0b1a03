/**
 * The probe's answer, not paid for twice. `sluice run` checks its setup with one real request (the
 * first item, first key: see preflight.ts); that answer is a result the run needs anyway. The run's
 * first call of the same item on the same key takes it instead of sending the request again: one request
 * less per run (on a fixed window of 100 and 400 items, one window less: bench `sluice run` rows).
 */
import type { ProviderAdapter, ProviderResponse } from '../provider/types.js';

/** What the probe sent and got back. */
export interface ProbeAnswer {
  /** The item's (unshaped) payload, as JSON: the run's call is matched on it. */
  payloadJson: string;
  /** The key the probe used. */
  key: string;
  response: ProviderResponse;
}

/**
 * The adapter, answering with the probe's answer the first call on the probed key when it is the probed
 * item's first attempt (a fresh run starts there). The answer is offered to that one call only, so no
 * later call pays for the comparison (a resumed run whose first item is done never matches).
 */
export function reuseProbeAnswer<P, R>(provider: ProviderAdapter<P, R>, answer: ProbeAnswer | undefined): ProviderAdapter<P, R> {
  if (!answer) return provider;
  let kept: ProbeAnswer | undefined = answer;
  return {
    name: provider.name,
    call: async (payload, ctx) => {
      if (kept !== undefined && ctx.key.name === kept.key) {
        const offered = kept;
        kept = undefined;
        if (ctx.attempt === 1 && !ctx.signal.aborted && JSON.stringify(payload) === offered.payloadJson) return offered.response as ProviderResponse<R>;
      }
      return provider.call(payload, ctx);
    },
    ...(provider.estimateTokens ? { estimateTokens: provider.estimateTokens.bind(provider) } : {}),
  };
}
