import { afterEach, describe, expect, it } from 'vitest';
import { SluiceMetrics, startMetricsServer, type MetricsServer } from '../../src/observe/metrics.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('SluiceMetrics', () => {
  it('serves requests, outcomes, 429s, cooldowns, concurrency, quota and latency over loopback', async () => {
    const m = new SluiceMetrics();
    const at = 0;
    m.observe({ type: 'attempt_start', at, id: 'a', attempt: 1, key: 'KEY_1' });
    m.observe({ type: 'attempt_end', at, id: 'a', attempt: 1, key: 'KEY_1', ok: false, kind: 'rate_limited', status: 429, latencyMs: 30 });
    m.observe({ type: 'retry', at, id: 'a', attempt: 1, kind: 'rate_limited', delayMs: 0 });
    m.observe({ type: 'key_state', at, key: 'KEY_1', state: 'cooling', until: 1000 });
    m.observe({ type: 'attempt_start', at, id: 'a', attempt: 2, key: 'KEY_2' });
    m.observe({ type: 'attempt_end', at, id: 'a', attempt: 2, key: 'KEY_2', ok: true, latencyMs: 120 });
    m.observe({ type: 'item', at, id: 'a', state: 'succeeded' });
    m.observe({ type: 'concurrency', at, limit: 7 });
    m.observe({ type: 'quota', at, key: 'KEY_2', usage: 0.42 });
    server = await startMetricsServer(m, 0);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('sluice_requests_total{key="KEY_1"} 1');
    expect(body).toContain('sluice_attempt_outcomes_total{outcome="rate_limited"} 1');
    expect(body).toContain('sluice_attempt_outcomes_total{outcome="success"} 1');
    expect(body).toContain('sluice_rate_limited_total{key="KEY_1"} 1');
    expect(body).toContain('sluice_retries_total{kind="rate_limited"} 1');
    expect(body).toContain('sluice_key_cooldowns_total{key="KEY_1",state="cooling"} 1');
    expect(body).toContain('sluice_key_state{key="KEY_1",state="cooling"} 1');
    expect(body).toContain('sluice_concurrency_limit 7');
    expect(body).toContain('sluice_quota_usage_ratio{key="KEY_2"} 0.42');
    expect(body).toContain('sluice_request_duration_seconds_count{outcome="success"} 1');
    expect(body).toContain('sluice_items_total{state="succeeded"} 1');
    expect(body).toContain('sluice_in_flight 0');
    expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('two instances do not share a registry', async () => {
    const a = new SluiceMetrics();
    const b = new SluiceMetrics();
    a.observe({ type: 'concurrency', at: 0, limit: 3 });
    expect(await b.text()).toContain('sluice_concurrency_limit 0');
    await expect(startMetricsServer(a, 70000)).rejects.toThrow(/port must be/);
  });

  it('shows every declared key in sluice_key_state from the start', async () => {
    const m = new SluiceMetrics();
    m.setKeys(['k1', 'k2']);
    const text = await m.text();
    expect(text).toContain('sluice_key_state{key="k1",state="active"} 1');
    expect(text).toContain('sluice_key_state{key="k2",state="active"} 1');
    expect(text).toContain('sluice_key_state{key="k2",state="paused"} 0');
  });
});
