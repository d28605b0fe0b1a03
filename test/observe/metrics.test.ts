import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS, SluiceMetrics, startMetricsServer, type MetricsServer } from '../../src/observe/metrics.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('SluiceMetrics', () => {
  it('counts attempts apart from items, 429s, retries, cooldowns, tokens, per-key latency; served over loopback', async () => {
    const m = new SluiceMetrics();
    const at = 0;
    m.observe({ type: 'attempt_start', at, id: 'a', attempt: 1, key: 'KEY_1' });
    m.observe({ type: 'attempt_end', at, id: 'a', attempt: 1, key: 'KEY_1', ok: false, kind: 'rate_limited', status: 429, latencyMs: 30 });
    m.observe({ type: 'retry', at, id: 'a', attempt: 1, kind: 'rate_limited', delayMs: 0 });
    m.observe({ type: 'key_state', at, key: 'KEY_1', state: 'cooling', until: 1000 });
    m.observe({ type: 'attempt_start', at, id: 'a', attempt: 2, key: 'KEY_2' });
    m.observe({ type: 'attempt_start', at, id: 'b', attempt: 1, key: 'KEY_2' });
    m.observe({ type: 'attempt_end', at, id: 'a', attempt: 2, key: 'KEY_2', ok: true, latencyMs: 120 });
    m.recordUsage('KEY_2', { inputTokens: 12, outputTokens: 30 });
    m.observe({ type: 'item', at, id: 'a', state: 'succeeded' });
    m.observe({ type: 'item', at, id: 'c', state: 'pending' });
    m.observe({ type: 'concurrency', at, limit: 7 });
    m.observe({ type: 'quota_alert', at, key: 'KEY_2', alertLevel: 0.6, usage: 0.62 });
    m.observe({ type: 'pause', at, reason: 'quota' });
    server = await startMetricsServer(m, 0);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const body = await res.text();
    for (const line of [
      'sluice_attempts_total{key="KEY_1",outcome="rate_limited"} 1',
      'sluice_attempts_total{key="KEY_2",outcome="success"} 1',
      'sluice_items_total{outcome="succeeded"} 1',
      'sluice_items_total{outcome="failed"} 0',
      'sluice_rate_limited_total{key="KEY_1"} 1',
      'sluice_retries_total{kind="rate_limited"} 1',
      'sluice_key_cooldowns_total{key="KEY_1",state="cooling"} 1',
      'sluice_key_state{key="KEY_1",state="cooling"} 1',
      'sluice_tokens_total{key="KEY_2",type="input"} 12',
      'sluice_tokens_total{key="KEY_2",type="output"} 30',
      'sluice_attempt_duration_seconds_count{key="KEY_2",outcome="success"} 1',
      'sluice_attempt_duration_seconds_bucket{le="0.05",key="KEY_1",outcome="rate_limited"} 1',
      'sluice_attempts_in_flight 1',
      'sluice_concurrency_limit 7',
      'sluice_quota_alerts_total{key="KEY_2",alert_level="0.6"} 1',
      'sluice_quota_usage_ratio{key="KEY_2"} 0.62',
      'sluice_paused 1',
      'sluice_items_pending 0',
    ]) {
      expect(body).toContain(line);
    }
    expect(body).not.toContain('sluice_requests_total');
    expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('two instances do not share a registry', async () => {
    const a = new SluiceMetrics();
    const b = new SluiceMetrics();
    a.observe({ type: 'concurrency', at: 0, limit: 3 });
    expect(await b.text()).toContain('sluice_concurrency_limit 0');
    await expect(startMetricsServer(a, 70000)).rejects.toThrow(/port must be/);
  });

  it('every declared key has its series from the start, at 0', async () => {
    const m = new SluiceMetrics();
    m.setKeys(['k1', 'k2']);
    const text = await m.text();
    for (const key of ['k1', 'k2']) {
      expect(text).toContain(`sluice_key_state{key="${key}",state="active"} 1`);
      expect(text).toContain(`sluice_key_state{key="${key}",state="paused"} 0`);
      expect(text).toContain(`sluice_attempts_total{key="${key}",outcome="success"} 0`);
      expect(text).toContain(`sluice_attempts_total{key="${key}",outcome="server_error"} 0`);
      expect(text).toContain(`sluice_rate_limited_total{key="${key}"} 0`);
      expect(text).toContain(`sluice_key_cooldowns_total{key="${key}",state="disabled"} 0`);
      expect(text).toContain(`sluice_tokens_total{key="${key}",type="output"} 0`);
      expect(text).toContain(`sluice_quota_usage_ratio{key="${key}"} 0`);
      expect(text).toContain(`sluice_attempt_duration_seconds_count{key="${key}",outcome="success"} 0`);
    }
  });

  it('pending, queued and quota use are read from the sampler at each scrape', async () => {
    const m = new SluiceMetrics();
    m.setKeys(['k1']);
    let state = { itemsPending: 40, itemsQueued: 5, quotaUsage: { k1: 0.25 } };
    m.setSampler(() => state);
    const first = await m.text();
    expect(first).toContain('sluice_items_pending 40');
    expect(first).toContain('sluice_items_queued 5');
    expect(first).toContain('sluice_quota_usage_ratio{key="k1"} 0.25');
    state = { itemsPending: 0, itemsQueued: 1, quotaUsage: { k1: 0.5 } };
    const second = await m.text();
    expect(second).toContain('sluice_items_pending 0');
    expect(second).toContain('sluice_items_queued 1');
    expect(second).toContain('sluice_quota_usage_ratio{key="k1"} 0.5');
  });

  it('an asynchronous sampler (a Redis worker asks the fleet) is asked once per scrape; when it fails the gauges keep their values', async () => {
    const m = new SluiceMetrics();
    m.setKeys(['k1']);
    let calls = 0;
    let fail = false;
    m.setSampler(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('redis away');
      return { itemsPending: 12 * calls, itemsQueued: 3, quotaUsage: { k1: 0.75 } };
    });
    const first = await m.text();
    expect(calls).toBe(1);
    expect(first).toContain('sluice_items_pending 12');
    expect(first).toContain('sluice_items_queued 3');
    expect(first).toContain('sluice_quota_usage_ratio{key="k1"} 0.75');
    expect(await m.text()).toContain('sluice_items_pending 24');
    expect(calls).toBe(2);
    fail = true;
    const stale = await m.text();
    expect(calls).toBe(3);
    expect(stale).toContain('sluice_items_pending 24');
    expect(stale).toContain('sluice_items_queued 3');
  });

  it('exposes exactly METRICS, which is docs/MONITORING.md\'s table (name, type, labels, meaning)', async () => {
    const text = await new SluiceMetrics().text();
    const exposed = [...text.matchAll(/^# TYPE (\S+) (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(exposed).toEqual(Object.values(METRICS).map((s) => `sluice_${s.name} ${s.type}`).sort());
    for (const s of Object.values(METRICS)) expect(text).toContain(`# HELP sluice_${s.name} ${s.help}`);
    const page = readFileSync(new URL('../../docs/MONITORING.md', import.meta.url), 'utf8');
    const rows = page
      .split('\n')
      .filter((l) => l.startsWith('| `sluice_'))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    expect(rows).toEqual(
      Object.values(METRICS).map((s) => [`\`sluice_${s.name}\``, s.type, s.labels.join(', '), s.help]),
    );
  });
});
