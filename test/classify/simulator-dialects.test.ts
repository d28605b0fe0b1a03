/**
 * Cross-check: every error the simulator's provider dialects produce is classified as the kind it
 * imitates. Keeps the simulator and the classifier honest with each other.
 */
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/classify/classify.js';
import type { ErrorKind } from '../../src/classify/kinds.js';
import { openaiDialect } from '../../src/simulator/dialects/openai.js';
import { azureDialect } from '../../src/simulator/dialects/azure.js';
import { anthropicDialect } from '../../src/simulator/dialects/anthropic.js';
import { geminiDialect, vertexDialect } from '../../src/simulator/dialects/gemini.js';
import type { Dialect, Reply } from '../../src/simulator/dialects/types.js';
import type { Rejection } from '../../src/simulator/simulated-key.js';

const NOW = Date.UTC(2026, 0, 1);
const ctx = { model: 'test-model', operation: 'ChatCompletions_Create', apiVersion: '2024-06-01' };
const rejection = (kind: Rejection['kind']): Rejection => ({ kind, limit: 10, used: 10, requested: 1, retryAfterMs: 1500 });

const dialects: Dialect[] = [openaiDialect, azureDialect, anthropicDialect, geminiDialect, vertexDialect];

function kindOf(reply: Reply, d: Dialect): ErrorKind {
  return classify({ status: reply.status, headers: reply.headers, body: reply.body }, { now: NOW, provider: d.provider }).kind;
}

describe.each(dialects.map((d) => [d.provider, d] as const))('simulator dialect %s', (_name, d) => {
  it('errors classify as the kinds they imitate', () => {
    expect(kindOf(d.missingKey(), d)).toBe('auth');
    expect(kindOf(d.invalidKey(), d)).toBe('auth');
    expect(kindOf(d.invalidJson(), d)).toBe('invalid_request');
    expect(kindOf(d.missingField('model'), d)).toBe('invalid_request');
    expect(kindOf(d.tooLarge(), d)).toBe('invalid_request');
    expect(kindOf(d.notFound(), d)).toBe('not_found');
    expect(kindOf(d.quotaExhausted(ctx), d)).toBe('quota_exhausted');
    expect(['overloaded']).toContain(kindOf(d.overloaded(503), d));
    expect(kindOf(d.serverError(), d)).toBe('server_error');
  });

  it('per-minute rate limits are rate_limited, with the hinted wait', () => {
    for (const kind of ['requests', 'tokens'] as const) {
      const c = classify({ ...d.rateLimited({ rejection: rejection(kind), hint: true }, ctx, NOW) }, { now: NOW, provider: d.provider });
      expect(c.kind).toBe('rate_limited');
      // Vertex, like the real service, gives no wait at all.
      if (d.provider !== 'vertex') {
        expect(c.retryAfterMs).toBeGreaterThanOrEqual(1500);
        expect(c.retryAfterMs).toBeLessThanOrEqual(2000);
      }
      const bare = classify({ ...d.rateLimited({ rejection: rejection(kind), hint: false }, ctx, NOW) }, { now: NOW, provider: d.provider });
      expect(bare.kind).toBe('rate_limited');
    }
  });
});
